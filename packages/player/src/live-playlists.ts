/**
 * The live stream's playlists, written by the player from the signed window. For every playlist hls.js
 * asks for, the relays are asked in order of preference for `/rooms/<room>/window.json`; its envelopes
 * are verified into the `AnnouncementBook`, and the playlist is rendered with the shared renderer from
 * the verified entries the relay listed: the signed CID, duration, program date time and init
 * section, a discontinuity where the origin signed one or where the signer or session changes, an end
 * only where the origin signed one. A relay's window decides only which signed segments are listed
 * (what it holds); a relay whose window carries envelopes not signed by the room key is demoted and
 * the next one asked. Once the viewer rewinds past the window, the media playlists reach back into the
 * signed history (playlist-history.ts) as well.
 *
 * In the low-latency mode the media playlists are LL-HLS where the window carries
 * signed parts: the parts of the newest two segments and of the one in progress, with blocking
 * reloads. hls.js asks for a media playlist with `_HLS_msn`/`_HLS_part`; the relay is asked for its
 * window with the same wait, and answers once it holds that part (or after a few part targets).
 */
import { relayRoutes, relayUrl, renderMasterPlaylist, renderMediaPlaylist, webvttFlag } from '@hivecast/shared'
import type { LowLatencyParts, MediaPlaylist, PartEntry, PlaylistEntry } from '@hivecast/shared'
import type { PartBook } from './part-book.ts'
import { PlaylistHistory } from './playlist-history.ts'
import type { MasterRendition } from './audio-tracks.ts'
import { LIVE_WINDOW_MAX_AGE_MS } from './announcement-book.ts'
import type { AnnouncementBook, ListedSeq } from './announcement-book.ts'
import { ABORTED } from './playlist-loader.ts'
import type { PlaylistSource, PlaylistTrustCounters, RelayFetch, SegmentLookup } from './playlist-loader.ts'
import type { LoadOutcome } from './relay-loader.ts'
import type { RelayPool } from './relay-pool.ts'
import { initName, masterName, mediaName, partName, readName, segmentName } from './verified-names.ts'
import { sessionViewerToken } from './viewer-token.ts'

/** A window.json of a few renditions of a few dozen envelopes is ~100 KB; this bounds a hostile one. */
const MAX_WINDOW_BYTES = 4 * 1024 * 1024
/** Listed segments that keep their parts in the playlist, beside the one in progress (as relays list them). */
const SEGMENTS_WITH_PARTS = 2
/** Part names kept resolvable, in segments back from the newest listed: hls.js may still load one that just left the list. */
const PART_NAMES_KEPT_SEGMENTS = 6

export interface LivePlaylistsOptions {
  /** Picks what the master lists of the signed renditions (audio-tracks.ts: the viewer's sound). */
  shapeMaster?: (renditions: MasterRendition[]) => MasterRendition[]
  /** Where signed parts are kept as windows bring them. */
  parts?: PartBook
  /** The low-latency mode: the parts are listed in the media playlists (else only checked and kept). */
  lowLatency?: boolean
}

export const LIVE_MASTER = masterName('live')

export class LivePlaylists implements PlaylistSource {
  readonly #pool: RelayPool
  readonly #book: AnnouncementBook
  readonly #counters: PlaylistTrustCounters
  readonly #shapeMaster: (renditions: MasterRendition[]) => MasterRendition[]
  readonly #parts: PartBook | undefined
  readonly #lowLatency: boolean
  /** The part names the playlists listed, and the CIDs they stand for. */
  readonly #partNames = new Map<string, { seq: number, cid: string }>()
  readonly #history: PlaylistHistory
  /** The renditions the master offers, and what the last window listed: where a rewind starts from. */
  #inPlay: string[] = []
  #lastListed = new Map<string, ListedSeq[]>()

  constructor (pool: RelayPool, book: AnnouncementBook, counters: PlaylistTrustCounters, options: LivePlaylistsOptions = {}) {
    this.#pool = pool
    this.#book = book
    this.#counters = counters
    this.#shapeMaster = options.shapeMaster ?? (r => r)
    this.#parts = options.parts
    this.#lowLatency = options.lowLatency === true && options.parts !== undefined
    this.#history = new PlaylistHistory(book, pool)
  }

  /**
   * Makes the playlists reach back to program time `pdt` (ms) for every rendition the master offers,
   * with history fetched from the relays; resolves with where they now begin (no further back than the
   * window when no relay holds older segments), or undefined before anything is listed. hls.js must load the playlists afresh: its timeline starts at the
   * first segment it saw, so a playlist that grew backwards under it would reach before zero.
   */
  async rewindTo (pdt: number): Promise<number | undefined> {
    return await this.#history.reach(new Map(this.#inPlay.map(name => [name, this.#lastListed.get(name) ?? []])), pdt)
  }

  async playlist (url: string, relays: RelayFetch): Promise<LoadOutcome> {
    const name = readName('live', url)
    if (name === undefined || (name.kind !== 'master' && name.kind !== 'media')) return { kind: 'error', code: 400, text: `${url} is not a playlist this player wrote` }
    const book = this.#book
    const failures: string[] = []
    let timeouts = 0
    let notFound = 0
    let notYet = 0
    let fallback: string | undefined
    for (const relay of this.#pool.order()) {
      // With this page session's viewer token: relays count viewers by it, each once.
      // A blocking reload waits at the relay; without parts there is nothing to wait for.
      const wait = name.kind === 'media' && name.wait !== undefined && this.#lowLatency ? { rendition: name.rendition, ...name.wait } : undefined
      const windowUrl = relayUrl(relay, relayRoutes.window(book.room, sessionViewerToken, wait))
      const result = await relays.text(windowUrl, MAX_WINDOW_BYTES)
      if (relays.cancelled) return ABORTED
      if (!result.ok) {
        this.#pool.failed(relay)
        if (result.timedOut) timeouts++
        if (result.status === 404) notFound++
        if (result.status === 503) notYet++
        failures.push(`${windowUrl} ${result.text}`)
        continue
      }
      const json = parseJson(result.data)
      const intake = await book.addWindow(json)
      const refusedParts = await this.#parts?.add(json) ?? 0
      if (relays.cancelled) return ABORTED
      intake.refused += refusedParts
      if (intake.stale) {
        this.#pool.failed(relay)
        failures.push(`${windowUrl} is not live: its newest signed segment is over ${LIVE_WINDOW_MAX_AGE_MS / 1000} s old`)
        continue
      }
      this.#lastListed = intake.listed
      this.#history.note(intake.listed)
      const text = name.kind === 'master' ? this.#master(intake.listed) : this.#media(name.rendition, intake.listed.get(name.rendition) ?? [])
      if (intake.refused > 0) {
        // Envelopes the room key did not sign: broken or hostile. Its signed entries still count, but
        // another relay is asked first, and this one is played only when none does better.
        this.#counters.entriesRejected += intake.refused
        this.#pool.rejected(relay)
        failures.push(`${windowUrl} listed ${intake.refused} entries not signed by ${book.keys.length > 0 ? `the room key ${book.keys.join(' or ')}` : 'the key they name'}`)
        fallback ??= text
        continue
      }
      if (text === undefined) {
        notYet++
        failures.push(`${windowUrl} lists no signed segment${name.kind === 'media' ? ` of ${name.rendition}` : ''}`)
        continue
      }
      this.#pool.servedPlaylist(relay)
      return { kind: 'success', url, data: text, bytes: text.length, firstByte: result.firstByte }
    }
    if (fallback !== undefined) return { kind: 'success', url, data: fallback, bytes: fallback.length, firstByte: performance.now() }
    const tried = failures.join('; ')
    if (failures.length > 0 && timeouts === failures.length) return { kind: 'timeout', text: tried }
    // A 404 from every relay means the room is not followed there, a 503 or an empty window that it has
    // no segment yet: both mean no signal. Anything else is worth a retry.
    const code = failures.length === 0 ? 502 : notFound === failures.length ? 404 : notFound + notYet === failures.length ? 503 : 502
    return { kind: 'error', code, text: `no relay served the signed window behind ${url}: ${tried || 'no relays configured'}` }
  }

  segment (url: string): SegmentLookup {
    const name = readName('live', url)
    if (name?.kind === 'segment') {
      const entry = this.#book.entry(name.rendition, name.seq)
      return entry === undefined ? { refused: `segment ${name.seq} of ${name.rendition} is in no announcement signed by the room key` } : { cid: entry.cid }
    }
    if (name?.kind === 'part') {
      const cid = this.#partNames.get(url)?.cid
      return cid === undefined ? { refused: `part ${name.part} of segment ${name.seq} of ${name.rendition} is in no part announcement signed by the room key` } : { cid }
    }
    if (name?.kind === 'init') {
      return this.#book.knows(name.cid, name.rendition) ? { cid: name.cid } : { refused: `init section ${name.cid} is in no announcement signed by the room key for ${name.rendition}` }
    }
    return { refused: `${url} is not a segment this player listed` }
  }

  /**
   * One variant (or audio rendition) per rendition the window listed, from the signed descriptions, as
   * `shapeMaster` picks them; undefined for none.
   */
  #master (listed: ReadonlyMap<string, ListedSeq[]>): string | undefined {
    const renditions: MasterRendition[] = []
    for (const [rendition, seqs] of listed) {
      const info = this.#book.rendition(rendition)
      if (info !== undefined && seqs.length > 0) renditions.push({ info, uri: mediaName('live', rendition) })
    }
    const shaped = this.#shapeMaster(renditions)
    this.#inPlay = shaped.map(({ info }) => info.name)
    return shaped.length === 0 ? undefined : renderMasterPlaylist(shaped)
  }

  /** The listed entries of `rendition` as a playlist; undefined when there are none. */
  #media (rendition: string, listed: ListedSeq[]): string | undefined {
    const playlist = this.#mediaPlaylist(rendition, listed)
    if (playlist.entries.length === 0) return undefined
    const parts = this.#partsOf(rendition, playlist)
    return renderMediaPlaylist(playlist, entry => segmentName('live', rendition, entry), { mapUri: cid => initName('live', rendition, cid), ...parts === undefined ? {} : { parts } })
  }

  /**
   * The LL-HLS part of a media playlist: the signed parts of the newest listed segments (only when all
   * of a segment's parts are known: a finished segment lists all of them or none) and of the one in
   * progress, from the origin run of the newest listed segment. Undefined without parts.
   */
  #partsOf (rendition: string, playlist: MediaPlaylist): LowLatencyParts | undefined {
    const book = this.#parts
    const last = playlist.entries.at(-1)
    const target = book?.target(rendition)
    const session = last === undefined ? undefined : this.#book.entry(rendition, last.seq)?.session
    if (!this.#lowLatency || book === undefined || last === undefined || target === undefined || session === undefined || playlist.ended) return undefined
    const named = new Map<string, { seq: number, cid: string }>()
    const listed = (seq: number): PartEntry[] => book.parts(rendition, session, seq).map((part, index) => {
      const uri = partName('live', rendition, seq, index)
      named.set(uri, { seq, cid: part.cid })
      return { duration: part.duration, uri, independent: part.independent }
    })
    const complete = (seq: number): PartEntry[] | undefined => {
      const parts = listed(seq)
      return parts.length > 0 && book.part(rendition, session, seq, parts.length - 1)?.last === true ? parts : undefined
    }
    const pending = listed(last.seq + 1)
    const cutWhole = pending.length > 0 && book.part(rendition, session, last.seq + 1, pending.length - 1)?.last === true
    const next = cutWhole ? { seq: last.seq + 2, part: 0 } : { seq: last.seq + 1, part: pending.length }
    const of = new Map<number, PartEntry[] | undefined>()
    for (let seq = last.seq - SEGMENTS_WITH_PARTS + 1; seq <= last.seq; seq++) of.set(seq, complete(seq))
    // Only what is listed becomes fetchable: parts of a segment missing one are left out, names and all.
    for (const entry of [...of.values(), pending].flat()) if (entry !== undefined) this.#partNames.set(entry.uri, named.get(entry.uri)!)
    for (const [uri, { seq }] of this.#partNames) if (seq <= last.seq - PART_NAMES_KEPT_SEGMENTS) this.#partNames.delete(uri)
    return { target, of: seq => of.get(seq), pending, preloadHint: partName('live', rendition, next.seq, next.part) }
  }

  /**
   * The newest run of consecutive sequence numbers the window listed (a playlist's sequence numbers
   * are implied by position, so it cannot skip one), continued into the history once the viewer
   * rewound, each with the announcement the book holds for it.
   */
  #mediaPlaylist (rendition: string, listed: ListedSeq[]): MediaPlaylist {
    const stored = new Map(listed.map(({ seq, stored }) => [seq, stored]))
    const newest = Math.max(...stored.keys())
    const entries: PlaylistEntry[] = []
    const info = this.#book.rendition(rendition)
    for (let seq = newest; stored.has(seq) || this.#history.lists(rendition, seq); seq--) {
      const entry = this.#book.entry(rendition, seq)
      if (entry === undefined) break
      entries.unshift({
        seq,
        cid: entry.cid,
        duration: entry.duration,
        pdt: entry.pdt,
        discontinuity: this.#book.breaksAt(rendition, seq),
        gap: (stored.get(seq) ?? this.#history.stored(rendition, seq)) !== true,
        ...entry.init === undefined ? {} : { map: entry.init },
        ...info === undefined ? {} : webvttFlag(info)
      })
    }
    const first = entries[0]
    return {
      entries,
      discontinuitySequence: first === undefined ? 0 : this.#book.breaksBefore(rendition, first.seq),
      ended: entries.at(-1) !== undefined && this.#book.entry(rendition, entries.at(-1)!.seq)?.end === true
    }
  }
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
