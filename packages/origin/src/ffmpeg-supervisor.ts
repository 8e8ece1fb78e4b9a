/**
 * Keeps one ffmpeg running. When it exits on its own it is restarted after a back-off of 1, 2, 4, 8,
 * then 10 s (reset once a run has lasted 30 s), with the last lines it printed as the reason.
 * Every run is bracketed by hooks: `prepare` builds that run's arguments, `exited` collects what the
 * run finished before the next one (or shutdown) goes on.
 */
import { execa } from 'execa'
import type { Readable } from 'node:stream'
import type { ResultPromise } from 'execa'
import { ProgressReader } from './ffmpeg-progress.ts'
import type { FfmpegProgress } from './ffmpeg-progress.ts'

/** One run of ffmpeg: its arguments, and who reads what it writes to pipes beyond stdout and stderr. */
export interface FfmpegRun {
  args: string[]
  /** By file descriptor (3 and up: `pipe:3`), who reads the stream ffmpeg writes to it. */
  outputs?: ReadonlyMap<number, (stream: Readable) => void>
}

export interface FfmpegSupervisorOptions {
  path: string
  /** Called before every start; returns this run. */
  prepare: (run: number) => Promise<FfmpegRun>
  /** Called after every exit (and after a run that `stop()` cancelled before it started). */
  exited: (run: number) => Promise<void>
  log: (line: string) => void
  /** Longest wait between restarts. Default 10 s; listening inputs use less, as a wait costs nothing. */
  maxBackoffMs?: number
  /** Called with every block ffmpeg writes to stdout with `-progress pipe:1`. */
  onProgress?: (progress: FfmpegProgress) => void
  /** Hides secrets in ffmpeg's output lines before they are logged or kept for `lastExit`. */
  redact?: (line: string) => string
}

const TAIL_LINES = 8
const STABLE_RUN_MS = 30_000
const MAX_BACKOFF_MS = 10_000

export class FfmpegSupervisor {
  readonly #options: FfmpegSupervisorOptions
  #process: ResultPromise | undefined
  #loop: Promise<void> | undefined
  #stopping = false
  #wake: (() => void) | undefined
  #run = 0
  running = false
  restarts = 0
  /** Why the last run ended, while ffmpeg is down. */
  lastExit: string | undefined

  constructor (options: FfmpegSupervisorOptions) {
    this.#options = options
  }

  /** Process id of the running ffmpeg, for operators and CPU measurements. */
  get pid (): number | undefined {
    return this.running ? this.#process?.pid : undefined
  }

  start (): void {
    this.#loop ??= this.#supervise()
  }

  /** Stops ffmpeg (SIGTERM lets it finish and list its last segment) and waits for the `exited` hook. */
  async stop (): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    this.#process?.kill('SIGTERM')
    await this.#loop
  }

  async #supervise (): Promise<void> {
    const { log } = this.#options
    let failures = 0
    while (!this.#stopping) {
      const run = ++this.#run
      let started = Date.now()
      try {
        const prepared = await this.#options.prepare(run)
        if (!this.#stopping) {
          started = Date.now()
          this.lastExit = await this.#runOnce(prepared, run)
        }
      } catch (err) {
        this.lastExit = `could not be prepared: ${(err as Error).message}`
      }
      try {
        await this.#options.exited(run)
      } catch (err) {
        log(`collecting the segments of ffmpeg run ${run} failed: ${(err as Error).message}`)
      }
      if (this.#stopping) break
      failures = Date.now() - started >= STABLE_RUN_MS ? 1 : failures + 1
      const delay = Math.min(this.#options.maxBackoffMs ?? MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1))
      this.restarts++
      log(`ffmpeg ${this.lastExit}; restarting in ${delay / 1000} s`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, delay)
        this.#wake = () => { clearTimeout(timer); resolve() }
      })
      this.#wake = undefined
    }
  }

  /** Runs ffmpeg to its exit and says how it ended, with its last output lines. */
  async #runOnce ({ args, outputs = new Map() }: FfmpegRun, run: number): Promise<string> {
    const tail: string[] = []
    const extra = Array.from({ length: Math.max(2, ...outputs.keys()) - 2 }, (_, k) => outputs.has(3 + k) ? 'pipe' as const : 'ignore' as const)
    const child = execa(this.#options.path, args, {
      reject: false,
      stdio: ['ignore', this.#options.onProgress === undefined ? 'ignore' : 'pipe', 'pipe', ...extra],
      buffer: false,
      // SVT-AV1 prints a banner of info lines to stderr whatever ffmpeg's -loglevel: warnings only.
      env: { SVT_LOG: '2' },
      forceKillAfterDelay: 5000
    })
    this.#process = child
    this.running = true
    for (const [fd, read] of outputs) {
      const stream = child.stdio[fd]
      if (stream !== undefined && stream !== null && 'read' in stream) read(stream)
    }
    let partial = ''
    const onProgress = this.#options.onProgress
    if (onProgress !== undefined) {
      const reader = new ProgressReader(onProgress)
      child.stdout?.setEncoding('utf8')
      child.stdout?.on('data', (chunk: string) => reader.push(chunk))
    }
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split(/\r?\n|\r/)
      partial = lines.pop() ?? ''
      for (const raw of lines) {
        if (raw.trim() === '') continue
        const line = this.#options.redact?.(raw) ?? raw
        this.#options.log(`ffmpeg[${run}]: ${line}`)
        tail.push(line)
        if (tail.length > TAIL_LINES) tail.shift()
      }
    })
    const result = await child
    this.running = false
    this.#process = undefined
    if (partial.trim() !== '') tail.push(this.#options.redact?.(partial) ?? partial)
    const how = result.signal !== undefined
      ? `was stopped by ${result.signal}`
      : result.exitCode !== undefined
        ? `exited with code ${result.exitCode}`
        : `could not start (${result.shortMessage})`
    return tail.length === 0 ? how : `${how}; last output: ${tail.slice(-3).join(' | ')}`
  }
}
