/**
 * The ffmpeg command for a whole ladder: one process decodes (or generates) the input once, splits
 * and scales it per rendition, and writes one HLS media playlist per rendition. Every encoded rendition
 * gets a keyframe exactly every segment (forced at segment times, no scene-cut keyframes), so segments
 * line up across renditions and each one starts with a keyframe. The frame rate is the input's.
 *
 * A passthrough rendition (`copy`) is the input's H.264 untouched: ffmpeg can only cut it at the
 * source's own keyframes, so its segments are as long as the mixer's GOP (set the mixer's keyframe
 * interval to the segment duration). With one in the ladder the encoded renditions key on the source's
 * keyframes too (`-force_key_frames source`), so every rendition still cuts at the same moments.
 * Every output's timestamps are shifted onto the room's media timeline (see media-timeline.ts).
 * Audio-only renditions (the audio-only variant, interpretation tracks) are AAC variants of the
 * MPEG-TS output, on the same clock, so a player can play one beside any video variant.
 *
 * With `continuous` (LL-HLS parts on), each MPEG-TS rendition is instead one endless MPEG-TS written to
 * a pipe, flushed packet by packet and encoded without lookahead, which the origin cuts into segments
 * and parts itself as it arrives (stream-segmenter.ts): Debian's ffmpeg 5.1 hls muxer writes an MPEG-TS
 * segment only once it is complete, which leaves nothing to cut into early parts. The rendition at
 * ladder index i writes to file descriptor `continuousOutputFd(i)`.
 */
import { join } from 'node:path'
import { videoMaxrate } from './rendition-ladder.ts'
import type { RenditionPreset } from './rendition-ladder.ts'
import type { PreparedInput } from './stream-input.ts'

export interface LadderCommandOptions {
  input: PreparedInput
  renditions: readonly RenditionPreset[]
  /** The input's frame rate when known (the test pattern): sets the GOP length to match. */
  frameRate?: number
  segmentDuration: number
  /** `<data>/hls`; the rendition at index i writes `<hlsDir>/<i>/index.m3u8` (see `renditionDir`). */
  hlsDir: string
  /** Distinguishes this run's segment files from any earlier run's. */
  runId: number
  /** How many segments ffmpeg keeps listed: the slack the origin has to pick each one up. */
  listSize?: number
  /** Write `-progress` key=value blocks to stdout for the origin's metrics. */
  progress?: boolean
  /**
   * Seconds added to every output timestamp: the run's place on the room's media timeline
   * (`runTimestampOffset`), so timestamps go on rising across runs. None when absent.
   */
  timestampOffset?: number
  /** Write each MPEG-TS rendition as one continuous MPEG-TS to a pipe (`continuousOutputFd`), not as HLS files. */
  continuous?: boolean
}

/** The file descriptor ffmpeg writes the continuous MPEG-TS of the rendition at ladder index `index` to. */
export function continuousOutputFd (index: number): number {
  return 3 + index
}

export const PLAYLIST_NAME = 'index.m3u8'

/** Where ffmpeg writes the rendition at `index` of the ladder. */
export function renditionDir (hlsDir: string, index: number): string {
  return join(hlsDir, String(index))
}

/** `[0:v:0]` (a filtergraph pad) as a `-map` specifier. */
function mapSpecifier (pad: string): string {
  return pad.replace(/^\[|\]$/g, '')
}

export function ladderArgs (options: LadderCommandOptions): string[] {
  const { input, renditions, segmentDuration, hlsDir, runId } = options
  const encoded = renditions.flatMap((r, i) => r.copy === true || r.audioOnly === true ? [] : [i])
  const passthrough = encoded.length < renditions.length
  // The MPEG-TS output: H.264 variants, then audio-only ones.
  const h264 = renditions.flatMap((r, i) => r.av1 === true ? [] : [i])
  const av1 = renditions.flatMap((r, i) => r.av1 === true ? [i] : [])
  const withVideo = h264.filter(i => renditions[i]!.audioOnly !== true)
  // The MPEG-TS output numbers its variants 0..n-1 (`%v`), which must be their ladder indices, and
  // its video streams v:0..m-1, which must be the same: video variants first, then audio, then AV1.
  if (h264.some((i, k) => i !== k) || withVideo.some((i, k) => i !== k)) {
    throw new Error('the AV1 renditions must come after the H.264 ones, and audio-only ones after the video ones, as resolveRenditions orders them')
  }
  const branches = encoded.map(i => `[s${i}]`)
  const chains: string[] = []
  if (branches.length > 0) chains.push(`${input.videoPad}${[...input.videoFilters, `split=${branches.length}`].join(',')}${branches.join('')}`)
  for (const i of encoded) chains.push(`[s${i}]scale=${renditions[i]!.width}:${renditions[i]!.height}:flags=bicubic,setsar=1[v${i}]`)

  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    ...(options.progress === true ? ['-progress', 'pipe:1'] : []), ...input.args]
  if (chains.length > 0) args.push('-filter_complex', chains.join(';'))
  const keyframes = passthrough
    ? 'source'
    // Every segment's duration after the previous forced keyframe: the same frames in every rendition.
    : `expr:if(isnan(prev_forced_t),1,gte(t,prev_forced_t+${segmentDuration}))`
  const gop = options.frameRate === undefined ? undefined : Math.round(options.frameRate * segmentDuration)
  const offset = options.timestampOffset === undefined ? [] : ['-output_ts_offset', options.timestampOffset.toFixed(3)]
  const hls = ['-f', 'hls', '-hls_time', String(segmentDuration), '-hls_list_size', String(options.listSize ?? 30),
    // temp_file: a segment is written under a .tmp name and only listed after its rename, so a
    // listed segment is always complete.
    '-hls_flags', 'temp_file+independent_segments+program_date_time', ...offset]
  const audio = ['-c:a', 'aac', '-ar', '48000', '-ac', '2']
  /** The x264 (or copy) options of rendition `i`, for the output's video stream `spec` (`v:0`). */
  const videoCodec = (i: number, spec: string): string[] => {
    const r = renditions[i]!
    if (r.copy === true) return [`-c:${spec}`, 'copy']
    const maxrate = videoMaxrate(r)
    return [`-c:${spec}`, 'libx264', `-preset:${spec}`, 'veryfast', `-profile:${spec}`, 'high', `-pix_fmt:${spec}`, 'yuv420p',
      `-level:${spec}`, r.level, `-b:${spec}`, String(r.videoBitrate), `-maxrate:${spec}`, String(maxrate), `-bufsize:${spec}`, String(maxrate),
      `-force_key_frames:${spec}`, keyframes, `-sc_threshold:${spec}`, '0',
      ...(gop === undefined || passthrough ? [] : [`-g:${spec}`, String(gop), `-keyint_min:${spec}`, String(gop)])]
  }
  const videoMap = (i: number): string => renditions[i]!.copy === true ? mapSpecifier(input.videoPad) : `[v${i}]`

  if (h264.length > 0 && options.continuous === true) {
    for (const i of h264) {
      const r = renditions[i]!
      // x264 without lookahead and B-frames (`zerolatency`): a frame leaves the encoder as it comes in.
      // Measured with 0.333 s parts: last frame -> part listed on two relays p50 787 ms with the
      // defaults, 286 ms with it; it costs picture quality at the same bitrate.
      if (r.audioOnly !== true) args.push('-map', videoMap(i), ...videoCodec(i, 'v:0'), ...(r.copy === true ? [] : ['-tune:v:0', 'zerolatency']))
      args.push('-map', input.audioStreamMap(r.audioStream ?? 0), ...audio, '-b:a', String(r.audioBitrate),
        // Every frame leaves at once, each in a PES of its own (the muxer would gather audio frames
        // into PES of 2,930 bytes): parts are cut as soon as their frames are encoded, on any frame.
        '-flush_packets', '1', '-pes_payload_size', '0', ...offset, '-f', 'mpegts', `pipe:${continuousOutputFd(i)}`)
    }
  } else if (h264.length > 0) {
    withVideo.forEach(i => args.push('-map', videoMap(i)))
    h264.forEach(i => args.push('-map', input.audioStreamMap(renditions[i]!.audioStream ?? 0)))
    withVideo.forEach(i => args.push(...videoCodec(i, `v:${i}`)))
    args.push(...audio)
    h264.forEach(i => args.push(`-b:a:${i}`, String(renditions[i]!.audioBitrate)))
    args.push(...hls, '-hls_segment_type', 'mpegts',
      '-hls_segment_filename', join(hlsDir, '%v', `run${runId}-%d.ts`),
      // Variants are numbered, not named: `name:` in the map needs ffmpeg 4.2+, and the static build
      // the origin falls back to on machines without ffmpeg is older.
      '-var_stream_map', h264.map(i => renditions[i]!.audioOnly === true ? `a:${i}` : `v:${i},a:${i}`).join(' '),
      join(hlsDir, '%v', PLAYLIST_NAME))
  }
  // Each AV1 rendition is an output of its own: fMP4 segments need an init section per playlist.
  for (const i of av1) {
    const r = renditions[i]!
    const dir = renditionDir(hlsDir, i)
    args.push('-map', `[v${i}]`, '-map', input.audioStreamMap(0),
      '-c:v', 'libsvtav1', '-preset', '10', '-pix_fmt', 'yuv420p', '-b:v', String(r.videoBitrate),
      // libsvtav1 in ffmpeg 5.1 ignores -force_key_frames: a GOP of one segment when the frame rate is
      // known, else SVT-AV1's keyint in seconds (one frame longer: segments of 1.04 s at 25 fps).
      ...(gop === undefined ? ['-svtav1-params', `keyint=${segmentDuration}s:scd=0`] : ['-g', String(gop)]),
      ...audio, '-b:a', String(r.audioBitrate),
      ...hls, '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', `run${runId}-init.mp4`,
      // Without frag_discont the mp4 muxer writes each run's tfdt from 0 and puts the offset in an empty
      // edit of the init section, which players reading tfdt (hls.js, MSE) ignore.
      ...(options.timestampOffset === undefined ? [] : ['-hls_segment_options', 'movflags=+frag_discont']),
      '-hls_segment_filename', join(dir, `run${runId}-%d.m4s`),
      join(dir, PLAYLIST_NAME))
  }
  return args
}
