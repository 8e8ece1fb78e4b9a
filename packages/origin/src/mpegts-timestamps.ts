/**
 * The first presentation timestamp of an MPEG-TS segment, read from its bytes: the subtitle rendition
 * maps its cue times onto the video's clock with it (`X-TIMESTAMP-MAP`). The first PES packet of a
 * video stream is the segment's first keyframe; without video, the first audio one.
 */

const PACKET = 188
const SYNC = 0x47

/** 90 kHz ticks of the first video (else audio) PES header in `bytes`; undefined when there is none. */
export function firstPts (bytes: Uint8Array): number | undefined {
  let audio: number | undefined
  for (let at = 0; at + PACKET <= bytes.length; at += PACKET) {
    if (bytes[at] !== SYNC) return undefined
    // Only a packet that starts a PES packet carries its header.
    if ((bytes[at + 1]! & 0x40) === 0) continue
    const control = (bytes[at + 3]! >> 4) & 0x3
    if ((control & 0x1) === 0) continue
    const start = at + 4 + ((control & 0x2) !== 0 ? 1 + bytes[at + 4]! : 0)
    if (start + 14 > at + PACKET || bytes[start] !== 0 || bytes[start + 1] !== 0 || bytes[start + 2] !== 1) continue
    const stream = bytes[start + 3]!
    // PTS_DTS_flags: 2 (PTS) or 3 (PTS and DTS).
    if ((bytes[start + 7]! & 0x80) === 0) continue
    const pts = readPts(bytes, start + 9)
    if (stream >= 0xe0 && stream <= 0xef) return pts
    if (stream >= 0xc0 && stream <= 0xdf) audio ??= pts
  }
  return audio
}

/** The 33-bit timestamp of a PES header's five PTS bytes (with marker bits), as a plain number. */
export function readPts (b: Uint8Array, at: number): number {
  return ((b[at]! >> 1) & 0x07) * 2 ** 30 + (b[at + 1]! << 22) + ((b[at + 2]! >> 1) << 15) + (b[at + 3]! << 7) + (b[at + 4]! >> 1)
}
