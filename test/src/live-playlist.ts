/** Reading a relay's live HLS media playlist the way a fault test needs it: which seq has which CID. */
import assert from 'node:assert/strict'

export interface ListedSegment {
  seq: number
  cid: string
  /** Preceded by `#EXT-X-DISCONTINUITY`. */
  discontinuity: boolean
}

/** Segments of a media playlist whose URIs are `/ipfs/<cid>?filename=…`, numbered from `#EXT-X-MEDIA-SEQUENCE`. */
export function listedSegments (playlist: string): ListedSegment[] {
  let seq = Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m.exec(playlist)?.[1] ?? 0)
  let discontinuity = false
  const segments: ListedSegment[] = []
  for (const line of playlist.split('\n')) {
    if (line === '#EXT-X-DISCONTINUITY') discontinuity = true
    if (!line.startsWith('/ipfs/')) continue
    segments.push({ seq: seq++, cid: new URL(line, 'http://relay').pathname.slice('/ipfs/'.length), discontinuity })
    discontinuity = false
  }
  return segments
}

/** The relay's media playlist of `rendition`, parsed; throws (for `eventually`) when the relay does not answer 200. */
export async function relayPlaylist (relayUrl: string, room: string, rendition: string): Promise<ListedSegment[]> {
  const res = await fetch(`${relayUrl}/hls/${room}/${rendition}.m3u8`, { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200, `${relayUrl} answered ${res.status} for the ${rendition} playlist`)
  return listedSegments(await res.text())
}
