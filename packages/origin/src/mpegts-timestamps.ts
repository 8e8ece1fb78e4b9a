/**
 * The first presentation timestamp of an MPEG-TS segment, read from its bytes: the subtitle rendition
 * maps its cue times onto the video's clock with it (`X-TIMESTAMP-MAP`). The first PES packet of a
 * video stream is the segment's first keyframe; without video, the first audio one. The origin's part
 * cutter finds where to cut a segment into parts by the same headers (`pesStart`).
 */

export const TS_PACKET = 188
const PACKET = TS_PACKET
export const TS_SYNC = 0x47
const SYNC = TS_SYNC

/** 90 kHz ticks of the first video (else audio) PES header in `bytes`; undefined when there is none. */
export function firstPts (bytes: Uint8Array): number | undefined {
  let audio: number | undefined
  for (let at = 0; at + PACKET <= bytes.length; at += PACKET) {
    if (bytes[at] !== SYNC) return undefined
    const pes = pesStart(bytes, at)
    if (pes === undefined) continue
    if (pes.video) return pes.pts
    if (pes.audio) audio ??= pes.pts
  }
  return audio
}

/** The timestamps of a PES packet that starts in one TS packet. */
export interface PesStart {
  video: boolean
  audio: boolean
  /** 90 kHz ticks, 33 bits. */
  pts: number
  /** The decoding time: DTS when the header has one, else the PTS. */
  dts: number
}

/**
 * The PES header starting in the TS packet at `at` (whose sync byte the caller checked), when it
 * starts one and carries a PTS; undefined otherwise.
 */
export function pesStart (bytes: Uint8Array, at: number): PesStart | undefined {
  // Only a packet that starts a PES packet carries its header.
  if ((bytes[at + 1]! & 0x40) === 0) return undefined
  const control = (bytes[at + 3]! >> 4) & 0x3
  if ((control & 0x1) === 0) return undefined
  const start = at + 4 + ((control & 0x2) !== 0 ? 1 + bytes[at + 4]! : 0)
  if (start + 14 > at + PACKET || bytes[start] !== 0 || bytes[start + 1] !== 0 || bytes[start + 2] !== 1) return undefined
  const stream = bytes[start + 3]!
  // PTS_DTS_flags: 2 (PTS) or 3 (PTS and DTS).
  const flags = bytes[start + 7]! >> 6
  if ((flags & 0x2) === 0) return undefined
  const pts = readPts(bytes, start + 9)
  const dts = flags === 3 && start + 19 <= at + PACKET ? readPts(bytes, start + 14) : pts
  return { video: stream >= 0xe0 && stream <= 0xef, audio: stream >= 0xc0 && stream <= 0xdf, pts, dts }
}

/** The 33-bit timestamp of a PES header's five PTS bytes (with marker bits), as a plain number. */
export function readPts (b: Uint8Array, at: number): number {
  return ((b[at]! >> 1) & 0x07) * 2 ** 30 + (b[at + 1]! << 22) + ((b[at + 2]! >> 1) << 15) + (b[at + 3]! << 7) + (b[at + 4]! >> 1)
}
