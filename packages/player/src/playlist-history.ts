/**
 * The live stream before the relays' live window, for a viewer who rewinds. Relays keep a room's
 * signed announcements for `--rewind` minutes and hand them out a page at a time
 * (`window.json?rendition=&before=&limit=`); this asks for pages only when the viewer goes back past
 * what the player lists, verifies every envelope into the `AnnouncementBook` like a window's, and
 * remembers from which sequence number on each rendition's playlist lists history. From then on the
 * live playlists reach back to that floor: every seq the player lists (from history pages and from
 * every window since) stays listed, so the playlist grows at the live edge and never loses its start.
 */
import { relayRoutes, relayUrl, WINDOW_HISTORY_MAX_LIMIT } from '@hivecast/shared'
import type { AnnouncementBook, ListedSeq } from './announcement-book.ts'
import type { RelayPool } from './relay-pool.ts'

/** A page of 500 envelopes is ~300 KB; this bounds a hostile answer. */
const MAX_PAGE_BYTES = 4 * 1024 * 1024
const PAGE_TIMEOUT_MS = 10_000
/**
 * Entries asked for beyond the estimate: two minutes of 1 s segments more than the viewer asked for, so
 * the next few "−30 s" are seeks rather than another fetch and reload (~70 KB per rendition).
 */
const PAGE_MARGIN = 120
/** Pages asked per rendition and rewind at most: two hours of 1 s segments in pages of 500. */
const MAX_PAGES = 20

export class PlaylistHistory {
  readonly #book: AnnouncementBook
  readonly #pool: RelayPool
  /** Per rendition: the oldest seq listed, once the viewer rewound past the live window. */
  readonly #floor = new Map<string, number>()
  /** Per rendition, every seq listed from the floor up, and whether a relay said it holds the segment. */
  readonly #stored = new Map<string, Map<number, boolean>>()
  /** History pages fetched since the player started. */
  pages = 0

  constructor (book: AnnouncementBook, pool: RelayPool) {
    this.#book = book
    this.#pool = pool
  }

  /** True when `seq` of `rendition` is listed as history: at or above the floor, verified, and seen in a page or window. */
  lists (rendition: string, seq: number): boolean {
    const floor = this.#floor.get(rendition)
    return floor !== undefined && seq >= floor && this.#stored.get(rendition)?.has(seq) === true && this.#book.entry(rendition, seq) !== undefined
  }

  /** Whether a relay said it holds `seq` (false lists the segment as a gap). */
  stored (rendition: string, seq: number): boolean {
    return this.#stored.get(rendition)?.get(seq) === true
  }

  /** Takes what a window listed, for renditions that list history: the seqs stay listed once the window slides on. */
  note (listed: ReadonlyMap<string, ListedSeq[]>): void {
    for (const [rendition, seqs] of listed) {
      const stored = this.#stored.get(rendition)
      if (stored === undefined) continue
      for (const { seq, stored: held } of seqs) stored.set(seq, held)
    }
  }

  /**
   * Fetches signed history of each of `renditions`, older than the seqs listed now (`listed`), until
   * it reaches back to program time `pdt` (ms) or no relay holds more. Resolves with the program time
   * the renditions' playlists all reach back to (the window's oldest when no relay had older ones), or
   * undefined when nothing is listed yet.
   */
  async reach (renditions: ReadonlyMap<string, ListedSeq[]>, pdt: number): Promise<number | undefined> {
    let from: number | undefined
    for (const [rendition, listed] of renditions) {
      const stored = this.#stored.get(rendition) ?? new Map<number, boolean>()
      for (const { seq, stored: held } of listed) stored.set(seq, held)
      this.#stored.set(rendition, stored)
      let oldest = this.#floor.get(rendition) ?? Math.min(...listed.map(l => l.seq))
      if (!Number.isFinite(oldest)) continue
      for (let page = 0; page < MAX_PAGES; page++) {
        const entry = this.#book.entry(rendition, oldest)
        if (entry === undefined || entry.pdt <= pdt) break
        const limit = Math.min(WINDOW_HISTORY_MAX_LIMIT, Math.ceil((entry.pdt - pdt) / 1000 / Math.max(0.1, entry.duration)) + PAGE_MARGIN)
        const reached = await this.#page(rendition, oldest, limit, stored)
        if (reached === undefined) break
        oldest = reached.oldest
        if (!reached.more) break
      }
      this.#floor.set(rendition, oldest)
      const start = this.#book.entry(rendition, oldest)?.pdt
      if (start !== undefined) from = Math.max(from ?? start, start)
    }
    return from
  }

  /**
   * One page below `before`, from the first relay (in the pool's order) whose page continues the
   * listed seqs downwards; the oldest seq reached and whether that relay holds more.
   */
  async #page (rendition: string, before: number, limit: number, stored: Map<number, boolean>): Promise<{ oldest: number, more: boolean } | undefined> {
    for (const relay of this.#pool.order()) {
      const body = await fetchPage(relayUrl(relay, relayRoutes.windowHistory(this.#book.room, rendition, before, limit)))
      if (body === undefined) continue
      this.pages++
      // Kept before it is filed, or the book's bound drops the oldest entries again at once.
      this.#book.keepFrom(rendition, before - limit)
      const intake = await this.#book.addHistory(body)
      const held = new Map((intake.listed.get(rendition) ?? []).map(({ seq, stored }) => [seq, stored]))
      let oldest = before
      // Only a run that continues the listed seqs: a playlist cannot skip a sequence number.
      while (held.has(oldest - 1) && this.#book.entry(rendition, oldest - 1) !== undefined) {
        oldest--
        stored.set(oldest, held.get(oldest) === true)
      }
      if (oldest < before) return { oldest, more: (body as { more?: unknown }).more === true }
    }
    return undefined
  }
}

/** A relay's history page as JSON, or undefined when it could not be had. */
async function fetchPage (url: string): Promise<unknown> {
  try {
    const response = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) })
    if (!response.ok) return undefined
    const text = await response.text()
    return text.length > MAX_PAGE_BYTES ? undefined : JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
