/**
 * The stream's own bytes, as the origin reports what it published (`/status` `recent`: its last 60
 * segments). A run longer than that list asks again every so often; segments are kept by rendition
 * and sequence number, so asking twice counts nothing twice.
 */
interface PublishedSegment { rendition: string, seq: number, size: number, duration: number, pdt: number, publishedAt: number }
interface OriginStatus { recent: PublishedSegment[] }

export class PublishedTally {
  readonly #originUrl: string
  readonly #segments = new Map<string, PublishedSegment>()

  /** `originUrl`: the origin's HTTP base, e.g. `http://127.0.0.1:8090`. */
  constructor (originUrl: string) {
    this.#originUrl = originUrl.replace(/\/$/, '')
  }

  async sample (): Promise<void> {
    const status = await (await fetch(`${this.#originUrl}/status`, { signal: AbortSignal.timeout(5_000) })).json() as OriginStatus
    for (const s of status.recent) this.#segments.set(`${s.rendition}/${s.seq}`, s)
  }

  /**
   * For each segment published in [from, to): announced minus the program date time of its end, ms.
   * The origin's own lag behind the clock its timestamps follow; an encoder that falls behind real
   * time (a starved CPU) shows here, and every viewer's latency includes it.
   */
  lagsBetween (from: number, to: number): number[] {
    return [...this.#segments.values()].flatMap(s => s.publishedAt >= from && s.publishedAt < to ? [s.publishedAt - (s.pdt + s.duration * 1000)] : [])
  }

  /** Bytes of the segments published in [from, to) (ms since the epoch), of those sampled. */
  bytesBetween (from: number, to: number): number {
    let bytes = 0
    for (const s of this.#segments.values()) if (s.publishedAt >= from && s.publishedAt < to) bytes += s.size
    return bytes
  }
}
