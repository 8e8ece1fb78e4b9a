/**
 * Errors with codes, as helia's errors.ts: one class per kind of failure, each with a stable `code`
 * that callers branch on and metrics label by, and a message that says what is wrong and what to do.
 * The message is for people; the code is for programs.
 */

/** Every code a HivecastError carries. Add a code here (and a class below) for a new kind of failure. */
export type HivecastErrorCode =
  /** A `host:port` that does not parse. */
  | 'INVALID_ADDRESS'
  /** A room slug that is not 1-63 of a-z 0-9 -. */
  | 'INVALID_ROOM'
  /** A rendition name that is not 1-32 of a-z 0-9 _ -. */
  | 'INVALID_RENDITION'
  /** An option value out of range or of the wrong form (command line or API). */
  | 'INVALID_OPTION'
  /** A config file that does not parse or has a bad field. */
  | 'INVALID_CONFIG'
  /** A stream input descriptor or `--input` URL that cannot be used. */
  | 'INVALID_INPUT'
  /** A message or document from the network that fails its schema. */
  | 'INVALID_MESSAGE'
  /** A socket that cannot be bound (in use, no permission, no such address). */
  | 'LISTEN_FAILED'
  /** A file or program the service needs and cannot read or find. */
  | 'MISSING_RESOURCE'
  /** A service that did not become ready in time, or exited first. */
  | 'NOT_READY'
  /** Content whose recording consent was withdrawn (a signed `withdrawal`): never pinned or served again. */
  | 'WITHDRAWN_CONTENT'
  /** The network lab could not build its network (not root, or an `ip`/`nft`/`tc` command failed). */
  | 'NETWORK_SETUP'

export interface HivecastErrorOptions {
  /** The error this one explains, kept for logs and debuggers. */
  cause?: unknown
}

/** The base of every error Hivecast throws on purpose. */
export class HivecastError extends Error {
  static override name = 'HivecastError'
  override name = 'HivecastError'
  readonly code: HivecastErrorCode

  constructor (code: HivecastErrorCode, message: string, options: HivecastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

export class InvalidAddressError extends HivecastError {
  static override name = 'InvalidAddressError'
  override name = 'InvalidAddressError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('INVALID_ADDRESS', message, options)
  }
}

export class InvalidRoomError extends HivecastError {
  static override name = 'InvalidRoomError'
  override name = 'InvalidRoomError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('INVALID_ROOM', message, options)
  }
}

export class InvalidRenditionError extends HivecastError {
  static override name = 'InvalidRenditionError'
  override name = 'InvalidRenditionError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('INVALID_RENDITION', message, options)
  }
}

export class InvalidOptionError extends HivecastError {
  static override name = 'InvalidOptionError'
  override name = 'InvalidOptionError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('INVALID_OPTION', message, options)
  }
}

export class InvalidConfigError extends HivecastError {
  static override name = 'InvalidConfigError'
  override name = 'InvalidConfigError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('INVALID_CONFIG', message, options)
  }
}

export class InvalidInputError extends HivecastError {
  static override name = 'InvalidInputError'
  override name = 'InvalidInputError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('INVALID_INPUT', message, options)
  }
}

export class InvalidMessageError extends HivecastError {
  static override name = 'InvalidMessageError'
  override name = 'InvalidMessageError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('INVALID_MESSAGE', message, options)
  }
}

export class ListenError extends HivecastError {
  static override name = 'ListenError'
  override name = 'ListenError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('LISTEN_FAILED', message, options)
  }
}

export class MissingResourceError extends HivecastError {
  static override name = 'MissingResourceError'
  override name = 'MissingResourceError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('MISSING_RESOURCE', message, options)
  }
}

export class NotReadyError extends HivecastError {
  static override name = 'NotReadyError'
  override name = 'NotReadyError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('NOT_READY', message, options)
  }
}

/** True for a HivecastError, and when `code` is given, one with that code. */
export class WithdrawnContentError extends HivecastError {
  static override name = 'WithdrawnContentError'
  override name = 'WithdrawnContentError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('WITHDRAWN_CONTENT', message, options)
  }
}

export function isHivecastError (err: unknown, code?: HivecastErrorCode): err is HivecastError {
  return err instanceof HivecastError && (code === undefined || err.code === code)
}

/** A code for metric labels and logs, from a small, bounded set. */
export type ErrorLabel = HivecastErrorCode | 'ABORTED' | 'TIMEOUT' | `E${string}` | 'UNKNOWN'

/**
 * The code of any thrown value, for a metric label: a HivecastError's code, ABORTED or TIMEOUT for
 * aborted signals, Node's errno code (ECONNREFUSED, ENOENT, ...), else UNKNOWN. Never a message, so
 * label sets stay small.
 */
export function errorCode (err: unknown): ErrorLabel {
  if (err instanceof HivecastError) return err.code
  if (typeof err !== 'object' || err === null) return 'UNKNOWN'
  const { name, code } = err as { name?: unknown, code?: unknown }
  if (name === 'TimeoutError') return 'TIMEOUT'
  if (name === 'AbortError') return 'ABORTED'
  if (typeof code === 'string' && /^E[A-Z0-9_]{1,30}$/.test(code)) return code as `E${string}`
  return 'UNKNOWN'
}

/** The message of any thrown value, for a log line. */
export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return typeof err === 'string' ? err : String(err)
}

export class NetworkSetupError extends HivecastError {
  static override name = 'NetworkSetupError'
  override name = 'NetworkSetupError'

  constructor (message: string, options?: HivecastErrorOptions) {
    super('NETWORK_SETUP', message, options)
  }
}
