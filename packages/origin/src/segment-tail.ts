/**
 * Follows the segments ffmpeg is writing in one rendition's directory: with `temp_file` each one is
 * written as `<name>.tmp` and renamed into place when finished. A tail opens every `.tmp` file as it
 * appears, reads what ffmpeg appends (on each change fs.watch reports, and a short poll), and feeds it to
 * the segment's PartCutter; `finish` is called when ffmpeg lists the segment, and reads the rest through
 * the open descriptor (which survives the rename, and the publisher deleting the file).
 *
 * Measured with Debian's ffmpeg 5.1: its hls muxer keeps an MPEG-TS segment in memory and writes the
 * `.tmp` file in one go when the segment ends (no `.tmp` growth was ever seen, `flush_packets` or not),
 * so in practice the parts are cut in `finish`, all at once: they carry the segment in parts but arrive
 * no earlier than it. A source written as it is encoded (ffmpeg's `segment` muxer, which does write its
 * files progressively, or one continuous MPEG-TS the origin cuts itself) would make them early.
 */
import { watch } from 'node:fs'
import { open, readdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { FSWatcher } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { PartCutter } from './part-cutter.ts'
import type { CutPart } from './part-cutter.ts'

const TMP_SUFFIX = '.tmp'
/** ffmpeg's MPEG-TS segment names (`run<n>-<i>.ts`); fMP4 segments are not cut into parts. */
const TS_SEGMENT_TMP = /^[A-Za-z0-9_-]{1,200}\.ts\.tmp$/
/** Segments followed at once: ffmpeg writes one per rendition, so more means finishes were missed. */
const MAX_FOLLOWED = 4
const READ_CHUNK = 64 * 1024

export interface SegmentTailOptions {
  rendition: string
  dir: string
  /** Seconds per part. */
  partDuration: number
  /** Parts cut from the segment whose finished file is `file`; `seenAt`: when the bytes that closed them were read, ms since the epoch. */
  onParts: (file: string, parts: CutPart[], seenAt: number) => void
  log: (line: string) => void
  pollMs?: number
}

interface Followed {
  handle: FileHandle
  cutter: PartCutter
  read: number
  /** The read in progress: reads of one file never overlap. */
  reading: Promise<void>
  /** A read is queued and has not started: a change seen meanwhile needs no read of its own. */
  queued: boolean
  /** Reads of one file are one at a time, and the cutter copies what it keeps: one buffer per file. */
  buffer: Uint8Array
}

export class SegmentTail {
  readonly #options: SegmentTailOptions
  /** By the finished segment's path (the `.tmp` name without its suffix). */
  readonly #followed = new Map<string, Followed>()
  /** `.tmp` files being opened (a watch event and the poll may both see one); true once finished meanwhile. */
  readonly #opening = new Map<string, boolean>()
  #watcher: FSWatcher | undefined
  #poll: NodeJS.Timeout | undefined
  #stopped = false

  constructor (options: SegmentTailOptions) {
    this.#options = options
  }

  start (): void {
    try {
      this.#watcher = watch(this.#options.dir, (_event, name) => {
        if (name !== null && TS_SEGMENT_TMP.test(name)) this.#follow(join(this.#options.dir, name.slice(0, -TMP_SUFFIX.length)))
      })
      this.#watcher.on('error', err => this.#options.log(`${this.#options.rendition}: watching ${this.#options.dir} for parts failed (${err.message}); polling`))
    } catch (err) {
      this.#options.log(`${this.#options.rendition}: cannot watch ${this.#options.dir} for parts (${(err as Error).message}); polling`)
    }
    this.#poll = setInterval(() => { this.#scan() }, this.#options.pollMs ?? 100)
  }

  /**
   * ffmpeg listed the segment at `file` as `duration` seconds: its last part. A segment whose `.tmp`
   * was never seen (ffmpeg 5.1 writes an MPEG-TS segment in one go when it ends) is cut whole now.
   * Resolves once its parts were handed on.
   */
  async finish (file: string, duration: number): Promise<void> {
    if (this.#opening.has(file)) this.#opening.set(file, true)
    let followed = this.#followed.get(file)
    if (followed === undefined) {
      if (!TS_SEGMENT_TMP.test(`${basename(file)}${TMP_SUFFIX}`)) return
      try {
        followed = this.#followedFile(await open(file, 'r'))
      } catch (err) {
        this.#options.log(`${this.#options.rendition}: cannot open ${file} to cut its parts: ${(err as Error).message}`)
        return
      }
    }
    this.#followed.delete(file)
    await this.#read(file, followed, duration)
    await followed.handle.close().catch(() => {})
  }

  #followedFile (handle: FileHandle): Followed {
    return { handle, cutter: new PartCutter(this.#options.partDuration), read: 0, reading: Promise.resolve(), queued: false, buffer: new Uint8Array(READ_CHUNK) }
  }

  async stop (): Promise<void> {
    this.#stopped = true
    this.#watcher?.close()
    clearInterval(this.#poll)
    const open = [...this.#followed.values()]
    this.#followed.clear()
    await Promise.all(open.map(async f => {
      await f.reading
      await f.handle.close().catch(() => {})
    }))
  }

  #scan (): void {
    readdir(this.#options.dir).then(names => {
      for (const name of names) if (TS_SEGMENT_TMP.test(name)) this.#follow(join(this.#options.dir, name.slice(0, -TMP_SUFFIX.length)))
      for (const [file, followed] of this.#followed) void this.#read(file, followed)
    }, (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.#options.log(`${this.#options.rendition}: cannot list ${this.#options.dir}: ${err.message}`)
    })
  }

  #follow (file: string): void {
    if (this.#stopped) return
    const known = this.#followed.get(file)
    if (known !== undefined) {
      void this.#read(file, known)
      return
    }
    if (this.#opening.has(file)) return
    this.#opening.set(file, false)
    open(`${file}${TMP_SUFFIX}`, 'r').then(async handle => {
      const finished = this.#opening.get(file) === true
      this.#opening.delete(file)
      if (this.#stopped || finished) return await handle.close()
      const followed = this.#followedFile(handle)
      this.#followed.set(file, followed)
      // A finish that never came (ffmpeg restarted mid-segment): the oldest is given up.
      for (const [old, stale] of this.#followed) {
        if (this.#followed.size <= MAX_FOLLOWED) break
        this.#followed.delete(old)
        void stale.reading.then(async () => await stale.handle.close().catch(() => {}))
      }
      void this.#read(file, followed)
    }, (err: NodeJS.ErrnoException) => {
      this.#opening.delete(file)
      // Renamed already: the segment was finished before it could be followed; it has no parts.
      if (err.code !== 'ENOENT') this.#options.log(`${this.#options.rendition}: cannot open ${file}${TMP_SUFFIX}: ${err.message}`)
    })
  }

  /** Reads what ffmpeg appended; with `finishedDuration`, everything up to the end and the last part. */
  #read (file: string, followed: Followed, finishedDuration?: number): Promise<void> {
    if (finishedDuration === undefined && followed.queued) return followed.reading
    followed.queued = true
    followed.reading = followed.reading.then(async () => {
      followed.queued = false
      const parts: CutPart[] = []
      for (;;) {
        const { bytesRead } = await followed.handle.read(followed.buffer, 0, READ_CHUNK, followed.read)
        if (bytesRead === 0) break
        followed.read += bytesRead
        parts.push(...followed.cutter.push(followed.buffer.subarray(0, bytesRead)))
      }
      if (finishedDuration !== undefined) {
        const last = followed.cutter.finish(finishedDuration)
        if (last !== undefined) parts.push(last)
      }
      if (parts.length > 0) this.#options.onParts(file, parts, Date.now())
    }).catch((err: Error) => {
      this.#options.log(`${this.#options.rendition}: reading ${file}${TMP_SUFFIX} failed: ${err.message}`)
    })
    return followed.reading
  }
}
