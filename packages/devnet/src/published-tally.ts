/**
 * The stream's own bytes, as the origin reports what it published (`/status` `recent`: its last 60
 * segments). A run longer than that list asks again every so often; segments are kept by rendition
 * and sequence number, so asking twice counts nothing twice.
 */
interface OriginStatus { recent: Array<{ rendition: string, seq: number, size: number, publishedAt: number }> }

export class PublishedTally {
  readonly #originUrl: string
  readonly #segments = new Map<string, { size: number, publishedAt: number }>()

  /** `originUrl`: the origin's HTTP base, e.g. `http://127.0.0.1:8090`. */
  constructor (originUrl: string) {
    this.#originUrl = originUrl.replace(/\/$/, '')
  }

  async sample (): Promise<void> {
    const status = await (await fetch(`${this.#originUrl}/status`, { signal: AbortSignal.timeout(5_000) })).json() as OriginStatus
    for (const s of status.recent) this.#segments.set(`${s.rendition}/${s.seq}`, { size: s.size, publishedAt: s.publishedAt })
  }

  /** Bytes of the segments published in [from, to) (ms since the epoch), of those sampled. */
  bytesBetween (from: number, to: number): number {
    let bytes = 0
    for (const s of this.#segments.values()) if (s.publishedAt >= from && s.publishedAt < to) bytes += s.size
    return bytes
  }
}
