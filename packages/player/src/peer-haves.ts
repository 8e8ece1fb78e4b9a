/**
 * What other viewers say they hold (`have` messages), bounded: a peer's word is kept for a while, for
 * at most MAX_HAVES_PER_PEER CIDs (its newest), for at most MAX_HAVE_PEERS peers (the most recently
 * heard), so a viewer flooding claims costs a fixed amount of memory. A peer that stalls (a block
 * request that times out, fails or comes back empty after its claim) MAX_STALLS times in a row is
 * benched: not believed for BENCH_MS, then heard again (a viewer on a busy machine or a slow link is
 * slow, not hostile); one delivery clears its count. A peer that sent bytes not matching their CID is
 * distrusted for good.
 */

/** CIDs kept per peer: 30 s of 1 s segments in several renditions, with room to spare. */
export const MAX_HAVES_PER_PEER = 256
/** Peers whose claims are kept; a viewer connects to at most a handful. */
export const MAX_HAVE_PEERS = 32
/** Consecutive stalls after which a peer's claims are dropped and no more are taken. */
export const MAX_STALLS = 3
/** How long a peer that stalled MAX_STALLS times in a row is not asked. */
export const BENCH_MS = 20_000

export class PeerHaves {
  readonly #holdMs: number
  /** peer -> cid -> when it said it has it, oldest claim first. */
  readonly #claims = new Map<string, Map<string, number>>()
  readonly #stalls = new Map<string, number>()
  readonly #distrusted = new Set<string>()
  /** peer -> until when its claims are ignored. */
  readonly #benched = new Map<string, number>()

  constructor (holdMs: number) {
    this.#holdMs = holdMs
  }

  /** Takes a peer's claims; ignored for a distrusted or benched peer. */
  add (peer: string, cids: readonly string[], now: number): void {
    if (this.#distrusted.has(peer) || this.#isBenched(peer, now)) return
    let claims = this.#claims.get(peer)
    if (claims === undefined) {
      claims = new Map()
      this.#claims.set(peer, claims)
    } else {
      // Map order is recency order: the peer heard last goes to the end.
      this.#claims.delete(peer)
      this.#claims.set(peer, claims)
    }
    for (const cid of cids) {
      claims.delete(cid)
      claims.set(cid, now)
    }
    for (const cid of claims.keys()) {
      if (claims.size <= MAX_HAVES_PER_PEER) break
      claims.delete(cid)
    }
    for (const other of this.#claims.keys()) {
      if (this.#claims.size <= MAX_HAVE_PEERS) break
      this.#claims.delete(other)
    }
  }

  /** Peers that claimed `cid` within the hold time. */
  holders (cid: string, now: number): string[] {
    const holders: string[] = []
    for (const [peer, claims] of this.#claims) {
      const at = claims.get(cid)
      if (at !== undefined && now - at < this.#holdMs) holders.push(peer)
    }
    return holders
  }

  /** Drops one claim (the peer answered that it does not hold it) or all of a peer's claims. */
  forget (peer: string, cid?: string): void {
    if (cid === undefined) this.#claims.delete(peer)
    else this.#claims.get(peer)?.delete(cid)
  }

  /** Counts a stall; true when it benched the peer (its claims are dropped then). */
  stalled (peer: string, now: number): boolean {
    if (this.#distrusted.has(peer) || this.#isBenched(peer, now)) return false
    const stalls = (this.#stalls.get(peer) ?? 0) + 1
    this.#stalls.set(peer, stalls)
    if (stalls < MAX_STALLS) return false
    this.#benched.set(peer, now + BENCH_MS)
    this.#claims.delete(peer)
    this.#stalls.delete(peer)
    return true
  }

  delivered (peer: string): void {
    this.#stalls.delete(peer)
  }

  /** Takes no more claims from `peer`, ever (it sent bytes that do not match their CID). */
  distrust (peer: string): void {
    this.#distrusted.add(peer)
    this.#claims.delete(peer)
    this.#stalls.delete(peer)
  }

  /** Forgets claims older than the hold time and benches that ended. */
  sweep (now: number): void {
    for (const [peer, until] of this.#benched) if (until <= now) this.#benched.delete(peer)
    for (const [peer, claims] of this.#claims) {
      for (const [cid, at] of claims) if (now - at >= this.#holdMs) claims.delete(cid)
      if (claims.size === 0) this.#claims.delete(peer)
    }
  }

  #isBenched (peer: string, now: number): boolean {
    const until = this.#benched.get(peer)
    return until !== undefined && until > now
  }

  /** Claims kept in all, for tests and the stats panel. */
  size (): number {
    let size = 0
    for (const claims of this.#claims.values()) size += claims.size
    return size
  }
}
