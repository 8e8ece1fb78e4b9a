/**
 * The names hls.js sees. The player writes every playlist hls.js reads itself, from verified data,
 * and names what it lists under a host that does not exist (`hivecast.invalid`), so nothing hls.js is
 * handed points at a relay: the loaders map a name back to the verified entry (rendition and
 * sequence number, or an init section's CID) and fetch its CID from the relays they choose.
 *
 *   https://hivecast.invalid/<scope>/master.m3u8
 *   https://hivecast.invalid/<scope>/<rendition>.m3u8
 *   https://hivecast.invalid/<scope>/<rendition>/<seq>.ts      (.m4s for fMP4, .vtt for subtitles)
 *   https://hivecast.invalid/<scope>/<rendition>/init/<cid>.mp4
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
  | { kind: 'media', rendition: string }
  | { kind: 'segment', rendition: string, seq: number }
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

export function initName (scope: NameScope, rendition: string, cid: string): string {
  return `${ORIGIN}/${scope}/${rendition}/init/${cid}.mp4`
}

/** What a name the player wrote stands for; undefined for any other URL (never fetched). */
export function readName (scope: NameScope, url: string): VerifiedName | undefined {
  const prefix = `${ORIGIN}/${scope}/`
  if (!url.startsWith(prefix)) return undefined
  const parts = url.slice(prefix.length).split('/')
  const [first, second, third] = parts
  if (parts.length === 1 && first === 'master.m3u8') return { kind: 'master' }
  if (parts.length === 1 && first !== undefined && first.endsWith('.m3u8')) {
    const rendition = first.slice(0, -'.m3u8'.length)
    return isRenditionName(rendition) ? { kind: 'media', rendition } : undefined
  }
  if (first === undefined || !isRenditionName(first)) return undefined
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
