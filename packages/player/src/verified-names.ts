/**
 * The names hls.js sees. The player writes every playlist hls.js reads itself, from verified data,
 * and names what it lists under a host that does not exist (`hivecast.invalid`), so nothing hls.js is
 * handed points at a relay: the loaders map a name back to the verified entry (rendition and
 * sequence number, or an init section's CID) and fetch its CID from the relays they choose.
 *
 *   https://hivecast.invalid/<scope>/master.m3u8
 *   https://hivecast.invalid/<scope>/<rendition>.m3u8
 *   https://hivecast.invalid/<scope>/<rendition>/<seq>.ts      (.m4s for fMP4, .vtt for subtitles)
 *   https://hivecast.invalid/<scope>/<rendition>/<seq>.<part>.ts   (an LL-HLS part)
 *   https://hivecast.invalid/<scope>/<rendition>/init/<cid>.mp4
 *
 * hls.js adds `?_HLS_msn=<seq>&_HLS_part=<part>` to a media playlist's name for a blocking reload of
 * an LL-HLS playlist: the name then says what to wait for.
 *
 * `<scope>` is `live` or `recording`.
 */
import { isRenditionName, segmentExtension } from '@hivecast/shared'
import type { PlaylistEntry } from '@hivecast/shared'

/** `.invalid` never resolves (RFC 6761): a name that escaped the loaders fetches nothing. */
const ORIGIN = 'https://hivecast.invalid'

export type NameScope = 'live' | 'recording'

export type VerifiedName =
  | { kind: 'master' }
  | { kind: 'media', rendition: string, wait?: { msn: number, part?: number } }
  | { kind: 'segment', rendition: string, seq: number }
  | { kind: 'part', rendition: string, seq: number, part: number }
  | { kind: 'init', rendition: string, cid: string }

export function masterName (scope: NameScope): string {
  return `${ORIGIN}/${scope}/master.m3u8`
}

export function mediaName (scope: NameScope, rendition: string): string {
  return `${ORIGIN}/${scope}/${rendition}.m3u8`
}

export function segmentName (scope: NameScope, rendition: string, entry: PlaylistEntry): string {
  return `${ORIGIN}/${scope}/${rendition}/${entry.seq}.${segmentExtension(entry)}`
}

export function partName (scope: NameScope, rendition: string, seq: number, part: number): string {
  return `${ORIGIN}/${scope}/${rendition}/${seq}.${part}.ts`
}

export function initName (scope: NameScope, rendition: string, cid: string): string {
  return `${ORIGIN}/${scope}/${rendition}/init/${cid}.mp4`
}

/** What a name the player wrote stands for; undefined for any other URL (never fetched). */
export function readName (scope: NameScope, url: string): VerifiedName | undefined {
  const prefix = `${ORIGIN}/${scope}/`
  if (!url.startsWith(prefix)) return undefined
  const [path = '', search] = url.slice(prefix.length).split('?', 2)
  const parts = path.split('/')
  const [first, second, third] = parts
  if (parts.length === 1 && first === 'master.m3u8' && search === undefined) return { kind: 'master' }
  if (parts.length === 1 && first !== undefined && first.endsWith('.m3u8')) {
    const rendition = first.slice(0, -'.m3u8'.length)
    if (!isRenditionName(rendition)) return undefined
    if (search === undefined) return { kind: 'media', rendition }
    const wait = blockingReload(new URLSearchParams(search))
    return wait === undefined ? undefined : { kind: 'media', rendition, wait }
  }
  if (first === undefined || !isRenditionName(first) || search !== undefined) return undefined
  const part = parts.length === 2 ? /^(\d{1,15})\.(\d{1,4})\.ts$/.exec(second ?? '') : null
  if (part !== null) return { kind: 'part', rendition: first, seq: Number(part[1]), part: Number(part[2]) }
  if (parts.length === 2 && second !== undefined) {
    const dot = second.indexOf('.')
    const seq = Number(second.slice(0, dot))
    const extension = second.slice(dot + 1)
    return dot > 0 && Number.isSafeInteger(seq) && seq >= 0 && (extension === 'ts' || extension === 'm4s' || extension === 'vtt') ? { kind: 'segment', rendition: first, seq } : undefined
  }
  if (parts.length === 3 && second === 'init' && third !== undefined && third.endsWith('.mp4')) {
    return { kind: 'init', rendition: first, cid: third.slice(0, -'.mp4'.length) }
  }
  return undefined
}

/** hls.js's `_HLS_msn` and `_HLS_part` (it may add `_HLS_skip`, which this player never offers); undefined for anything else. */
function blockingReload (query: URLSearchParams): { msn: number, part?: number } | undefined {
  const msn = query.get('_HLS_msn')
  const part = query.get('_HLS_part')
  if (msn === null || !/^\d{1,15}$/.test(msn) || (part !== null && !/^\d{1,4}$/.test(part))) return undefined
  return part === null ? { msn: Number(msn) } : { msn: Number(msn), part: Number(part) }
}
