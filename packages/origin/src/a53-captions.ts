/**
 * The closed captions an MPEG-TS segment's H.264 video carries: ATSC A/53 `cc_data` in SEI messages
 * (`user_data_registered_itu_t_t35`, country 0xB5, provider 0x0031, `GA94`, type 3), the way
 * broadcast encoders, OBS and ffmpeg's libx264 (`a53cc`, on by default) write them. Read from the
 * reference rendition's segment bytes: every input kind (RTMP, SRT, MPEG-TS, a file) reaches them the
 * same way, and they cost no ffmpeg run.
 */
import { readPts } from './mpegts-timestamps.ts'

const PACKET = 188
const SYNC = 0x47
const SEI_NAL = 6
const T35_PAYLOAD = 4
/** country 0xB5 (USA), provider 0x0031 (ATSC), 'GA94', user_data_type_code 3 (cc_data). */
const GA94_PREFIX = [0xb5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03]
/** cc_type 0: CEA-608 field 1 (CC1/CC2). Field 2 and the 708 packets are not read. */
const FIELD_1 = 0

/** The CEA-608 field-1 byte pairs of one video access unit, at its presentation time. */
export interface CaptionPairs {
  /** 90 kHz PTS of the access unit (33 bits). */
  pts: number
  /** Byte pairs as sent, parity bits included. */
  pairs: Array<[number, number]>
}

/**
 * The field-1 caption pairs of every video access unit in `bytes` (MPEG-TS), in presentation order
 * (an encoder with B-frames writes them in decode order). Empty when there are none.
 */
export function captionPairs (bytes: Uint8Array): CaptionPairs[] {
  const units: CaptionPairs[] = []
  for (const pes of videoPes(bytes)) {
    const pairs = ccPairs(pes.payload)
    if (pairs.length > 0) units.push({ pts: pes.pts, pairs })
  }
  // Within a segment the PTS does not wrap in practice (26.5 h period); sort is stable for equal PTS.
  return units.sort((a, b) => a.pts - b.pts)
}

interface Pes { pts: number, payload: Uint8Array }

/** The PES packets of the first video stream (stream id 0xE0-0xEF) with a PTS. */
function videoPes (bytes: Uint8Array): Pes[] {
  const out: Pes[] = []
  let pid: number | undefined
  let parts: Uint8Array[] = []
  const finish = (): void => {
    if (parts.length === 0) return
    const pes = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    parts = []
    if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1 || (pes[7]! & 0x80) === 0) return
    const headerEnd = 9 + pes[8]!
    if (headerEnd > pes.length) return
    out.push({ pts: readPts(pes, 9), payload: pes.subarray(headerEnd) })
  }
  for (let at = 0; at + PACKET <= bytes.length; at += PACKET) {
    if (bytes[at] !== SYNC) break
    const start = (bytes[at + 1]! & 0x40) !== 0
    const packetPid = ((bytes[at + 1]! & 0x1f) << 8) | bytes[at + 2]!
    const control = (bytes[at + 3]! >> 4) & 0x3
    if ((control & 0x1) === 0) continue
    const payloadAt = at + 4 + ((control & 0x2) !== 0 ? 1 + bytes[at + 4]! : 0)
    if (payloadAt >= at + PACKET) continue
    const payload = bytes.subarray(payloadAt, at + PACKET)
    if (pid === undefined) {
      if (!start || payload.length < 4 || payload[0] !== 0 || payload[1] !== 0 || payload[2] !== 1 || payload[3]! < 0xe0 || payload[3]! > 0xef) continue
      pid = packetPid
    }
    if (packetPid !== pid) continue
    if (start) finish()
    parts.push(payload)
  }
  finish()
  return out
}

/** The field-1 cc_data pairs of the GA94 SEI messages among an access unit's NAL units (Annex B). */
function ccPairs (au: Uint8Array): Array<[number, number]> {
  const pairs: Array<[number, number]> = []
  for (const nal of nalUnits(au)) {
    if ((nal[0]! & 0x1f) !== SEI_NAL) continue
    const rbsp = unescapeRbsp(nal.subarray(1))
    let at = 0
    // SEI messages until the RBSP trailing bits (0x80).
    while (at + 2 <= rbsp.length && rbsp[at] !== 0x80) {
      let type = 0
      while (rbsp[at] === 0xff) { type += 255; at++ }
      type += rbsp[at++] ?? 0
      let size = 0
      while (rbsp[at] === 0xff) { size += 255; at++ }
      size += rbsp[at++] ?? 0
      if (at + size > rbsp.length) break
      if (type === T35_PAYLOAD) pairs.push(...ga94Pairs(rbsp.subarray(at, at + size)))
      at += size
    }
  }
  return pairs
}

function ga94Pairs (payload: Uint8Array): Array<[number, number]> {
  if (payload.length < GA94_PREFIX.length + 2 || GA94_PREFIX.some((b, i) => payload[i] !== b)) return []
  const flags = payload[GA94_PREFIX.length]!
  // process_cc_data_flag
  if ((flags & 0x40) === 0) return []
  const count = flags & 0x1f
  const pairs: Array<[number, number]> = []
  // After the flags byte comes em_data, then cc_count triplets.
  for (let i = 0, at = GA94_PREFIX.length + 2; i < count && at + 3 <= payload.length; i++, at += 3) {
    const head = payload[at]!
    const valid = (head & 0x04) !== 0
    if (valid && (head & 0x03) === FIELD_1) pairs.push([payload[at + 1]!, payload[at + 2]!])
  }
  return pairs
}

/** NAL units of an Annex-B byte stream, each starting at its header byte. */
function nalUnits (data: Uint8Array): Uint8Array[] {
  const starts: number[] = []
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push(i + 3)
      i += 2
    }
  }
  return starts.map((s, k) => {
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : data.length
    // A four-byte start code's leading zero, and trailing zero bytes, belong to no NAL unit.
    while (end > s && data[end - 1] === 0) end--
    return data.subarray(s, end)
  })
}

/** The RBSP of a NAL unit's payload: every emulation prevention byte (00 00 03) removed. */
function unescapeRbsp (data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length)
  let n = 0
  let zeros = 0
  for (const byte of data) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0
      continue
    }
    zeros = byte === 0 ? zeros + 1 : 0
    out[n++] = byte
  }
  return out.subarray(0, n)
}
