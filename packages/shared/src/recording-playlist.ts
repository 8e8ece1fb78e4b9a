/**
 * A recording's own playlists, as the origin writes them into the recording's UnixFS directory
 * (`index.m3u8`, `<rendition>.m3u8` with segment URIs relative to it), read back into playlist entries
 * that carry each segment's CID, and cut by program-date-time to one talk. Relays serve recordings from
 * these entries; the player plays them after verifying every block from the signed recording CID.
 * Anything but the origin's own form is refused with a reason.
 */
import type { PlaylistEntry } from './playlist.ts'
import { RENDITION_NAME } from './names.ts'
import type { TimeRange } from './relay-contract.ts'

/** More segments than a month of 1 s segments is no recording Hivecast made. */
const MAX_ENTRIES = 3_000_000

/**
 * Rendition names listed by a recording's master playlist (`index.m3u8`), in its order: the variants
 * and the alternate audio renditions (`#EXT-X-MEDIA` with a URI).
 */
export function masterRenditions (text: string): string[] {
  const names: string[] = []
  for (const line of text.split('\n').map(l => l.trim())) {
    if (line.startsWith('#EXT-X-MEDIA:')) {
      const uri = /,URI="([^"]*)"/.exec(line)?.[1]
      if (uri === undefined) continue
      const name = uri.endsWith('.m3u8') ? uri.slice(0, -'.m3u8'.length) : ''
      if (!RENDITION_NAME.test(name)) throw new Error(`the master playlist names the audio rendition "${uri.slice(0, 80)}", not <rendition>.m3u8`)
      names.push(name)
      continue
    }
    if (line === '' || line.startsWith('#')) continue
    const name = line.endsWith('.m3u8') ? line.slice(0, -'.m3u8'.length) : ''
    if (!RENDITION_NAME.test(name)) throw new Error(`the master playlist lists "${line.slice(0, 80)}", not <rendition>.m3u8`)
    names.push(name)
  }
  return names
}

/**
 * The entries of a rendition's VOD playlist as the origin writes it (`#EXT-X-PROGRAM-DATE-TIME`,
 * `#EXTINF`, optional `#EXT-X-DISCONTINUITY`, then `<rendition>/<seq>.ts` (`.vtt` for subtitles); fMP4 ones `<seq>.m4s` after
 * an `#EXT-X-MAP:URI="<rendition>/init-<seq>.mp4"`), with each CID looked up in `cids` (the rendition
 * directory's links by name). Throws on anything else.
 */
export function parseRecordingPlaylist (text: string, rendition: string, cids: ReadonlyMap<string, string>): PlaylistEntry[] {
  const entries: PlaylistEntry[] = []
  let pdt: number | undefined
  let duration: number | undefined
  let discontinuity = false
  /** The CID of the init section in force (fMP4), from the last `#EXT-X-MAP`. */
  let map: string | undefined
  for (const line of text.split('\n').map(l => l.trim())) {
    if (line.startsWith('#EXT-X-MAP:')) {
      const match = /^#EXT-X-MAP:URI="([a-z0-9][a-z0-9_-]{0,31})\/(init-\d{1,15}\.mp4)"$/.exec(line)
      if (match === null || match[1] !== rendition) throw new Error(`the playlist of ${rendition} has "${line.slice(0, 80)}", not #EXT-X-MAP:URI="${rendition}/init-<seq>.mp4"`)
      map = cids.get(match[2]!)
      if (map === undefined) throw new Error(`the playlist of ${rendition} names the init section ${match[1]}/${match[2]}, which the recording's directory does not hold`)
    } else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      pdt = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length))
      if (!Number.isFinite(pdt)) throw new Error(`the playlist of ${rendition} has an unreadable date-time: ${line.slice(0, 80)}`)
    } else if (line.startsWith('#EXTINF:')) {
      duration = Number.parseFloat(line.slice('#EXTINF:'.length))
      if (!(duration > 0)) throw new Error(`the playlist of ${rendition} has an unreadable duration: ${line.slice(0, 80)}`)
    } else if (line === '#EXT-X-DISCONTINUITY') {
      discontinuity = true
    } else if (line !== '' && !line.startsWith('#')) {
      const match = /^([a-z0-9][a-z0-9_-]{0,31})\/(\d{1,15})\.(ts|m4s|vtt)$/.exec(line)
      if (match === null || match[1] !== rendition) throw new Error(`the playlist of ${rendition} lists "${line.slice(0, 80)}", not ${rendition}/<seq>.ts, .m4s or .vtt`)
      if ((match[3] === 'm4s') !== (map !== undefined)) throw new Error(`the playlist of ${rendition} lists ${line} ${map === undefined ? 'without an #EXT-X-MAP before it' : 'after an #EXT-X-MAP, which MPEG-TS segments do not take'}`)
      const cid = cids.get(`${match[2]}.${match[3]}`)
      if (cid === undefined) throw new Error(`the playlist of ${rendition} lists ${line}, which the recording's directory does not hold`)
      if (pdt === undefined || duration === undefined) throw new Error(`the playlist of ${rendition} lists ${line} without a date-time and duration before it`)
      entries.push({ seq: Number(match[2]), cid, duration, pdt, discontinuity, gap: false, ...map === undefined ? {} : { map }, ...match[3] === 'vtt' ? { webvtt: true } : {} })
      if (entries.length > MAX_ENTRIES) throw new Error(`the playlist of ${rendition} lists more than ${MAX_ENTRIES} segments`)
      pdt = undefined
      duration = undefined
      discontinuity = false
    }
  }
  return entries
}

/** The entries that overlap the range: every segment playing at some instant in [from, to). */
export function cutToRange (entries: PlaylistEntry[], range: TimeRange): PlaylistEntry[] {
  const from = range.from ?? -Infinity
  const to = range.to ?? Infinity
  return entries.filter(e => e.pdt < to && e.pdt + e.duration * 1000 > from)
}
