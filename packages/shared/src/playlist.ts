/**
 * The playlist model. Playlists are derived from validated announcements, never trusted from
 * elsewhere: a live window per rendition that lists a segment only once it is stored (fetchable),
 * keeps its order, and turns a segment that could not be had into an `#EXT-X-GAP` entry.
 */
import type { RenditionInfo, SegmentAnnouncement } from './announcement.ts'

export type EntryState = 'pending' | 'stored' | 'failed'

export interface PlaylistEntry {
  seq: number
  cid: string
  duration: number
  /** Program date time, ms since the Unix epoch. */
  pdt: number
  discontinuity: boolean
  /** True when the segment was announced but could not be fetched: listed as a gap. */
  gap: boolean
  /** CID of the fMP4 init section the segment plays with (`#EXT-X-MAP`); absent for MPEG-TS. */
  map?: string
  /** A WebVTT segment of a subtitle rendition (its URI ends in `.vtt`). */
  webvtt?: true
}

export interface MediaPlaylist {
  entries: PlaylistEntry[]
  /** `#EXT-X-DISCONTINUITY-SEQUENCE`: discontinuities that slid out of the window. */
  discontinuitySequence: number
  ended: boolean
}

/** What the window keeps per segment; callers extend it with their own facts (the relay's envelope, times). */
export interface WindowRecord {
  announcement: SegmentAnnouncement
  state: EntryState
}

export interface LiveWindowOptions {
  /**
   * Keep records that slid out of the listed window until `forget(seq)` (the relay holds their blocks
   * until its retention sweep). Default false: they are dropped as they slide out.
   */
  keepSlidOut?: boolean
}

/**
 * One rendition's segments, one record each, in sequence order: the newest `size` are listed. The
 * record handed to `add` is the one kept (the caller's object, state and all), so there is one
 * per-segment record, never a copy to keep in sync.
 */
export class LiveWindow<R extends WindowRecord = WindowRecord> {
  readonly #size: number
  readonly #keepSlidOut: boolean
  readonly #records = new Map<number, R>()
  /** The listed seqs, ascending: the newest `size`. Records below the first slid out (kept only with keepSlidOut). */
  readonly #listed: number[] = []
  #discontinuitySequence = 0
  #ended = false

  constructor (size: number, options: LiveWindowOptions = {}) {
    this.#size = size
    this.#keepSlidOut = options.keepSlidOut ?? false
  }

  /**
   * Takes a record (normally pending); false when its seq is already known or too old for a full
   * window. An older one is taken while the window has room: a late joiner fills in the past it missed.
   */
  add (record: R): boolean {
    const seq = record.announcement.seq
    if (this.#records.has(seq)) return false
    const oldest = this.#listed[0]
    if (oldest !== undefined && seq < oldest && this.#listed.length >= this.#size) return false
    this.#records.set(seq, record)
    // Nearly always the newest: found from the end.
    let at = this.#listed.length
    while (at > 0 && this.#listed[at - 1]! > seq) at--
    this.#listed.splice(at, 0, seq)
    this.#trim()
    return true
  }

  setState (seq: number, state: EntryState): void {
    const record = this.#records.get(seq)
    if (record === undefined) return
    record.state = state
    if (state === 'stored' && record.announcement.end) this.#ended = true
  }

  /** The record of `seq`, listed or (with keepSlidOut) slid out. */
  get (seq: number): R | undefined {
    return this.#records.get(seq)
  }

  /** True when `seq` is in the listed window. */
  isListed (seq: number): boolean {
    const oldest = this.#listed[0]
    return oldest !== undefined && seq >= oldest && this.#records.has(seq)
  }

  /** Every record held, listed or slid out, in no particular order. */
  records (): IterableIterator<R> {
    return this.#records.values()
  }

  /** Drops a record that slid out of the window; a listed one stays. */
  forget (seq: number): void {
    if (!this.isListed(seq)) this.#records.delete(seq)
  }

  /** Newest record seen, stored or not. */
  latest (): R | undefined {
    const newest = this.#listed.at(-1)
    return newest === undefined ? undefined : this.#records.get(newest)
  }

  /** The listed records, oldest first. */
  listed (): R[] {
    return this.#listed.map(seq => this.#records.get(seq)!)
  }

  /**
   * What may be listed now: the run of consecutive settled records that ends before the first pending
   * one. A segment is never listed before it and everything before it are settled; a sequence number
   * never announced (a lost message) restarts the run after it, as a player that fell behind would see.
   */
  playlist (): MediaPlaylist {
    let entries: PlaylistEntry[] = []
    let discontinuitySequence = this.#discontinuitySequence
    let expected: number | undefined
    for (const record of this.listed()) {
      if (record.state === 'pending') break
      const { seq, cid, duration, pdt, discontinuity, init } = record.announcement
      if (expected !== undefined && seq !== expected) {
        discontinuitySequence += entries.filter(e => e.discontinuity).length
        entries = []
      }
      entries.push({ seq, cid, duration, pdt, discontinuity, gap: record.state === 'failed', ...init === undefined ? {} : { map: init.cid }, ...webvttFlag(record.announcement.rendition) })
      expected = seq + 1
    }
    const last = entries.at(-1)
    const ended = this.#ended && last !== undefined && this.#records.get(last.seq)?.announcement.end === true
    return { entries, discontinuitySequence, ended }
  }

  /** Slides the oldest listed records out while more than `size` are listed. */
  #trim (): void {
    while (this.#listed.length > this.#size) {
      const oldest = this.#listed.shift()!
      if (this.#records.get(oldest)!.announcement.discontinuity) this.#discontinuitySequence++
      if (!this.#keepSlidOut) this.#records.delete(oldest)
    }
  }
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

/** The file extension a segment's URI ends in: players and ffmpeg pick the demuxer by it. */
export function segmentExtension (entry: PlaylistEntry): 'ts' | 'm4s' | 'vtt' {
  return entry.webvtt === true ? 'vtt' : entry.map === undefined ? 'ts' : 'm4s'
}

/** `{ webvtt: true }` for a subtitle rendition's entries, to spread into a `PlaylistEntry`; else nothing. */
export function webvttFlag (info: RenditionInfo): { webvtt?: true } {
  return info.subtitles === undefined ? {} : { webvtt: true }
}

export interface RenderOptions {
  /** A recording's playlist (`#EXT-X-PLAYLIST-TYPE:VOD`: it never changes). */
  vod?: boolean
  /** The URI of an init section by its CID; needed when entries carry one (fMP4). */
  mapUri?: (cid: string) => string
  /** LL-HLS: the parts of the last segments and of the one in progress (see LowLatencyParts). */
  parts?: LowLatencyParts
}

/** One `#EXT-X-PART`. */
export interface PartEntry {
  /** Seconds. */
  duration: number
  uri: string
  /** Starts with a keyframe: `INDEPENDENT=YES`. */
  independent: boolean
}

/**
 * What an LL-HLS media playlist adds (RFC 8216bis, protocol version 9 features): server control with
 * blocking reloads, the part target, the parts of the newest listed segments (`of`), the parts of the
 * segment in progress (the one after the last listed), and a preload hint for its next part. Players
 * that do not know parts skip these tags and play the segments as before.
 */
export interface LowLatencyParts {
  /** Seconds: no part is longer. */
  target: number
  /** The parts of a listed segment, when it still has them listed; undefined for older segments. */
  of: (seq: number) => readonly PartEntry[] | undefined
  /** The parts of the segment in progress so far. */
  pending: readonly PartEntry[]
  /** The URI of the next part, which the server answers once it exists. */
  preloadHint: string
}

/**
 * Renders an HLS media playlist (RFC 8216, version 3 plus EXT-X-GAP; version 6 with fMP4's
 * `#EXT-X-MAP`, written wherever the init section changes) with a date-time on every segment.
 */
export function renderMediaPlaylist (playlist: MediaPlaylist, segmentUri: (entry: PlaylistEntry) => string, options: RenderOptions = {}): string {
  const { entries } = playlist
  const target = Math.max(1, ...entries.map(e => Math.ceil(e.duration)))
  const fmp4 = entries.some(e => e.map !== undefined)
  if (fmp4 && options.mapUri === undefined) throw new Error('the entries carry init sections: renderMediaPlaylist needs options.mapUri')
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${fmp4 ? 6 : 3}`,
    ...(options.vod === true ? ['#EXT-X-PLAYLIST-TYPE:VOD'] : []),
    `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-MEDIA-SEQUENCE:${entries[0]?.seq ?? 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${playlist.discontinuitySequence}`
  ]
  const parts = playlist.ended ? undefined : options.parts
  if (parts !== undefined) {
    // Three part targets behind the edge: the spec's floor is two, three leaves a part of slack.
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(parts.target * 3).toFixed(3)}`, `#EXT-X-PART-INF:PART-TARGET=${parts.target.toFixed(3)}`)
  }
  const partLines = (list: readonly PartEntry[]): string[] =>
    list.map(p => `#EXT-X-PART:DURATION=${p.duration.toFixed(3)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`)
  let map: string | undefined
  for (const entry of entries) {
    if (entry.discontinuity) lines.push('#EXT-X-DISCONTINUITY')
    if (entry.map !== undefined && entry.map !== map) lines.push(`#EXT-X-MAP:URI="${options.mapUri!(entry.map)}"`)
    map = entry.map
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(entry.pdt)}`)
    if (entry.gap) lines.push('#EXT-X-GAP')
    else if (parts !== undefined) lines.push(...partLines(parts.of(entry.seq) ?? []))
    lines.push(`#EXTINF:${entry.duration.toFixed(3)},`, segmentUri(entry))
  }
  if (parts !== undefined) lines.push(...partLines(parts.pending), `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${parts.preloadHint}"`)
  if (playlist.ended) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

/** The `GROUP-ID` of the room's audio renditions in a master playlist. */
export const AUDIO_GROUP = 'audio'
/** The `GROUP-ID` of the room's subtitle renditions in a master playlist. */
export const SUBTITLE_GROUP = 'subs'
/** The name of the program's own sound in the audio group when its audio rendition names none. */
export const MAIN_AUDIO_NAME = 'Original'

/**
 * Renders a master playlist: one variant per rendition, best first. Alternate audio renditions
 * (interpretation) are not variants: with any present, an `EXT-X-MEDIA` audio group lists the program's
 * own sound first (no URI: it is muxed into each video variant; the default) and then each alternate
 * with its URI, and the video variants name the group. An audio-only variant (the program's sound)
 * names no group, so a player that picks it for a bad connection never waits for a second stream.
 * Subtitle renditions are no variants either: an `EXT-X-MEDIA` subtitle group every variant names.
 */
export function renderMasterPlaylist (renditions: ReadonlyArray<{ info: RenditionInfo, uri: string }>): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS']
  const alternates = renditions.filter(r => r.info.audio?.role === 'alternate')
  const subtitles = renditions.filter(r => r.info.subtitles !== undefined)
  const variants = renditions.filter(r => r.info.audio?.role !== 'alternate' && r.info.subtitles === undefined)
  if (alternates.length > 0) {
    const main = variants.find(r => r.info.audio?.role === 'main')?.info.audio
    lines.push(audioMedia({ name: main?.name ?? MAIN_AUDIO_NAME, language: main?.language, main: true }))
    for (const { info, uri } of alternates) lines.push(audioMedia({ name: info.audio!.name, language: info.audio!.language, main: false, uri }))
  }
  for (const { info, uri } of subtitles) {
    // Not DEFAULT: captions are the viewer's choice; AUTOSELECT lets a player match the system language.
    lines.push(`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="${SUBTITLE_GROUP}",LANGUAGE="${info.subtitles!.language}",NAME="${info.subtitles!.name}",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="${uri}"`)
  }
  const sorted = [...variants].sort((a, b) => b.info.bandwidth - a.info.bandwidth)
  for (const { info, uri } of sorted) {
    const attrs = [`BANDWIDTH=${info.bandwidth}`]
    if (info.width > 0 && info.height > 0) attrs.push(`RESOLUTION=${info.width}x${info.height}`)
    attrs.push(`CODECS="${info.codecs}"`)
    if (info.frameRate > 0) attrs.push(`FRAME-RATE=${info.frameRate.toFixed(3)}`)
    if (alternates.length > 0 && info.audio === undefined) attrs.push(`AUDIO="${AUDIO_GROUP}"`)
    if (subtitles.length > 0) attrs.push(`SUBTITLES="${SUBTITLE_GROUP}"`)
    attrs.push(`NAME="${info.name}"`)
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, uri)
  }
  return lines.join('\n') + '\n'
}

function audioMedia (track: { name: string, language: string | undefined, main: boolean, uri?: string }): string {
  const attrs = ['TYPE=AUDIO', `GROUP-ID="${AUDIO_GROUP}"`]
  if (track.language !== undefined) attrs.push(`LANGUAGE="${track.language}"`)
  attrs.push(`NAME="${track.name}"`, `DEFAULT=${track.main ? 'YES' : 'NO'}`, 'AUTOSELECT=YES')
  if (track.uri !== undefined) attrs.push(`URI="${track.uri}"`)
  return `#EXT-X-MEDIA:${attrs.join(',')}`
}
