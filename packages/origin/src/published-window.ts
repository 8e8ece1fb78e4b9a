/**
 * What the origin has published, kept for the ones who ask: per rendition the signed envelopes of the
 * last segments (a relay that joins late or restarts asks for this window rather than wait for new
 * segments), and the last segments of all renditions for /status and the status line.
 */
import type { SignedEnvelope } from '@hivecast/shared'
import type { PublishedSegment } from './segment-publisher.ts'

/** Announcements per rendition handed to a relay that asks for the recent window. */
export const WINDOW_SIZE = 30
/** Segments of all renditions listed in /status. */
export const RECENT_SIZE = 60

export interface PublishedWindowOptions {
  windowSize?: number
  recentSize?: number
}

export class PublishedWindow {
  readonly #windowSize: number
  readonly #recentSize: number
  readonly #envelopes = new Map<string, SignedEnvelope[]>()
  readonly #recent: PublishedSegment[] = []
  #count = 0
  #lastPublishedAt = 0

  constructor (options: PublishedWindowOptions = {}) {
    this.#windowSize = options.windowSize ?? WINDOW_SIZE
    this.#recentSize = options.recentSize ?? RECENT_SIZE
  }

  add (segment: PublishedSegment, envelope: SignedEnvelope): void {
    const window = this.#envelopes.get(segment.rendition) ?? []
    window.push(envelope)
    if (window.length > this.#windowSize) window.shift()
    this.#envelopes.set(segment.rendition, window)
    this.#recent.push(segment)
    if (this.#recent.length > this.#recentSize) this.#recent.shift()
    this.#count++
    this.#lastPublishedAt = segment.publishedAt
  }

  /** Every rendition's window, oldest first within each. */
  envelopes (): SignedEnvelope[] {
    return [...this.#envelopes.values()].flat()
  }

  /** The last segments published, oldest first (a copy). */
  recent (): PublishedSegment[] {
    return [...this.#recent]
  }

  /** Segments published by this process. */
  get count (): number {
    return this.#count
  }

  /** When the newest segment was published (ms since the epoch), 0 before the first. */
  get lastPublishedAt (): number {
    return this.#lastPublishedAt
  }
}
