/**
 * Upload bandwidth limit: one token bucket shared by every HTTP response body, so the relay never sends
 * more than the volunteer's `--max-upload` allows, whatever the number of clients. Responses take their
 * turn chunk by chunk, first come first served, so one large body does not starve the others.
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** Bytes sent per turn: small enough to interleave clients, large enough to stay cheap. */
export const THROTTLE_CHUNK_BYTES = 16 * 1024

export class UploadThrottle {
  readonly bytesPerSecond: number
  readonly #burst: number
  #tokens: number
  #updatedAt = performance.now()
  #queue: Promise<void> = Promise.resolve()

  constructor (bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new Error(`upload limit must be more than 0 bytes per second, not ${bytesPerSecond}`)
    this.bytesPerSecond = bytesPerSecond
    // A tenth of a second of traffic, and at least one chunk, may go at once.
    this.#burst = Math.max(THROTTLE_CHUNK_BYTES, bytesPerSecond / 10)
    this.#tokens = this.#burst
  }

  /** Resolves when `bytes` may be sent. Callers are served in the order they asked. */
  async take (bytes: number): Promise<void> {
    const turn = this.#queue.then(async () => { await this.#wait(bytes) })
    this.#queue = turn
    await turn
  }

  async #wait (bytes: number): Promise<void> {
    const now = performance.now()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) / 1000 * this.bytesPerSecond)
    this.#updatedAt = now
    // Go into debt and wait it off: the next caller waits behind it, so the long-run rate is exact.
    this.#tokens -= bytes
    if (this.#tokens < 0) await sleep(-this.#tokens / this.bytesPerSecond * 1000)
  }
}
