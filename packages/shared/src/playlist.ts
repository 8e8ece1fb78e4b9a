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
}

export interface MediaPlaylist {
  entries: PlaylistEntry[]
  /** `#EXT-X-DISCONTINUITY-SEQUENCE`: discontinuities that slid out of the window. */
  discontinuitySequence: number
  ended: boolean
}

interface WindowSlot {
  announcement: SegmentAnnouncement
  state: EntryState
}

/** Announcements of one rendition, in sequence order, trimmed to the last `size` entries. */
export class LiveWindow {
  readonly #size: number
  readonly #slots = new Map<number, WindowSlot>()
  #discontinuitySequence = 0
  #ended = false

  constructor (size: number) {
    this.#size = size
  }

  /**
   * Adds an announcement as pending; false when its seq is already known or too old for a full window.
   * An older one is taken while the window has room: a late joiner fills in the past it missed.
   */
  add (announcement: SegmentAnnouncement): boolean {
    if (this.#slots.has(announcement.seq)) return false
    const oldest = this.#oldestSeq()
    if (oldest !== undefined && announcement.seq < oldest && this.#slots.size >= this.#size) return false
    this.#slots.set(announcement.seq, { announcement, state: 'pending' })
    this.#trim()
    return true
  }

  setState (seq: number, state: EntryState): void {
    const slot = this.#slots.get(seq)
    if (slot === undefined) return
    slot.state = state
    if (state === 'stored' && slot.announcement.end) this.#ended = true
  }

  get (seq: number): SegmentAnnouncement | undefined {
    return this.#slots.get(seq)?.announcement
  }

  /** Newest announcement seen, stored or not. */
  latest (): SegmentAnnouncement | undefined {
    let newest: SegmentAnnouncement | undefined
    for (const { announcement } of this.#slots.values()) {
      if (newest === undefined || announcement.seq > newest.seq) newest = announcement
    }
    return newest
  }

  announcements (): SegmentAnnouncement[] {
    return [...this.#slots.values()].map(s => s.announcement).sort((a, b) => a.seq - b.seq)
  }

  /**
   * What may be listed now: the run of consecutive settled slots that ends before the first pending
   * one. A segment is never listed before it and everything before it are settled; a sequence number
   * never announced (a lost message) restarts the run after it, as a player that fell behind would see.
   */
  playlist (): MediaPlaylist {
    let entries: PlaylistEntry[] = []
    let discontinuitySequence = this.#discontinuitySequence
    let expected: number | undefined
    for (const seq of [...this.#slots.keys()].sort((a, b) => a - b)) {
      const slot = this.#slots.get(seq)!
      if (slot.state === 'pending') break
      if (expected !== undefined && seq !== expected) {
        discontinuitySequence += entries.filter(e => e.discontinuity).length
        entries = []
      }
      const { cid, duration, pdt, discontinuity, init } = slot.announcement
      entries.push({ seq, cid, duration, pdt, discontinuity, gap: slot.state === 'failed', ...init === undefined ? {} : { map: init.cid } })
      expected = seq + 1
    }
    const last = entries.at(-1)
    const ended = this.#ended && last !== undefined && this.#slots.get(last.seq)?.announcement.end === true
    return { entries, discontinuitySequence, ended }
  }

  #oldestSeq (): number | undefined {
    let oldest: number | undefined
    for (const seq of this.#slots.keys()) if (oldest === undefined || seq < oldest) oldest = seq
    return oldest
  }

  #trim (): void {
    while (this.#slots.size > this.#size) {
      const oldest = this.#oldestSeq()!
      if (this.#slots.get(oldest)!.announcement.discontinuity) this.#discontinuitySequence++
      this.#slots.delete(oldest)
    }
  }
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

/** The file extension a segment's URI ends in: players and ffmpeg pick the demuxer by it. */
export function segmentExtension (entry: PlaylistEntry): 'ts' | 'm4s' {
  return entry.map === undefined ? 'ts' : 'm4s'
}

export interface RenderOptions {
  /** A recording's playlist (`#EXT-X-PLAYLIST-TYPE:VOD`: it never changes). */
  vod?: boolean
  /** The URI of an init section by its CID; needed when entries carry one (fMP4). */
  mapUri?: (cid: string) => string
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
  let map: string | undefined
  for (const entry of entries) {
    if (entry.discontinuity) lines.push('#EXT-X-DISCONTINUITY')
    if (entry.map !== undefined && entry.map !== map) lines.push(`#EXT-X-MAP:URI="${options.mapUri!(entry.map)}"`)
    map = entry.map
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(entry.pdt)}`)
    if (entry.gap) lines.push('#EXT-X-GAP')
    lines.push(`#EXTINF:${entry.duration.toFixed(3)},`, segmentUri(entry))
  }
  if (playlist.ended) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

/** Renders a master playlist: one variant per rendition, best first. */
export function renderMasterPlaylist (renditions: ReadonlyArray<{ info: RenditionInfo, uri: string }>): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS']
  const sorted = [...renditions].sort((a, b) => b.info.bandwidth - a.info.bandwidth)
  for (const { info, uri } of sorted) {
    const attrs = [`BANDWIDTH=${info.bandwidth}`]
    if (info.width > 0 && info.height > 0) attrs.push(`RESOLUTION=${info.width}x${info.height}`)
    attrs.push(`CODECS="${info.codecs}"`)
    if (info.frameRate > 0) attrs.push(`FRAME-RATE=${info.frameRate.toFixed(3)}`)
    attrs.push(`NAME="${info.name}"`)
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, uri)
  }
  return lines.join('\n') + '\n'
}
