/**
 * Reads ffmpeg's `-progress pipe:1` output: blocks of `key=value` lines, each ended by
 * `progress=continue` (or `end`). ffmpeg's own `fps=` and `speed=` are averages since the process
 * started (a listener that waited a minute reports a fraction), so rates are taken from the change
 * in `frame=` and `out_time_us=` between blocks instead. Anything that does not parse (ffmpeg prints
 * `N/A` before it knows) is skipped, never trusted.
 */

export interface FfmpegProgress {
  /** Frames per second encoded since the previous block. */
  fps: number
  /** Media seconds encoded per wall-clock second since the previous block (1 = real time). */
  speed: number
}

interface Sample { frames: number, outTimeUs: number, at: number }

const MAX_LINE = 1024
/** Shorter gaps between blocks make jumpy rates: wait for at least this much wall time. */
const MIN_INTERVAL_MS = 400

function count (value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined
  return Number(value)
}

/** Feed it stdout chunks; it calls `onProgress` with rates once there are two usable blocks. */
export class ProgressReader {
  readonly #onProgress: (progress: FfmpegProgress) => void
  readonly #now: () => number
  #partial = ''
  #fields = new Map<string, string>()
  #previous: Sample | undefined
  /** Lines that were not `key=value`, and blocks without usable numbers: skipped. */
  invalid = 0

  constructor (onProgress: (progress: FfmpegProgress) => void, now: () => number = Date.now) {
    this.#onProgress = onProgress
    this.#now = now
  }

  push (chunk: string): void {
    const lines = (this.#partial + chunk).split(/\r?\n/)
    this.#partial = lines.pop() ?? ''
    if (this.#partial.length > MAX_LINE) {
      this.invalid++
      this.#partial = ''
    }
    for (const line of lines) {
      const eq = line.indexOf('=')
      if (eq <= 0 || line.length > MAX_LINE) {
        if (line.trim() !== '') this.invalid++
        continue
      }
      const key = line.slice(0, eq).trim()
      if (key === 'progress') {
        this.#block()
        this.#fields = new Map()
      } else if (this.#fields.size < 64) {
        this.#fields.set(key, line.slice(eq + 1).trim())
      }
    }
  }

  #block (): void {
    const frames = count(this.#fields.get('frame'))
    const outTimeUs = count(this.#fields.get('out_time_us'))
    if (frames === undefined || outTimeUs === undefined) {
      this.invalid++
      return
    }
    const sample = { frames, outTimeUs, at: this.#now() }
    const previous = this.#previous
    if (previous !== undefined && sample.at - previous.at < MIN_INTERVAL_MS) return
    this.#previous = sample
    if (previous === undefined || frames < previous.frames || outTimeUs < previous.outTimeUs) return
    const seconds = (sample.at - previous.at) / 1000
    this.#onProgress({
      fps: Math.round((frames - previous.frames) / seconds * 100) / 100,
      speed: Math.round((outTimeUs - previous.outTimeUs) / 1e6 / seconds * 1000) / 1000
    })
  }
}
