/**
 * The STUN and TURN servers this relay hands its viewers at `/ice-servers.json`, so that viewers
 * behind NATs reach each other. TURN credentials are minted per request and expire (`--turn-ttl`),
 * in the TURN REST API scheme coturn checks with `use-auth-secret`: the username is
 * `<expiry in Unix seconds>:hivecast`, the password base64(HMAC-SHA1(secret, username)). The shared
 * secret never leaves the relay; a page only ever holds credentials that stop working.
 */
import { createHmac } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { ICE_SERVER_URL, InvalidOptionError } from '@hivecast/shared'
import type { IceServer, IceServersJson } from '@hivecast/shared'

export function assertIceServerUrl (url: string): string {
  if (!ICE_SERVER_URL.test(url)) throw new InvalidOptionError(`ICE server "${url.slice(0, 80)}" is not a STUN or TURN URL: write stun:host:port or turn:host:port?transport=udp (turns: for TLS)`)
  return url
}

const isTurn = (url: string): boolean => url.startsWith('turn')

/** A --turn-secret-file is needed as soon as one URL is a TURN server: TURN without credentials refuses everyone. */
export function assertTurnOptions (urls: readonly string[], secretFile: string | undefined): void {
  if (urls.some(isTurn) && secretFile === undefined) throw new InvalidOptionError('--ice-server names a TURN server but no --turn-secret-file gives its shared secret (coturn\'s static-auth-secret): add it, or list only stun: servers')
}

/** Reads the shared secret (the file's first line); errors say which file and what to put in it. */
export async function loadTurnSecret (file: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new InvalidOptionError(`cannot read --turn-secret-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const secret = text.split('\n', 1)[0]!.trim()
  if (secret.length < 16) throw new InvalidOptionError(`--turn-secret-file ${file} holds no secret of 16 characters or more on its first line: write the TURN server's static-auth-secret there`)
  return secret
}

export class IceServers {
  readonly #stun: string[]
  readonly #turn: string[]
  readonly #secret: string | undefined
  readonly #ttlMs: number

  constructor (urls: readonly string[], secret: string | undefined, ttlMs: number) {
    this.#stun = urls.filter(url => !isTurn(url))
    this.#turn = urls.filter(isTurn)
    this.#secret = secret
    this.#ttlMs = ttlMs
  }

  /** The document for one viewer, with TURN credentials valid until `now` + the TTL. */
  document (now = Date.now()): IceServersJson {
    const iceServers: IceServer[] = []
    if (this.#stun.length > 0) iceServers.push({ urls: this.#stun })
    if (this.#turn.length === 0 || this.#secret === undefined) return { iceServers, expiresAt: null }
    const expires = Math.floor((now + this.#ttlMs) / 1000)
    const username = `${expires}:hivecast`
    const credential = createHmac('sha1', this.#secret).update(username).digest('base64')
    iceServers.push({ urls: this.#turn, username, credential })
    return { iceServers, expiresAt: expires * 1000 }
  }
}
