/**
 * The slate: while no input arrives, a looped video or a still image (a "we'll be right back" card)
 * is encoded into the same ladder by a second ffmpeg and published in the input's place, so viewers
 * see a card rather than a stalled stream. The origin starts it when the input has been silent for a
 * while and stops it at the input's first new segment; each join is a discontinuity. Its audio is
 * silence. A passthrough rendition cannot copy a slate: during the slate it is encoded at 720p.
 */
import { mkdir, rm } from 'node:fs/promises'
import { extname } from 'node:path'
import { FfmpegSupervisor } from './ffmpeg-supervisor.ts'
import { ladderArgs, renditionDir } from './ladder-command.ts'
import { PlaylistWatcher } from './playlist-watcher.ts'
import { RENDITION_PRESETS } from './rendition-ladder.ts'
import type { FinishedSegment } from './playlist-watcher.ts'
import type { RenditionPreset } from './rendition-ladder.ts'
import type { PreparedInput } from './stream-input.ts'

export interface SlateOptions {
  ffmpeg: string
  /** A video (looped) or a still image (.png, .jpg, .jpeg, .bmp, .webp). */
  file: string
  /** The room's ladder; a passthrough entry is encoded like 720p while the slate shows. */
  renditions: readonly RenditionPreset[]
  segmentDuration: number
  /** Where the slate's ffmpeg writes its playlists and segments. */
  dir: string
  log: (line: string) => void
  onSegments: (segments: FinishedSegment[]) => void
  /** Each run's `-output_ts_offset` (see media-timeline.ts), asked as it starts; none when absent. */
  timestampOffset?: () => number
}

/** The slate is generated at this rate, so its GOP is exactly one segment. */
const SLATE_FRAME_RATE = 30
const STILL_IMAGE = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.webp'])

/** The `-i` half for a slate file, letterboxed into `width`x`height`, with silent stereo audio. */
export function slateInput (file: string, width: number, height: number): PreparedInput {
  const still = STILL_IMAGE.has(extname(file).toLowerCase())
  return {
    args: [
      ...(still ? ['-loop', '1', '-framerate', String(SLATE_FRAME_RATE), '-re', '-i', file] : ['-stream_loop', '-1', '-re', '-i', file]),
      '-re', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo'
    ],
    videoPad: '[0:v:0]',
    videoFilters: [`fps=${SLATE_FRAME_RATE}`, `scale=${width}:${height}:force_original_aspect_ratio=decrease`,
      `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2`, 'setsar=1', 'format=yuv420p'],
    // Silence for every audio stream: the program's and each interpretation track.
    audioStreamMap: () => '1:a',
    description: `slate ${file}${still ? ' (still image)' : ' (looped)'}`
  }
}

/** One showing of the slate: started when the input goes quiet, stopped when it returns. */
export class Slate {
  readonly #options: SlateOptions
  readonly #supervisor: FfmpegSupervisor
  #watchers: PlaylistWatcher[] = []
  #stopped = false

  constructor (options: SlateOptions) {
    this.#options = options
    const encoded = options.renditions.map(r => r.copy === true ? { ...RENDITION_PRESETS.find(p => p.name === '720p')!, name: r.name } : r)
    const top = encoded[0]!
    this.#supervisor = new FfmpegSupervisor({
      path: options.ffmpeg,
      log: options.log,
      prepare: async run => {
        await rm(options.dir, { recursive: true, force: true })
        for (const index of encoded.keys()) await mkdir(renditionDir(options.dir, index), { recursive: true })
        this.#watchers = encoded.map((r, index) => new PlaylistWatcher({
          rendition: r.name,
          dir: renditionDir(options.dir, index),
          log: options.log,
          onSegments: segments => { if (!this.#stopped) options.onSegments(segments) }
        }))
        for (const w of this.#watchers) w.start()
        const input = slateInput(options.file, top.width, top.height)
        options.log(`slate ffmpeg run ${run}: ${input.description} -> ${encoded.map(r => r.name).join(', ')}`)
        return { args: ladderArgs({ input, renditions: encoded, frameRate: SLATE_FRAME_RATE, segmentDuration: options.segmentDuration, hlsDir: options.dir, runId: run, timestampOffset: options.timestampOffset?.() }) }
      },
      // What the slate finished after the input came back is not wanted: dropped with its files.
      exited: async () => {
        await Promise.all(this.#watchers.map(w => w.stop()))
        this.#watchers = []
      }
    })
  }

  start (): void {
    this.#supervisor.start()
  }

  /** Stops the slate's ffmpeg; no segment of it is handed on after this is called. */
  async stop (): Promise<void> {
    this.#stopped = true
    await this.#supervisor.stop()
    await rm(this.#options.dir, { recursive: true, force: true })
  }
}
