/**
 * Cuts one MPEG-TS segment into LL-HLS parts while ffmpeg is still writing it. Bytes arrive as they are
 * read from ffmpeg's `.tmp` file; a part ends where a PES packet of the segment's timing stream (its
 * video, else its audio) starts at least the part target after the part's own first one, so every part
 * is whole 188-byte packets and its duration is read from the stream's own timestamps. The first part
 * starts at byte 0 (PAT, PMT, then the segment's keyframe) and is the only independent one. What is
 * left when ffmpeg finishes the segment is its last part. The parts, joined, are the segment's bytes.
 */
import { MAX_PARTS_PER_SEGMENT } from '@hivecast/shared'
import { TS_PACKET, TS_SYNC, pesStart } from './mpegts-timestamps.ts'

export interface CutPart {
  /** The part's place in its segment, from 0. */
  index: number
  bytes: Uint8Array
  /** Seconds, rounded to the millisecond. */
  duration: number
  /** Starts with the segment's keyframe. */
  independent: boolean
  /** The segment's last part. */
  last: boolean
}

/** Timestamps are 33 bits: they wrap (every 26.5 h, and the room's Unix-time offset makes that any day). */
const TIMESTAMP_MODULO = 2 ** 33
const TICKS_PER_SECOND = 90_000
/** A frame at 29.97 fps falls short of a 1/30 s grid by this much; a cut still takes it. */
const CUT_SLACK_TICKS = 90

export class PartCutter {
  readonly #targetTicks: number
  /** Bytes since the last cut, with the packet being written at their end. */
  #pending = new Uint8Array(0)
  /** Offset in `#pending` of the first packet not yet looked at. */
  #scanned = 0
  /** The timing stream: video once a video PES packet was seen, else audio. */
  #timing: 'video' | 'audio' | undefined
  /** DTS of the timing stream's first PES packet in the current part. */
  #partStart: number | undefined
  #index = 0
  /** Seconds of the parts cut so far. */
  #cutSeconds = 0
  /** Set when the bytes are not MPEG-TS packets: no more cuts, the rest is one part. */
  #broken = false
  #finished = false

  /** `target`: seconds per part. */
  constructor (target: number) {
    this.#targetTicks = Math.round(target * TICKS_PER_SECOND)
  }

  /** Appends bytes ffmpeg wrote next; returns the parts they complete. */
  push (bytes: Uint8Array): CutPart[] {
    if (this.#finished || bytes.length === 0) return []
    const joined = new Uint8Array(this.#pending.length + bytes.length)
    joined.set(this.#pending)
    joined.set(bytes, this.#pending.length)
    this.#pending = joined
    const parts: CutPart[] = []
    while (!this.#broken && this.#scanned + TS_PACKET <= this.#pending.length) {
      const at = this.#scanned
      this.#scanned += TS_PACKET
      if (this.#pending[at] !== TS_SYNC) {
        this.#broken = true
        break
      }
      const pes = pesStart(this.#pending, at)
      if (pes === undefined) continue
      // Audio ffmpeg held back can come before the segment's keyframe: video, once seen, sets the time.
      if (pes.video && this.#timing !== 'video') {
        this.#timing = 'video'
        this.#partStart = pes.dts
        continue
      }
      this.#timing ??= pes.audio ? 'audio' : undefined
      if (!(this.#timing === 'video' ? pes.video : pes.audio)) continue
      if (this.#partStart === undefined) {
        this.#partStart = pes.dts
        continue
      }
      const ticks = ((pes.dts - this.#partStart) % TIMESTAMP_MODULO + TIMESTAMP_MODULO) % TIMESTAMP_MODULO
      // Room for the last part: the segment's parts are numbered below MAX_PARTS_PER_SEGMENT.
      if (ticks + CUT_SLACK_TICKS < this.#targetTicks || this.#index >= MAX_PARTS_PER_SEGMENT - 2) continue
      parts.push(this.#cut(at, ticks / TICKS_PER_SECOND, false))
      this.#partStart = pes.dts
    }
    return parts
  }

  /**
   * ffmpeg finished the segment (`duration` seconds, as it listed it): what is left is the last part,
   * undefined when nothing is.
   */
  finish (duration: number): CutPart | undefined {
    if (this.#finished) return undefined
    this.#finished = true
    if (this.#pending.length === 0) return undefined
    return this.#cut(this.#pending.length, Math.max(0.001, duration - this.#cutSeconds), true)
  }

  #cut (end: number, seconds: number, last: boolean): CutPart {
    const duration = Math.max(0.001, Math.round(seconds * 1000) / 1000)
    const part: CutPart = { index: this.#index, bytes: this.#pending.slice(0, end), duration, independent: this.#index === 0, last }
    this.#pending = this.#pending.slice(end)
    this.#scanned -= end
    this.#index++
    this.#cutSeconds += duration
    return part
  }
}
