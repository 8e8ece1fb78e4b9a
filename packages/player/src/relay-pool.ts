/**
 * The relays a player may fetch from, in order of preference: the fastest first, by a moving average
 * of how long each took to deliver a verified segment. A relay not measured yet is tried before the
 * measured ones, so every relay gets measured once; among equals the relay that served the playlist
 * goes first (it listed those segments as held, so it most likely has them), then the page's order. A relay
 * that just failed (error, timeout, wrong bytes) drops to the back for a while so every segment does
 * not pay for the same dead relay's timeout again.
 */

/** How long a relay that failed (error, timeout) stays at the back of the queue. */
const FAILURE_COOL_DOWN_MS = 15_000
/** How long a relay that sent bytes not matching their CID stays there: it is broken or hostile. */
const REJECTION_COOL_DOWN_MS = 300_000
/** Weight of the newest fetch time in a relay's moving average. */
const SPEED_WEIGHT = 0.3

export interface RelayPoolInit {
  relays: string[]
  /** Clock, for tests; defaults to `performance.now()`. */
  now?: () => number
}

export class RelayPool {
  /** Normalized base URLs (`http://host:port` or `https://host/path`), no trailing slash. */
  readonly relays: readonly string[]
  /** Entries of the input list that were not http(s) URLs, ignored. */
  readonly invalid: number
  #preferred: string | undefined
  readonly #failedUntil = new Map<string, number>()
  /** Moving average of ms to deliver a verified segment, per relay. */
  readonly #fetchMs = new Map<string, number>()
  readonly #now: () => number

  constructor (init: RelayPoolInit) {
    const relays: string[] = []
    let invalid = 0
    for (const value of init.relays) {
      const base = normalizeRelayUrl(value)
      if (base === undefined) invalid++
      else if (!relays.includes(base)) relays.push(base)
    }
    this.relays = relays
    this.invalid = invalid
    this.#now = init.now ?? (() => performance.now())
  }

  /** The relay whose playlists are being played, once one has answered. */
  get preferred (): string | undefined {
    return this.#preferred
  }

  /** Relays to try, best first. Always every relay: a cooling-down one is still better than none. */
  order (): string[] {
    const now = this.#now()
    const ranked = this.#preferred === undefined
      ? [...this.relays]
      : [this.#preferred, ...this.relays.filter(relay => relay !== this.#preferred)]
    const until = (relay: string): number => this.#failedUntil.get(relay) ?? 0
    const speed = (relay: string): number => this.#fetchMs.get(relay) ?? 0
    // A stable sort: equal speeds (unmeasured ones) keep the preferred-then-listed order.
    const healthy = ranked.filter(relay => until(relay) <= now).sort((a, b) => speed(a) - speed(b))
    // The relay that comes back soonest (failed, not rejected; or failed longest ago) goes first.
    const cooling = ranked.filter(relay => until(relay) > now).sort((a, b) => until(a) - until(b))
    return [...healthy, ...cooling]
  }

  /** `relay`'s signed window gave the playlist: segments are asked there first from now on. */
  servedPlaylist (relay: string): void {
    this.#preferred ??= relay
  }

  /** `relay` delivered a verified segment in `ms`. */
  delivered (relay: string, ms: number): void {
    const previous = this.#fetchMs.get(relay)
    this.#fetchMs.set(relay, previous === undefined ? ms : previous + SPEED_WEIGHT * (ms - previous))
  }

  /** `relay` did not deliver: an error or a timeout. */
  failed (relay: string): void {
    this.#demote(relay, FAILURE_COOL_DOWN_MS)
  }

  /** `relay` delivered bytes that do not match their CID. */
  rejected (relay: string): void {
    this.#demote(relay, REJECTION_COOL_DOWN_MS)
  }

  #demote (relay: string, ms: number): void {
    this.#failedUntil.set(relay, Math.max(this.#failedUntil.get(relay) ?? 0, this.#now() + ms))
    // The preferred relay lost its place; the next playlist that loads names the new one.
    if (relay === this.#preferred) this.#preferred = undefined
  }

  /** The trustless-gateway URL of a raw block on a relay. */
  blockUrl (relay: string, cid: string): string {
    return `${relay}/ipfs/${cid}?format=raw`
  }
}

/** `http(s)://host[:port][/path]` without query, fragment or trailing slash; undefined if not one. */
export function normalizeRelayUrl (value: string): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}
