/**
 * Cuts one rendition's continuous MPEG-TS, read from ffmpeg's pipe as it is encoded, into HLS segments
 * and LL-HLS parts. A segment starts at a PES packet of the rendition's timing stream (a video
 * keyframe; in an audio-only rendition any audio frame) once another segment duration of the run has
 * passed since its first frame. Counting from the run's first frame, not from the last cut, keeps
 * audio-only renditions, cut on audio frames, on the video renditions' grid, as ffmpeg's hls muxer did.
 * A segment begins with the PAT and PMT ffmpeg writes right before each keyframe, or with copies of
 * the last ones when there were none, so it plays on its own.
 *
 * Each segment is written to `<dir>/run<run>-<n>.ts` and handed on as a FinishedSegment, as if ffmpeg's
 * hls muxer had listed it; its parts (PartCutter) are handed on as their frames arrive, the last one
 * with the segment. The program date time is the run's start plus the media time since its first frame.
 * The run's start is the timestamp offset the origin gave ffmpeg (the wall clock as it started it), or
 * for an input that waits for a sender, the moment the first bytes come.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { TS_PACKET, TS_SYNC, pesStart } from './mpegts-timestamps.ts'
import type { PesStart } from './mpegts-timestamps.ts'
import { PartCutter } from './part-cutter.ts'
import type { CutPart } from './part-cutter.ts'
import type { FinishedSegment } from './playlist-watcher.ts'

const TICKS_PER_SECOND = 90_000
/** Timestamps are 33 bits and wrap (the room's Unix-time offset puts the wrap on any day). */
const TIMESTAMP_MODULO = 2 ** 33
/** A keyframe this close before its segment's time still starts the segment. */
const CUT_SLACK_TICKS = 900
const PAT_PID = 0

export interface StreamSegmenterOptions {
  rendition: string
  /** Where the segment files go. */
  dir: string
  /** The ffmpeg run: segment files are `run<run>-<n>.ts`. */
  run: number
  /** Seconds per segment. */
  segmentDuration: number
  /** Seconds per part; 0 cuts no parts. */
  partDuration: number
  /** The rendition has video, whose keyframes start segments; else its audio frames do. */
  video: boolean
  /**
   * The program date time of the run's first frame, ms since the epoch. Absent: when its first bytes
   * arrive (an input that waits for a sender starts whenever one comes).
   */
  startedAt?: number
  /** Parts of the segment that will be written to `file`; `seenAt`: when their closing bytes were read. */
  onParts: (file: string, parts: CutPart[], seenAt: number) => void
  onSegment: (segment: FinishedSegment) => void
  log: (line: string) => void
}

interface OpenSegment {
  file: string
  index: number
  chunks: Uint8Array[]
  /** The timing stream's first PES in the segment; undefined until it came. */
  start: { pts: number, dts: number } | undefined
  cutter: PartCutter | undefined
}

/** `later - earlier` in 90 kHz ticks, across the 33-bit wrap. */
function ticksBetween (earlier: number, later: number): number {
  return ((later - earlier) % TIMESTAMP_MODULO + TIMESTAMP_MODULO) % TIMESTAMP_MODULO
}

/** A TS packet that starts a PES of a video keyframe: ffmpeg sets the random access indicator on those. */
function randomAccess (bytes: Uint8Array, at: number): boolean {
  const hasAdaptation = (bytes[at + 3]! & 0x20) !== 0
  return hasAdaptation && bytes[at + 4]! > 0 && (bytes[at + 5]! & 0x40) !== 0
}

export class StreamSegmenter {
  readonly #options: StreamSegmenterOptions
  readonly #segmentTicks: number
  /** The end of the last read when it split a packet. */
  #carry = new Uint8Array(0)
  /** PAT and PMT packets held until the next media packet says whether a segment starts there. */
  #psi: Uint8Array[] = []
  /** The last PAT and PMT, copied in front of a segment ffmpeg wrote none before. */
  #lastPsi: Uint8Array[] = []
  readonly #pmtPids = new Set<number>()
  #segment: OpenSegment | undefined
  #segments = 0
  /** The program date time of the run's first frame, ms since the epoch. */
  #startedAt: number | undefined
  /** PTS of the run's first timing PES: the run's media time starts there. */
  #firstPts: number | undefined
  /** DTS of the last timing PES and the gap before it: the length of a final segment's last frame. */
  #lastDts: number | undefined
  #frameTicks = 0
  /** Bytes skipped because they were not MPEG-TS packets. */
  invalidBytes = 0

  constructor (options: StreamSegmenterOptions) {
    this.#options = options
    this.#segmentTicks = Math.round(options.segmentDuration * TICKS_PER_SECOND)
    this.#startedAt = options.startedAt
  }

  /** Reads ffmpeg's stream to its end; the segment open at the end is the run's last. Never throws. */
  async consume (stream: Readable): Promise<void> {
    try {
      for await (const chunk of stream) await this.#read(chunk as Uint8Array)
    } catch (err) {
      this.#options.log(`${this.#options.rendition}: reading ffmpeg's stream failed: ${(err as Error).message}`)
    }
    this.#appendPsi(Date.now())
    const segment = this.#segment
    if (segment?.start === undefined || this.#lastDts === undefined) return
    await this.#finish(ticksBetween(segment.start.dts, this.#lastDts) + this.#frameTicks, true, Date.now())
  }

  async #read (chunk: Uint8Array): Promise<void> {
    const seenAt = Date.now()
    this.#startedAt ??= seenAt
    const data = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    let at = 0
    /** Media packets from here to `at` are still to be added to the segment. */
    let from = 0
    while (at + TS_PACKET <= data.length) {
      if (data[at] !== TS_SYNC) {
        this.#append(data.subarray(from, at), seenAt)
        const next = data.indexOf(TS_SYNC, at + 1)
        const resume = next === -1 ? data.length : next
        this.invalidBytes += resume - at
        this.#options.log(`${this.#options.rendition}: skipped ${resume - at} bytes of ffmpeg's stream that are not MPEG-TS packets`)
        at = from = resume
        continue
      }
      const pid = ((data[at + 1]! & 0x1f) << 8) | data[at + 2]!
      if (pid === PAT_PID || this.#pmtPids.has(pid)) {
        this.#append(data.subarray(from, at), seenAt)
        if (pid === PAT_PID) this.#readPat(data, at)
        this.#psi.push(data.slice(at, at + TS_PACKET))
        at = from = at + TS_PACKET
        continue
      }
      const pes = pesStart(data, at)
      const timing = pes !== undefined && (this.#options.video ? pes.video : pes.audio)
      if (timing && this.#startsSegment(data, at, pes)) {
        this.#append(data.subarray(from, at), seenAt)
        await this.#finish(ticksBetween(this.#segment!.start!.pts, pes.pts), false, seenAt)
        from = at
        this.#open()
        if (this.#psi.length === 0) for (const packet of this.#lastPsi) this.#append(packet, seenAt)
      }
      this.#appendPsi(seenAt)
      if (timing) this.#timed(pes)
      at += TS_PACKET
    }
    this.#append(data.subarray(from, at), seenAt)
    this.#carry = data.slice(at)
  }

  #startsSegment (data: Uint8Array, at: number, pes: PesStart): boolean {
    if (this.#segment?.start === undefined || this.#firstPts === undefined) return false
    if (this.#options.video && !randomAccess(data, at)) return false
    return ticksBetween(this.#firstPts, pes.pts) + CUT_SLACK_TICKS >= (this.#segments + 1) * this.#segmentTicks
  }

  /** A timing PES: the first one starts the run's and the segment's clocks. */
  #timed (pes: PesStart): void {
    this.#firstPts ??= pes.pts
    if (this.#segment !== undefined) this.#segment.start ??= { pts: pes.pts, dts: pes.dts }
    if (this.#lastDts !== undefined) {
      const gap = ticksBetween(this.#lastDts, pes.dts)
      if (gap > 0 && gap < TICKS_PER_SECOND) this.#frameTicks = gap
    }
    this.#lastDts = pes.dts
  }

  /** The PMT PIDs a PAT names. */
  #readPat (data: Uint8Array, at: number): void {
    if ((data[at + 1]! & 0x40) === 0) return
    const control = (data[at + 3]! >> 4) & 0x3
    const payload = at + 4 + ((control & 0x2) !== 0 ? 1 + data[at + 4]! : 0)
    const section = payload + 1 + (data[payload] ?? 0)
    const end = Math.min(at + TS_PACKET, section + 3 + ((((data[section + 1] ?? 0) & 0x0f) << 8) | (data[section + 2] ?? 0)) - 4)
    for (let entry = section + 8; entry + 4 <= end; entry += 4) {
      const program = (data[entry]! << 8) | data[entry + 1]!
      if (program !== 0) this.#pmtPids.add(((data[entry + 2]! & 0x1f) << 8) | data[entry + 3]!)
    }
  }

  /** Adds media bytes to the open segment (opening one if none is), and hands on the parts they complete. */
  #append (bytes: Uint8Array, seenAt: number): void {
    if (bytes.length === 0) return
    const segment = this.#segment ?? this.#open()
    segment.chunks.push(bytes.slice())
    const parts = segment.cutter?.push(bytes) ?? []
    if (parts.length > 0) this.#options.onParts(segment.file, parts, seenAt)
  }

  #appendPsi (seenAt: number): void {
    const psi = this.#psi
    this.#psi = []
    if (psi.length === 0) return
    this.#lastPsi = psi
    for (const packet of psi) this.#append(packet, seenAt)
  }

  #open (): OpenSegment {
    const index = this.#segments
    const { dir, run, partDuration } = this.#options
    this.#segment = {
      file: join(dir, `run${run}-${index}.ts`),
      index,
      chunks: [],
      start: undefined,
      cutter: partDuration > 0 ? new PartCutter(partDuration) : undefined
    }
    return this.#segment
  }

  /** The open segment ends after `ticks`: its last part and the segment itself are handed on. */
  async #finish (ticks: number, last: boolean, seenAt: number): Promise<void> {
    const segment = this.#segment!
    this.#segment = undefined
    this.#segments++
    const duration = Math.max(0.001, Math.round(ticks / TICKS_PER_SECOND * 1000) / 1000)
    const lastPart = segment.cutter?.finish(duration)
    if (lastPart !== undefined) this.#options.onParts(segment.file, [lastPart], seenAt)
    await writeFile(segment.file, Buffer.concat(segment.chunks))
    const pdt = this.#startedAt! + Math.round(ticksBetween(this.#firstPts!, segment.start!.pts) / 90)
    this.#options.onSegment({ rendition: this.#options.rendition, file: segment.file, index: segment.index, duration, pdt, finishedAt: seenAt, last })
  }
}
