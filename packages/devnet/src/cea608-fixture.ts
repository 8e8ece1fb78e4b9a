/**
 * A test input with CEA-608 closed captions, for the caption tests: ffmpeg 5.1 has no 608 encoder,
 * and what it reads of captions (`-f scc`, a MOV `c608` track) it cannot put into H.264, whose A/53
 * SEI is where broadcast encoders and OBS carry them and where ffmpeg's H.264 decoder finds them. So
 * ffmpeg encodes a test picture to an H.264 Annex-B stream (one access unit delimiter per frame, no
 * B-frames), this file writes a GA94 `cc_data` SEI NAL unit (`user_data_registered_itu_t_t35`,
 * country 0xB5, provider 0x0031) before the first slice of chosen frames, and ffmpeg muxes it with a
 * tone into MPEG-TS with `-c:v copy`. The captions are pop-on: each caption is loaded (RCL, ENM, a
 * preamble address for row 15, the text), shown (EOC) and erased (EDM), control codes sent twice and
 * every byte with odd parity, as the standard has them.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** One caption of the fixture: `text` (see `loadPairs`) shown during [from, to) seconds. */
export interface FixtureCaption {
  text: string
  from: number
  to: number
}

export interface Cea608FixtureOptions {
  /** The MPEG-TS file to write. */
  file: string
  /** Length in seconds. */
  seconds: number
  captions: readonly FixtureCaption[]
  frameRate?: number
  /** ffmpeg to run (default `ffmpeg` from PATH). */
  ffmpeg?: string
}

/** A byte with its top bit set so that it has an odd number of ones. */
export function withOddParity (byte: number): number {
  let ones = 0
  for (let b = byte & 0x7f; b !== 0; b >>= 1) ones += b & 1
  return ones % 2 === 0 ? byte | 0x80 : byte & 0x7f
}

type Pair = [number, number]
const pair = (a: number, b: number): Pair => [withOddParity(a), withOddParity(b)]
/** Control codes of channel CC1 are sent twice in a row. */
const control = (b: number): Pair[] => [pair(0x14, b), pair(0x14, b)]
const RCL = 0x20
const EDM = 0x2c
const ENM = 0x2e
const EOC = 0x2f
/** Preamble address code: row 15, white, column 0. */
const ROW_15: Pair[] = [pair(0x14, 0x60), pair(0x14, 0x60)]

/** The pairs that load `text` off screen; EOC (`showPairs`) then shows it at once. */
export function loadPairs (text: string): Pair[] {
  // The printable ASCII that 608 keeps as ASCII (it puts accented letters at * \ ^ _ ` { | } ~).
  if (!/^[ -)+-[\]a-z]{1,32}$/.test(text)) throw new Error(`fixture caption "${text}": 1-32 printable ASCII characters other than * \\ ^ _ \` { | } ~`)
  const chars = [...text].map(c => c.charCodeAt(0))
  const textPairs: Pair[] = []
  for (let i = 0; i < chars.length; i += 2) textPairs.push(pair(chars[i]!, chars[i + 1] ?? 0))
  return [...control(RCL), ...control(ENM), ...ROW_15, ...textPairs]
}

export const showPairs = (): Pair[] => control(EOC)
export const erasePairs = (): Pair[] => control(EDM)

/** An H.264 SEI NAL unit (start code included) carrying one A/53 `cc_data` with `pairs` for field 1. */
export function captionSei (pairs: readonly Pair[]): Uint8Array {
  if (pairs.length > 31) throw new Error('cc_count has 5 bits: at most 31 pairs in one SEI')
  const payload = [0xb5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03, 0xc0 | pairs.length, 0xff,
    ...pairs.flatMap(([a, b]) => [0xfc, a, b]), 0xff]
  // No emulation prevention byte is ever needed: every pair follows a 0xFC marker and the payload
  // ends 0xFF 0x80, so no 00 00 is followed by a byte of 3 or less.
  return Uint8Array.from([0, 0, 0, 1, 0x06, 4, payload.length, ...payload, 0x80])
}

/**
 * `annexB` with `seis.get(n)` inserted before the first slice of frame n (frames counted by their
 * access unit delimiters, in decode order, which is display order without B-frames).
 */
export function insertSei (annexB: Uint8Array, seis: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = []
  let frame = -1
  let inserted = true
  let copiedTo = 0
  for (let i = 0; i + 3 < annexB.length; i++) {
    if (annexB[i] !== 0 || annexB[i + 1] !== 0 || annexB[i + 2] !== 1) continue
    const type = annexB[i + 3]! & 0x1f
    // The start code may be four bytes long: insert before its leading zero.
    const at = i > 0 && annexB[i - 1] === 0 ? i - 1 : i
    if (type === 9) {
      frame++
      inserted = false
    } else if ((type === 1 || type === 5) && !inserted) {
      inserted = true
      const sei = seis.get(frame)
      if (sei !== undefined) {
        parts.push(annexB.subarray(copiedTo, at), sei)
        copiedTo = at
      }
    }
    i += 2
  }
  parts.push(annexB.subarray(copiedTo))
  return Buffer.concat(parts)
}

/**
 * Writes `options.file`: a test picture and a tone with the captions in the video's A/53 SEI. The
 * pairs of a caption go out one per frame from 20 frames before its `from` (loading), EOC at `from`,
 * EDM at `to`.
 */
export async function writeCea608Fixture (options: Cea608FixtureOptions): Promise<void> {
  const ffmpeg = options.ffmpeg ?? 'ffmpeg'
  const rate = options.frameRate ?? 25
  const frames = Math.round(options.seconds * rate)
  const raw = `${options.file}.raw.h264`
  const captioned = `${options.file}.cc.h264`
  await run(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${rate}`,
    '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', String(rate), '-x264-params', 'aud=1', '-f', 'h264', raw])
  const perFrame = new Map<number, Pair[]>()
  const at = (frame: number, pairs: Pair[]): void => {
    pairs.forEach((p, k) => {
      const f = frame + k
      if (f >= 0 && f < frames) perFrame.set(f, [...perFrame.get(f) ?? [], p])
    })
  }
  let free = 0
  for (const caption of options.captions) {
    const from = Math.round(caption.from * rate)
    const load = loadPairs(caption.text)
    // Interleaved control codes would no longer be pairs sent twice (a second EOC shows the other memory).
    if (from - load.length < free || caption.to <= caption.from) throw new Error(`fixture caption "${caption.text}" overlaps the one before or ends before it starts: it needs ${load.length} frames to load after the last EDM`)
    free = Math.round(caption.to * rate) + 2
    at(from - load.length, load)
    at(from, showPairs())
    at(Math.round(caption.to * rate), erasePairs())
  }
  const seis = new Map([...perFrame].map(([frame, pairs]) => [frame, captionSei(pairs)]))
  await writeFile(captioned, insertSei(new Uint8Array(await readFile(raw)), seis))
  try {
    await run(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-fflags', '+genpts', '-r', String(rate), '-f', 'h264', '-i', captioned,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${options.seconds}`,
      '-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'aac', '-f', 'mpegts', options.file])
  } finally {
    await rm(raw, { force: true })
    await rm(captioned, { force: true })
  }
}
