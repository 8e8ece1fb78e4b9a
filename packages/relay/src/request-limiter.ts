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
/** Sweep idle buckets when the table grows past this many addresses. */
const SWEEP_AT = 10_000

export class RequestLimiter {
  readonly #perSecond: number
  readonly #burst: number
  readonly #buckets = new Map<string, Bucket>()

  /** `perSecond` 0 turns the limit off. The burst allows a player's playlist + segments at once. */
  constructor (perSecond: number, burst = Math.max(1, perSecond * 2)) {
    this.#perSecond = perSecond
    this.#burst = burst
  }

  /** 0 when `address` may make a request now (and takes a token), else seconds until it may. */
  take (address: string, now = Date.now()): number {
    if (this.#perSecond <= 0) return 0
    if (this.#buckets.size > SWEEP_AT) this.#sweep(now)
    const bucket = this.#buckets.get(address) ?? { tokens: this.#burst, updatedAt: now }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedAt) / 1000 * this.#perSecond)
    bucket.updatedAt = now
    this.#buckets.set(address, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perSecond))
  }

  #sweep (now: number): void {
    for (const [address, bucket] of this.#buckets) if (now - bucket.updatedAt > IDLE_MS) this.#buckets.delete(address)
  }
}
