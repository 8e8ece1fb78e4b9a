/**
 * The rendition ladder: named H.264/AAC presets and the `RenditionInfo` each one is announced with.
 * The profile and level are set on the encoder explicitly, so the announced RFC 6381 codec string is
 * the one the segments really carry (x264 writes the level it is given). `source` (or `copy`) is the
 * passthrough rendition: the input's H.264 copied untouched, described by probing its segments.
 *
 * The `av1-*` presets (off by default; `av1` = `av1-720p`) encode AV1 with SVT-AV1 into fMP4 segments
 * with an init section, for browsers that decode AV1: about 60 % of the H.264 bitrate at the same size.
 * SVT-AV1 picks the level itself, so their codec string is read from the init section (`av1C`).
 *
 * `audio` is the audio-only variant: the program's sound as AAC alone at 64 kbit/s, for bad
 * connections and `audio-only` talks. Audio tracks (audio-tracks.ts) add one AAC-only rendition per
 * interpretation language, `audio-<language>`.
 */
import { MAIN_AUDIO_NAME } from '@hivecast/shared'
import type { RenditionInfo } from '@hivecast/shared'
import { AUDIO_TRACK_BITRATE, assertAudioTracks, audioTrackRendition } from './audio-tracks.ts'
import type { AudioTrack } from './audio-tracks.ts'

export interface RenditionPreset {
  name: string
  /** 0 for the passthrough rendition: its size is the source's, known once a segment is probed. */
  width: number
  height: number
  /** Target video bitrate, bits per second (0 for passthrough: measured from its segments). */
  videoBitrate: number
  audioBitrate: number
  /** H.264 level as x264 takes it (`3.1`); the smallest that fits the size at 30 fps. */
  level: string
  /** Copy the input's video untouched instead of encoding it. */
  copy?: boolean
  /** Encode AV1 (SVT-AV1) into fMP4 segments instead of H.264 into MPEG-TS. */
  av1?: boolean
  /** AAC alone, no video: the audio-only variant and the interpretation tracks. */
  audioOnly?: boolean
  /** The input's audio stream it carries (0, the program's own sound, when absent). */
  audioStream?: number
  /** Set on an interpretation track: announced as an alternate audio rendition with these. */
  track?: { language: string, name: string }
}

/** Peak video rate over the target: the VBV cap that also keeps 1 s segments far below 1 MiB. */
const MAXRATE_FACTOR = 1.1
/** MPEG-TS packetisation (headers, PES, PCR, padding) adds several per cent over the elementary streams. */
const TS_OVERHEAD = 1.08
/**
 * AAC alone in MPEG-TS: PES headers and the PAT/PMT repeated every segment weigh more against 8 KB/s;
 * measured 74-75 kbit/s for AAC at 64 kbit/s with 1 s segments (test/audio-renditions.test.ts).
 */
const AUDIO_TS_OVERHEAD = 1.25
const HIGH_PROFILE_IDC = 0x64

/** The passthrough rendition; `copy` is accepted as another name for it. */
export const SOURCE_PRESET: RenditionPreset = { name: 'source', width: 0, height: 0, videoBitrate: 0, audioBitrate: 128_000, level: '', copy: true }

export const RENDITION_PRESETS: readonly RenditionPreset[] = [
  SOURCE_PRESET,
  { name: '1080p', width: 1920, height: 1080, videoBitrate: 4_500_000, audioBitrate: 128_000, level: '4.0' },
  { name: '720p', width: 1280, height: 720, videoBitrate: 2_500_000, audioBitrate: 128_000, level: '3.1' },
  { name: '480p', width: 854, height: 480, videoBitrate: 1_200_000, audioBitrate: 96_000, level: '3.1' },
  { name: '360p', width: 640, height: 360, videoBitrate: 700_000, audioBitrate: 96_000, level: '3.0' },
  { name: '240p', width: 426, height: 240, videoBitrate: 400_000, audioBitrate: 64_000, level: '2.1' },
  { name: 'audio', width: 0, height: 0, videoBitrate: 0, audioBitrate: 64_000, level: '', audioOnly: true },
  { name: 'av1-720p', width: 1280, height: 720, videoBitrate: 1_500_000, audioBitrate: 128_000, level: '', av1: true },
  { name: 'av1-480p', width: 854, height: 480, videoBitrate: 700_000, audioBitrate: 96_000, level: '', av1: true },
  { name: 'av1-360p', width: 640, height: 360, videoBitrate: 400_000, audioBitrate: 96_000, level: '', av1: true }
]

/** Other names for presets: `copy` for the passthrough, `av1` for the AV1 one most rooms want. */
const ALIASES: Readonly<Record<string, string>> = { copy: 'source', av1: 'av1-720p' }

export const DEFAULT_RENDITIONS: readonly string[] = ['720p', '480p', '360p']

/** Until the passthrough's segments are measured: a generous guess, so no player skips it for being too big. */
const PASSTHROUGH_BANDWIDTH_GUESS = 6_000_000

const presetNames = (): string => `${RENDITION_PRESETS.map(p => p.name).join(', ')} (copy = source, av1 = av1-720p)`

/**
 * 0 for the passthrough, 1 for H.264, 2 for the audio-only variant, 3 for interpretation tracks, 4 for
 * AV1: the order the ladder command writes them in (MPEG-TS ones in one output, then fMP4 ones).
 */
const kindOrder = (preset: RenditionPreset): number =>
  preset.copy === true ? 0 : preset.av1 === true ? 4 : preset.track !== undefined ? 3 : preset.audioOnly === true ? 2 : 1

/** The AAC-only rendition of an interpretation track. */
function trackPreset (track: AudioTrack): RenditionPreset {
  return {
    name: audioTrackRendition(track),
    width: 0,
    height: 0,
    videoBitrate: 0,
    audioBitrate: AUDIO_TRACK_BITRATE,
    level: '',
    audioOnly: true,
    audioStream: track.stream,
    track: { language: track.language, name: track.name }
  }
}

/**
 * Resolves preset names and audio tracks: the passthrough first, then H.264 best first, the audio-only
 * variant, the interpretation tracks, then AV1 best first. Throws naming the valid ones when a name is
 * unknown or repeated, or when no rendition carries video.
 */
export function resolveRenditions (names: readonly string[], tracks: readonly AudioTrack[] = []): RenditionPreset[] {
  if (names.length === 0) throw new Error(`no renditions chosen: pick one or more of ${presetNames()}`)
  const chosen: RenditionPreset[] = []
  for (const name of names) {
    const preset = RENDITION_PRESETS.find(p => p.name === (ALIASES[name] ?? name))
    if (preset === undefined) throw new Error(`unknown rendition "${name}": use one or more of ${presetNames()}`)
    if (chosen.includes(preset)) throw new Error(`rendition "${name}" is listed twice`)
    chosen.push(preset)
  }
  if (chosen.every(p => p.audioOnly === true)) throw new Error('"audio" alone is no ladder: add a video rendition, e.g. audio,360p')
  chosen.push(...assertAudioTracks(tracks).map(trackPreset))
  // Sort is stable: the interpretation tracks keep the order they were given in.
  return chosen.sort((a, b) => kindOrder(a) - kindOrder(b) || b.height - a.height)
}

export function videoMaxrate (preset: RenditionPreset): number {
  return Math.round(preset.videoBitrate * MAXRATE_FACTOR)
}

/** `avc1.PPCCLL,mp4a.40.2`: High profile, no constraint flags, the preset's level; AAC-LC. */
export function codecsFor (preset: RenditionPreset): string {
  const levelIdc = Math.round(Number(preset.level) * 10)
  const hex = (n: number): string => n.toString(16).padStart(2, '0')
  return `avc1.${hex(HIGH_PROFILE_IDC)}00${hex(levelIdc)},mp4a.40.2`
}

/** The announced info before any segment is probed; `frameRate` 0 means not known yet. */
export function renditionInfo (preset: RenditionPreset, frameRate: number): RenditionInfo {
  if (preset.audioOnly === true) {
    return {
      name: preset.name,
      bandwidth: Math.round(preset.audioBitrate * AUDIO_TS_OVERHEAD),
      width: 0,
      height: 0,
      codecs: 'mp4a.40.2',
      frameRate: 0,
      audio: preset.track === undefined ? { role: 'main', name: MAIN_AUDIO_NAME } : { role: 'alternate', ...preset.track }
    }
  }
  if (preset.copy === true) {
    return { name: preset.name, bandwidth: PASSTHROUGH_BANDWIDTH_GUESS, width: 0, height: 0, codecs: 'avc1.640028,mp4a.40.2', frameRate }
  }
  return {
    name: preset.name,
    // HLS BANDWIDTH is the peak rate: capped video plus audio plus container overhead.
    bandwidth: Math.round((videoMaxrate(preset) + preset.audioBitrate) * TS_OVERHEAD),
    width: preset.width,
    height: preset.height,
    // Main profile, level 4.0, 8 bits until the first init section says which level SVT-AV1 chose.
    codecs: preset.av1 === true ? 'av01.0.08M.08,mp4a.40.2' : codecsFor(preset),
    frameRate
  }
}

/**
 * The passthrough's BANDWIDTH from a segment's measured rate: the peak so far with headroom, rounded
 * up to 250 kbit/s steps so the master playlist changes rarely. `current` is undefined before the first.
 */
export function passthroughBandwidth (current: number | undefined, segmentBytes: number, seconds: number): number {
  const measured = segmentBytes * 8 / Math.max(0.1, seconds) * 1.2
  const step = 250_000
  return Math.max(current ?? 0, Math.ceil(measured / step) * step)
}
