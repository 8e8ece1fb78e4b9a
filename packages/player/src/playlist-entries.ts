/**
 * Reading and trimming a relay's media playlist: which segment (sequence number, CID) each entry
 * names, and the same playlist without the entries no signed announcement backs. Unbacked entries at
 * the end are removed; one in the middle becomes an `#EXT-X-GAP` so later sequence numbers stay put.
 */
import { cidFromUrl } from './relay-pool.ts'

export interface ListedSegment {
  seq: number
  /** undefined when the URI carries no `/ipfs/<cid>`. */
  cid: string | undefined
  /** The CID of the init section in force (the last `#EXT-X-MAP`), for fMP4; undefined for none. */
  map: string | undefined
  /** Index of the entry's first line (its first segment tag, or its URI). */
  start: number
  /** Index of the URI line. */
  uri: number
  gap: boolean
}

/** Tags that belong to the next segment rather than to the playlist. */
const SEGMENT_TAG = /^#(EXTINF|EXT-X-PROGRAM-DATE-TIME|EXT-X-DISCONTINUITY$|EXT-X-GAP|EXT-X-BYTERANGE|EXT-X-KEY|EXT-X-MAP)/

export function listSegments (text: string, playlistUrl: string): ListedSegment[] {
  const lines = text.split(/\r?\n/)
  const sequence = /^#EXT-X-MEDIA-SEQUENCE:(\d+)\s*$/m.exec(text)
  let seq = sequence === null ? 0 : Number(sequence[1])
  const segments: ListedSegment[] = []
  let start: number | undefined
  let gap = false
  let map: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    if (line.startsWith('#')) {
      if (SEGMENT_TAG.test(line)) start ??= i
      if (line === '#EXT-X-GAP') gap = true
      const mapUri = /^#EXT-X-MAP:.*\bURI="([^"]*)"/.exec(line)?.[1]
      // A map whose URI names no CID stays in force as "some init section no announcement backs".
      if (mapUri !== undefined) map = cidFromUrl(absoluteUrl(mapUri, playlistUrl)) ?? ''
      continue
    }
    segments.push({ seq, cid: cidFromUrl(absoluteUrl(line, playlistUrl)), map, start: start ?? i, uri: i, gap })
    seq++
    start = undefined
    gap = false
  }
  return segments
}

function absoluteUrl (uri: string, playlistUrl: string): string {
  try {
    return new URL(uri, playlistUrl).href
  } catch {
    return ''
  }
}

/** The playlist with only backed entries (gaps stay as they are); `dropped` counts the others. */
export function keepBacked (text: string, playlistUrl: string, backed: (segment: ListedSegment) => boolean): { text: string, dropped: number } {
  const segments = listSegments(text, playlistUrl)
  const bad = segments.filter(segment => !segment.gap && !backed(segment))
  if (bad.length === 0) return { text, dropped: 0 }
  const lines = text.split(/\r?\n/)
  // Trailing unbacked entries go; the playlist then ends at the last backed one.
  let end = segments.length
  while (end > 0 && !segments[end - 1]!.gap && !backed(segments[end - 1]!)) end--
  const cut = end < segments.length ? segments[end]!.start : lines.length
  const kept = new Set(segments.slice(0, end).filter(segment => !segment.gap && !backed(segment)).map(segment => segment.uri))
  const out: string[] = []
  for (let i = 0; i < cut; i++) {
    if (kept.has(i)) out.push('#EXT-X-GAP')
    out.push(lines[i]!)
  }
  // #EXT-X-ENDLIST and anything else after the last entry still applies.
  if (end < segments.length) for (let i = segments.at(-1)!.uri + 1; i < lines.length; i++) out.push(lines[i]!)
  return { text: out.join('\n'), dropped: bad.length }
}
