/**
 * Whether the room's input is up, and the slate that stands in while it is not. The input is up
 * while ffmpeg runs and has finished a segment lately; after a silence of as long, the slate (when
 * one is set) is started, and the input's first new segment stops it. Each change between input and
 * slate is a discontinuity in every rendition, carried by the next segment of each.
 */
import { errorMessage } from '@hivecast/shared'
import type { FinishedSegment } from './playlist-watcher.ts'

/** A started slate. */
export interface RunningSlate {
  stop: () => Promise<void>
}

export interface InputWatchOptions {
  renditions: readonly string[]
  segmentDuration: number
  /** Whether the input's ffmpeg runs. */
  running: () => boolean
  /** The slate, when one is set: its file (for the log) and how to start it, handing over its segments. */
  slate?: { file: string, start: (onSegments: (segments: FinishedSegment[]) => void) => RunningSlate }
  /** A segment of the slate to publish; `discontinuity` when it joins the input. */
  publishSlate: (segment: FinishedSegment, discontinuity: boolean) => void
  /** The picture's source changed (slate on or off): what was probed of it no longer holds. */
  onSourceChange: () => void
  /** Segments published so far: the slate's first segment joins something only after one. */
  published: () => number
  log: (line: string) => void
  now?: () => number
  /** How often the silence is checked. Default 1 s. */
  checkEveryMs?: number
}

export class InputWatch {
  /** The input counts as down after this long without a finished segment. */
  readonly upWithinMs: number
  readonly #options: InputWatchOptions
  readonly #now: () => number
  /** When ffmpeg last finished a segment of the input in this run; 0 before the first. */
  #lastFinishedAt = 0
  /** When the input last finished a segment, or the watch began: the slate comes on after a silence. */
  #inputSeenAt: number
  /** Renditions whose next segment joins input and slate. */
  readonly #joins = new Set<string>()
  #slate: RunningSlate | undefined
  #timer: NodeJS.Timeout | undefined
  #stopping = false

  constructor (options: InputWatchOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.upWithinMs = options.segmentDuration * 3000 + 2000
    this.#inputSeenAt = this.#now()
  }

  /** Checks for silence every second while a slate is set. */
  start (): void {
    if (this.#options.slate === undefined || this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.check() }, this.#options.checkEveryMs ?? 1000)
  }

  /** A new ffmpeg run has received nothing yet: the input counts as down until its first segment. */
  runStarted (): void {
    this.#lastFinishedAt = 0
  }

  /** The input finished these segments: it is up, and the slate (if it shows) goes off. */
  received (segments: readonly FinishedSegment[]): void {
    this.#slateOff()
    this.#inputSeenAt = this.#now()
    for (const s of segments) this.#lastFinishedAt = Math.max(this.#lastFinishedAt, s.finishedAt)
  }

  /** True once for each rendition whose next segment joins input and slate. */
  discontinuity (rendition: string): boolean {
    return this.#joins.delete(rendition)
  }

  up (): boolean {
    return this.#options.running() && this.#now() - this.#lastFinishedAt < this.upWithinMs
  }

  get showingSlate (): boolean {
    return this.#slate !== undefined
  }

  /** Starts the slate when the input has been silent for long enough. */
  check (): void {
    const slate = this.#options.slate
    if (slate === undefined || this.#stopping || this.#slate !== undefined || this.up()) return
    const silentMs = this.#now() - this.#inputSeenAt
    if (silentMs < this.upWithinMs) return
    this.#options.log(`no input for ${(silentMs / 1000).toFixed(0)} s: showing the slate ${slate.file} (waiting for signal)`)
    if (this.#options.published() > 0) this.#joinAll()
    this.#options.onSourceChange()
    const showing: RunningSlate = slate.start(segments => {
      if (this.#slate !== showing) return
      for (const s of segments) this.#options.publishSlate(s, this.#joins.delete(s.rendition))
    })
    this.#slate = showing
  }

  /** Stops checking and the slate. */
  async stop (): Promise<void> {
    this.#stopping = true
    clearInterval(this.#timer)
    await this.#slate?.stop()
  }

  #joinAll (): void {
    for (const name of this.#options.renditions) this.#joins.add(name)
  }

  #slateOff (): void {
    if (this.#slate === undefined) return
    const showing = this.#slate
    this.#slate = undefined
    this.#joinAll()
    this.#options.onSourceChange()
    this.#options.log('input is back: slate off')
    showing.stop().catch((err: unknown) => { this.#options.log(`stopping the slate failed: ${errorMessage(err)}`) })
  }
}
