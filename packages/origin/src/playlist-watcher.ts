/**
 * Spots segments ffmpeg has finished. A segment counts as finished only once it is listed in
 * ffmpeg's media playlist: with `temp_file` ffmpeg renames the segment into place before it lists it,
 * and writes the playlist itself through a rename, so what is listed is complete. fs.watch reacts
 * within milliseconds; a short poll covers file systems where watching is unreliable.
 */
import { watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { getOptions, parse, setOptions } from 'hls-parser'
import type { FSWatcher } from 'node:fs'
import { PLAYLIST_NAME } from './ladder-command.ts'

export interface FinishedSegment {
  rendition: string
  /** Absolute path of ffmpeg's segment file. */
  file: string
  /** ffmpeg's media sequence number in this run (restarts at 0 with every ffmpeg run). */
  index: number
  /** Seconds, from EXTINF. */
  duration: number
  /** ffmpeg's program date time of the first frame, ms since the epoch, when it wrote one. */
  pdt: number | undefined
  /** When the origin saw ffmpeg list the segment, ms since the epoch. */
  finishedAt: number
  /** The last segment of a playlist ffmpeg closed with `#EXT-X-ENDLIST`: its final segment before exiting. */
  last: boolean
  /** Absolute path of the fMP4 init section the segment needs (`#EXT-X-MAP`); absent for MPEG-TS. */
  init?: string
}

export interface PlaylistWatcherOptions {
  rendition: string
  /** The rendition's directory, holding ffmpeg's `index.m3u8`; it must exist. */
  dir: string
  onSegments: (segments: FinishedSegment[]) => void
  log: (line: string) => void
  pollMs?: number
}

/** ffmpeg names segments itself; anything else in a playlist (paths, URLs) is not ours to read. */
const SEGMENT_NAME = /^[A-Za-z0-9._-]{1,200}$/

/** hls-parser only logs problems unless in strict mode, a module-wide option: set it just for this call. */
function parseStrictly (text: string): ReturnType<typeof parse> {
  const previous = getOptions()
  setOptions({ strictMode: true, silent: true })
  try {
    return parse(text)
  } finally {
    setOptions({ strictMode: previous.strictMode ?? false, silent: previous.silent ?? false })
  }
}

export class PlaylistWatcher {
  readonly #options: PlaylistWatcherOptions
  readonly #playlist: string
  #watcher: FSWatcher | undefined
  #poll: NodeJS.Timeout | undefined
  #lastIndex = -1
  #lastText = ''
  #scanning: Promise<void> | undefined
  #again = false
  #stopped = false
  /** Playlists or entries that could not be used: logged and skipped. */
  invalid = 0

  constructor (options: PlaylistWatcherOptions) {
    this.#options = options
    this.#playlist = join(options.dir, PLAYLIST_NAME)
  }

  start (): void {
    try {
      this.#watcher = watch(this.#options.dir, (_event, name) => {
        if (name === null || name === PLAYLIST_NAME) this.#trigger()
      })
      this.#watcher.on('error', err => this.#options.log(`watching ${this.#options.dir} failed (${err.message}); polling instead`))
    } catch (err) {
      this.#options.log(`cannot watch ${this.#options.dir} (${(err as Error).message}); polling instead`)
    }
    this.#poll = setInterval(() => this.#trigger(), this.#options.pollMs ?? 250)
    this.#trigger()
  }

  /** Stops watching and returns what ffmpeg listed since the last delivery (ffmpeg has exited by now). */
  async stop (): Promise<FinishedSegment[]> {
    this.#stopped = true
    this.#watcher?.close()
    clearInterval(this.#poll)
    await this.#scanning
    return this.#scan(true)
  }

  #trigger (): void {
    if (this.#stopped) return
    if (this.#scanning !== undefined) {
      this.#again = true
      return
    }
    this.#scanning = (async () => {
      do {
        this.#again = false
        const segments = await this.#scan(false)
        if (segments.length > 0) this.#options.onSegments(segments)
      } while (this.#again && !this.#stopped)
    })().catch((err: Error) => {
      this.#options.log(`${this.#options.rendition}: scanning ${this.#playlist} failed: ${err.message}`)
    }).finally(() => {
      this.#scanning = undefined
      // A change that arrived after the last pass but before this settled.
      if (this.#again) this.#trigger()
    })
  }

  /** `final` once ffmpeg has exited: the playlist can no longer be mid-write, so anything odd is invalid. */
  async #scan (final: boolean): Promise<FinishedSegment[]> {
    let text: string
    try {
      text = await readFile(this.#playlist, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#reject(`cannot read ${this.#playlist}: ${(err as Error).message}`)
      return []
    }
    const seenAt = Date.now()
    if (text === this.#lastText) return []
    // ffmpeg rewrites the playlist in place at exit; a read can catch it half-written. The poll retries.
    if (!final && !(text.startsWith('#EXTM3U') && text.endsWith('\n'))) return []
    this.#lastText = text
    let playlist
    try {
      playlist = parseStrictly(text)
    } catch (err) {
      this.#reject(`ffmpeg wrote an unreadable playlist ${this.#playlist}: ${(err as Error).message}`)
      return []
    }
    if (playlist.isMasterPlaylist) {
      this.#reject(`${this.#playlist} is a master playlist, expected ffmpeg's media playlist`)
      return []
    }
    const found: FinishedSegment[] = []
    for (const segment of playlist.segments) {
      const index = segment.mediaSequenceNumber
      if (!Number.isSafeInteger(index) || index <= this.#lastIndex) continue
      if (index > this.#lastIndex + 1 && this.#lastIndex >= 0) {
        this.#options.log(`${this.#options.rendition}: segments ${this.#lastIndex + 1}..${index - 1} left ffmpeg's playlist before they were seen; skipped`)
      }
      this.#lastIndex = index
      const pdt = segment.programDateTime?.getTime()
      const init = segment.map?.uri
      if (!SEGMENT_NAME.test(segment.uri) || !Number.isFinite(segment.duration) || segment.duration <= 0 || (init !== undefined && !SEGMENT_NAME.test(init))) {
        this.#reject(`${this.#options.rendition}: skipping playlist entry ${JSON.stringify(segment.uri)} with duration ${segment.duration}${init === undefined ? '' : ` and init section ${JSON.stringify(init)}`}`)
        continue
      }
      found.push({
        rendition: this.#options.rendition,
        file: join(this.#options.dir, basename(segment.uri)),
        index,
        duration: segment.duration,
        pdt: pdt !== undefined && Number.isFinite(pdt) && pdt > 0 ? Math.round(pdt) : undefined,
        finishedAt: seenAt,
        last: false,
        ...init === undefined ? {} : { init: join(this.#options.dir, init) }
      })
    }
    const closing = found.at(-1)
    if (closing !== undefined && playlist.endlist && closing.index === playlist.segments.at(-1)?.mediaSequenceNumber) closing.last = true
    return found
  }

  #reject (message: string): void {
    this.invalid++
    this.#options.log(message)
  }
}
