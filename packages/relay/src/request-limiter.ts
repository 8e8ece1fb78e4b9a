/**
 * Per-IP request limit: a token bucket per client address, so one greedy or broken client cannot starve
 * the rest. Over the limit the gateway answers 429 with Retry-After instead of doing the work.
 */

interface Bucket {
  tokens: number
  updatedAt: number
}

/** Buckets idle this long are full again and can be forgotten. */
const IDLE_MS = 60_000
/** Most addresses remembered; past it the longest-idle bucket is forgotten (it refills as a new one). */
const MAX_ADDRESSES = 100_000

export class RequestLimiter {
  readonly #perSecond: number
  readonly #burst: number
  /** Ordered by last request, oldest first, so forgetting idle buckets never scans the active ones. */
  readonly #buckets = new Map<string, Bucket>()

  /** `perSecond` 0 turns the limit off. The burst allows a player's playlist + segments at once. */
  constructor (perSecond: number, burst = Math.max(1, perSecond * 2)) {
    this.#perSecond = perSecond
    this.#burst = burst
  }

  /** Addresses remembered right now. */
  get size (): number {
    return this.#buckets.size
  }

  /** 0 when `address` may make a request now (and takes a token), else seconds until it may. O(1) amortised. */
  take (address: string, now = Date.now()): number {
    if (this.#perSecond <= 0) return 0
    const bucket = this.#buckets.get(address) ?? { tokens: this.#burst, updatedAt: now }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedAt) / 1000 * this.#perSecond)
    bucket.updatedAt = now
    // Re-inserted to move it to the end: the map stays in last-request order.
    this.#buckets.delete(address)
    this.#buckets.set(address, bucket)
    this.#forgetIdle(now)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perSecond))
  }

  /** Drops buckets from the front while they are idle (or the table is over its cap): each is dropped once. */
  #forgetIdle (now: number): void {
    for (const [address, bucket] of this.#buckets) {
      if (now - bucket.updatedAt <= IDLE_MS && this.#buckets.size <= MAX_ADDRESSES) return
      this.#buckets.delete(address)
    }
  }
}
