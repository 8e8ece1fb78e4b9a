/**
 * What a finished segment really carries, for the master playlist: the video's codec, size and frame
 * rate from ffprobe, and the exact RFC 6381 video codec string: H.264's (`avc1.PPCCLL`) read from the
 * sequence parameter set in the segment's bytes, AV1's (`av01.P.LLT.DD`) from the fMP4 init section.
 * Used for the passthrough rendition, whose source is only known once it arrives, for the level
 * SVT-AV1 chose, and for the frame rate of every rendition (the input's, not a fixed 30).
 */
import { execa } from 'execa'

export interface ProbedVideo {
  /** ffprobe's codec name, e.g. `h264`. */
  codec: string
  width: number
  height: number
  /** Frames per second, 0 when ffprobe could not tell. */
  frameRate: number
  /** `avc1.PPCCLL` from the first SPS, or `av01.P.LLT.DD` from the init section, when found. */
  videoCodec: string | undefined
}

const PROBE_TIMEOUT_MS = 10_000

/** `30000/1001` -> 29.97; anything unusable -> 0. */
export function parseFrameRate (value: unknown): number {
  if (typeof value !== 'string') return 0
  const [num, den] = value.split('/').map(Number)
  if (num === undefined || !Number.isFinite(num) || num <= 0) return 0
  const rate = den === undefined ? num : den > 0 ? num / den : 0
  return rate > 0 && rate <= 240 ? Math.round(rate * 1000) / 1000 : 0
}

/**
 * `avc1.PPCCLL` from the first H.264 sequence parameter set (NAL type 7) in MPEG-TS bytes: the three
 * bytes after its header are profile_idc, the constraint flags and level_idc. An SPS is a few dozen
 * bytes at the start of a keyframe's PES payload, so it sits inside one TS packet.
 */
export function avc1FromBytes (bytes: Uint8Array): string | undefined {
  for (let i = 0; i + 6 < bytes.length; i++) {
    if (bytes[i] !== 0 || bytes[i + 1] !== 0 || bytes[i + 2] !== 1) continue
    if ((bytes[i + 3]! & 0x1f) !== 7) continue
    const profile = bytes[i + 4]!
    // Profiles H.264 defines; anything else is a false start code match inside other data.
    if (![66, 77, 88, 100, 110, 122, 244, 44, 83, 86, 118, 128].includes(profile)) continue
    const hex = (n: number): string => n.toString(16).padStart(2, '0').toUpperCase()
    return `avc1.${hex(profile)}${hex(bytes[i + 5]!)}${hex(bytes[i + 6]!)}`
  }
  return undefined
}

/**
 * `av01.P.LLT.DD` from the `av1C` box of an fMP4 init section (ISO/IEC 14496-15 for AV1):
 * the byte after its marker holds seq_profile and seq_level_idx_0, the next the tier and bit depth.
 */
export function av01FromInit (init: Uint8Array): string | undefined {
  for (let i = 4; i + 7 < init.length; i++) {
    // 'av1C', then marker (1) and version (1) in one byte: 0x81.
    if (init[i] !== 0x61 || init[i + 1] !== 0x76 || init[i + 2] !== 0x31 || init[i + 3] !== 0x43 || init[i + 4] !== 0x81) continue
    const profile = init[i + 5]! >> 5
    const level = init[i + 5]! & 0x1f
    const flags = init[i + 6]!
    const tier = (flags & 0x80) !== 0 ? 'H' : 'M'
    const depth = (flags & 0x40) === 0 ? 8 : (flags & 0x20) !== 0 ? 12 : 10
    return `av01.${profile}.${String(level).padStart(2, '0')}${tier}.${String(depth).padStart(2, '0')}`
  }
  return undefined
}

/**
 * Probes a segment's first video stream, an fMP4 segment together with its init section (fed to
 * ffprobe on stdin, as one file); throws with ffprobe's reason when it cannot.
 */
export async function probeSegment (ffprobe: string, bytes: Uint8Array, init?: Uint8Array): Promise<ProbedVideo> {
  const input = init === undefined ? bytes : Buffer.concat([init, bytes])
  const result = await execa(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,r_frame_rate,avg_frame_rate',
    '-of', 'json', '-i', 'pipe:0'], { input, reject: false, timeout: PROBE_TIMEOUT_MS })
  if (result.exitCode !== 0) throw new Error(`ffprobe could not read it: ${String(result.stderr).split('\n')[0] ?? `exit ${result.exitCode}`}`)
  let stream: Record<string, unknown> | undefined
  try {
    stream = (JSON.parse(String(result.stdout)) as { streams?: Array<Record<string, unknown>> }).streams?.[0]
  } catch {
    throw new Error('ffprobe printed no JSON')
  }
  if (stream === undefined) throw new Error('it has no video stream')
  const codec = typeof stream.codec_name === 'string' ? stream.codec_name : 'unknown'
  const size = (v: unknown): number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 8192 ? v : 0
  // The stream's base rate; the average over one short segment can be off by a frame.
  const frameRate = parseFrameRate(stream.r_frame_rate) || parseFrameRate(stream.avg_frame_rate)
  const videoCodec = codec === 'h264' ? avc1FromBytes(bytes) : codec === 'av1' && init !== undefined ? av01FromInit(init) : undefined
  return { codec, width: size(stream.width), height: size(stream.height), frameRate, videoCodec }
}
