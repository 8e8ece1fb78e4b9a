/**
 * A small levelled, namespaced logger: `logger('relay:room-follower').warn('...')`. The level comes
 * from the option, else `LOG_LEVEL` (error|warn|info|debug, default info); the format from the option,
 * else `LOG_FORMAT` (text|json, default text). Text lines at info are the message alone, as the
 * services have always printed them (operators, tests and devnet read them); other levels carry their
 * level and name in front. JSON lines carry any fields plus time, level, name and msg (which a field
 * of the same name cannot override). Browser-safe.
 */
import { InvalidOptionError } from './errors.ts'

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]
export const LOG_FORMATS = ['text', 'json'] as const
export type LogFormat = typeof LOG_FORMATS[number]

/** Extra facts for JSON lines; text lines show only the message. */
export type LogFields = Record<string, string | number | boolean | null | undefined>

/** One log method; a plain function, so it can be passed where a `(line: string) => void` is expected. */
export type LogMethod = (message: string, fields?: LogFields) => void

export interface Logger {
  readonly name: string
  readonly level: LogLevel
  error: LogMethod
  warn: LogMethod
  info: LogMethod
  debug: LogMethod
  /** True when lines at `level` are written: skip building costly debug text otherwise. */
  enabled: (level: LogLevel) => boolean
  /** A logger for a part of this one: `logger('origin').child('rtmp-gate')` is named `origin:rtmp-gate`. */
  child: (name: string) => Logger
}

export interface LoggerOptions {
  /** Lowest level written. Default: `LOG_LEVEL`, else info. */
  level?: LogLevel
  /** Default: `LOG_FORMAT`, else text. */
  format?: LogFormat
  /**
   * Where finished lines go. Default: info and debug to stdout (console.log), warn and error to
   * stderr (console.error).
   */
  write?: (line: string, level: LogLevel) => void
  /** Time source for JSON lines (tests). */
  now?: () => Date
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

/** Checks a `--log-level` or `LOG_LEVEL` value; throws saying which values work. */
export function parseLogLevel (value: string, source = 'the log level'): LogLevel {
  const level = LOG_LEVELS.find(l => l === value.trim().toLowerCase())
  if (level === undefined) throw new InvalidOptionError(`${source} "${value}" is not a log level: use one of ${LOG_LEVELS.join(', ')}`)
  return level
}

/** Checks a `LOG_FORMAT` value; throws saying which values work. */
export function parseLogFormat (value: string, source = 'the log format'): LogFormat {
  const format = LOG_FORMATS.find(f => f === value.trim().toLowerCase())
  if (format === undefined) throw new InvalidOptionError(`${source} "${value}" is not a log format: use one of ${LOG_FORMATS.join(', ')}`)
  return format
}

function environment (name: string): string | undefined {
  const value = globalThis.process?.env?.[name]
  return value === undefined || value === '' ? undefined : value
}

function defaultWrite (line: string, level: LogLevel): void {
  if (level === 'error' || level === 'warn') console.error(line)
  else console.log(line)
}

/**
 * A logger named `name` (`component` or `service:component`). Throws InvalidOptionError when
 * LOG_LEVEL or LOG_FORMAT hold a value it does not know, so a typo shows at start, not as silence.
 */
export function logger (name: string, options: LoggerOptions = {}): Logger {
  const fromEnvironment = environment('LOG_LEVEL')
  const level = options.level ?? (fromEnvironment === undefined ? 'info' : parseLogLevel(fromEnvironment, 'LOG_LEVEL'))
  const formatFromEnvironment = environment('LOG_FORMAT')
  const format = options.format ?? (formatFromEnvironment === undefined ? 'text' : parseLogFormat(formatFromEnvironment, 'LOG_FORMAT'))
  return build(name, { level, format, write: options.write ?? defaultWrite, now: options.now ?? (() => new Date()) })
}

function build (name: string, settings: Required<LoggerOptions>): Logger {
  const enabled = (at: LogLevel): boolean => RANK[at] <= RANK[settings.level]
  const method = (at: LogLevel): LogMethod => (message, fields) => {
    if (!enabled(at)) return
    settings.write(format(at, message, fields), at)
  }
  const format = (at: LogLevel, message: string, fields: LogFields | undefined): string => {
    if (settings.format === 'json') return JSON.stringify({ ...fields, time: settings.now().toISOString(), level: at, name, msg: message })
    return at === 'info' ? message : `${at} ${name}: ${message}`
  }
  return {
    name,
    level: settings.level,
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    enabled,
    child: part => build(`${name}:${part}`, settings)
  }
}
