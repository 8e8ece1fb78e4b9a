/**
 * The viewer tokens this relay saw lately, per room: a player sends its per-session token (shared
 * viewer-token.ts) with every `window.json` request. Only the token's hash is kept, for `--viewer-ttl`
 * after it was last seen. One client address can hold at most `--viewers-per-address` live tokens
 * (a household or office NAT holds a few viewers; a script minting tokens gets no further), and all
 * rooms together at most MAX_TRACKED, so memory stays bounded. Refusals are counted by reason.
 */
import { randomBytes } from 'node:crypto'
import { isViewerToken } from '@hivecast/shared'
import { tokenHash } from './viewer-sketch.ts'

/** Why a token was not counted; shown in /status and /metrics. */
export type ViewerTokenRefusal = 'malformed' | 'over-address-cap' | 'full'

export interface ViewerTokensOptions {
  /** A token not seen for this long no longer counts. */
  ttlMs: number
  /** Live tokens one client address may hold. */
  perAddress: number
  /** Live (room, token) pairs at most, all rooms together. */
  maxTracked?: number
}

/** 100,000 pairs of a 16-digit hash and a time: a few tens of MB at worst. */
export const MAX_TRACKED = 100_000

export class ViewerTokens {
  readonly #options: Required<ViewerTokensOptions>
  /** room -> token hash -> last seen (ms). */
  readonly #rooms = new Map<string, Map<string, number>>()
  /** client address -> token hash -> last seen (ms). */
  readonly #addresses = new Map<string, Map<string, number>>()
  readonly #refused = new Map<ViewerTokenRefusal, number>()
  /** Stands for a client without a token (VLC, ffmpeg): its address, hashed with a secret of this run. */
  readonly #salt = randomBytes(16).toString('hex')
  #tracked = 0

  constructor (options: ViewerTokensOptions) {
    this.#options = { maxTracked: MAX_TRACKED, ...options }
  }

  /** A `window.json` request's token; absent (null) is no viewer, malformed is counted and ignored. */
  seeToken (room: string, token: string | null, address: string, now = Date.now()): void {
    if (token === null) return
    if (!isViewerToken(token)) {
      this.#refuse('malformed')
      return
    }
    this.#see(room, tokenHash(token), address, now)
  }

  /**
   * A client that plays the room's HLS playlists (any HLS player; the Hivecast player reads window.json
   * instead) counts as one viewer per address on this relay: it sends no token to match across relays.
   */
  seeAddress (room: string, address: string, now = Date.now()): void {
    this.#see(room, tokenHash(`address/${this.#salt}/${address}`), address, now)
  }

  /** The hashes of the room's live tokens. */
  hashes (room: string, now = Date.now()): string[] {
    const tokens = this.#rooms.get(room)
    if (tokens === undefined) return []
    this.#expire(tokens, now, true)
    return [...tokens.keys()]
  }

  refused (): Partial<Record<ViewerTokenRefusal, number>> {
    return Object.fromEntries(this.#refused)
  }

  /** Forgets every expired token and every address left without one. */
  sweep (now = Date.now()): void {
    for (const tokens of this.#rooms.values()) this.#expire(tokens, now, true)
    for (const [address, tokens] of this.#addresses) {
      this.#expire(tokens, now, false)
      if (tokens.size === 0) this.#addresses.delete(address)
    }
  }

  #see (room: string, hash: string, address: string, now: number): void {
    let byAddress = this.#addresses.get(address)
    if (byAddress !== undefined) this.#expire(byAddress, now, false)
    if (byAddress?.has(hash) !== true && (byAddress?.size ?? 0) >= this.#options.perAddress) {
      this.#refuse('over-address-cap')
      return
    }
    let tokens = this.#rooms.get(room)
    if (tokens?.has(hash) !== true && this.#tracked >= this.#options.maxTracked) {
      this.sweep(now)
      if (this.#tracked >= this.#options.maxTracked) {
        this.#refuse('full')
        return
      }
    }
    if (tokens === undefined) this.#rooms.set(room, tokens = new Map())
    if (!tokens.has(hash)) this.#tracked++
    tokens.set(hash, now)
    if (byAddress === undefined) this.#addresses.set(address, byAddress = new Map())
    byAddress.set(hash, now)
  }

  #expire (tokens: Map<string, number>, now: number, tracked: boolean): void {
    for (const [hash, at] of tokens) {
      if (now - at < this.#options.ttlMs) continue
      tokens.delete(hash)
      if (tracked) this.#tracked--
    }
  }

  #refuse (reason: ViewerTokenRefusal): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1)
  }
}
