/**
 * What each finished segment is, for its announcement: the first segment of each rendition in a run
 * is probed (the input's frame rate, a passthrough's size and H.264 profile, the AV1 level SVT-AV1
 * chose), and a passthrough rendition's bandwidth is measured from its segments. Kept apart from the
 * origin so the rules can be checked with a stand-in probe.
 */
import type { RenditionInfo } from '@hivecast/shared'
import { InvalidInputError, errorMessage } from '@hivecast/shared'
import type { FinishedSegment } from './playlist-watcher.ts'
import { passthroughBandwidth } from './rendition-ladder.ts'
import type { RenditionPreset } from './rendition-ladder.ts'
import type { ProbedVideo } from './segment-probe.ts'

/** Probes a segment's bytes (and an fMP4 init section); `probeSegment` with ffprobe bound. */
export type SegmentProbe = (bytes: Uint8Array, init?: Uint8Array) => Promise<ProbedVideo>

export interface SegmentDescriberOptions {
  presets: readonly RenditionPreset[]
  /** Undefined without ffprobe: renditions are announced with their presets' values. */
  probe: SegmentProbe | undefined
  log: (line: string) => void
}

export class SegmentDescriber {
  readonly #presets: readonly RenditionPreset[]
  readonly #probe: SegmentProbe | undefined
  readonly #log: (line: string) => void
  /** Renditions probed since the source last changed: the first segment of each says what it carries. */
  readonly #probed = new Map<string, ProbedVideo>()
  /** Passthrough renditions whose bandwidth has been measured in this process. */
  readonly #measured = new Set<string>()

  constructor (options: SegmentDescriberOptions) {
    this.#presets = options.presets
    this.#probe = options.probe
    this.#log = options.log
  }

  /** The source changed (a new ffmpeg run, the slate on or off): probe each rendition's next segment again. */
  reset (): void {
    this.#probed.clear()
  }

  /**
   * The info to announce from this segment on, given the rendition's info so far. Throws
   * InvalidInputError when a passthrough rendition receives video it cannot copy.
   */
  readonly describe = async (segment: FinishedSegment, bytes: Uint8Array, info: RenditionInfo, init?: Uint8Array): Promise<RenditionInfo> => {
    const preset = this.#presets.find(p => p.name === segment.rendition)
    // AAC alone: nothing to probe for (no frame rate, size or video codec), and ffprobe finds no video.
    if (this.#probe === undefined || preset === undefined || preset.audioOnly === true) return info
    let video = this.#probed.get(segment.rendition)
    if (video === undefined) {
      try {
        video = await this.#probe(bytes, init)
      } catch (err) {
        this.#log(`${segment.rendition}: cannot probe ${segment.file} (${errorMessage(err)}); announced as before`)
        return info
      }
      this.#probed.set(segment.rendition, video)
    }
    const next = { ...info, frameRate: video.frameRate > 0 ? video.frameRate : info.frameRate }
    // SVT-AV1 picks the level: announce the one the init section names.
    if (preset.av1 === true) return video.videoCodec === undefined ? next : { ...next, codecs: `${video.videoCodec},mp4a.40.2` }
    if (preset.copy !== true) return next
    if (video.codec !== 'h264') throw new InvalidInputError(`the input's video is ${video.codec}, not H.264: the passthrough rendition "source" copies H.264 only; drop it from the renditions`)
    const bandwidth = passthroughBandwidth(this.#measured.has(segment.rendition) ? info.bandwidth : undefined, bytes.length, segment.duration)
    this.#measured.add(segment.rendition)
    return { ...next, width: video.width, height: video.height, codecs: `${video.videoCodec ?? 'avc1.640028'},mp4a.40.2`, bandwidth }
  }
}
