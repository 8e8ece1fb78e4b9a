/**
 * The room's subtitle rendition (`subtitles-<language>`): one WebVTT segment for each segment of the
 * reference video rendition (the first H.264 one), with its sequence number, duration, program date
 * time, discontinuity and end, announced right after it, so a player fetches them side by side. Each segment's `X-TIMESTAMP-MAP` ties its cue times to the video's clock
 * (the reference segment's first PTS): the cue times are the MPEG-TS clock itself in seconds, so
 * hls.js, ffmpeg and Safari place them alike. Cues come from the live captioner (`add`, text typed by a
 * person, captioner.ts) and, with the test pattern, from the clock: one cue a second with the time of
 * day the picture shows, and from the CEA-608 captions the input's video carries (cea608-captions.ts),
 * read from the reference segment's own bytes. A cue goes into the segment it starts in (repeated in none after it, so no
 * player shows it twice); one typed after its segment went out starts with the next.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidOptionError, LANGUAGE_TAG, TRACK_NAME } from '@hivecast/shared'
import type { RenditionInfo } from '@hivecast/shared'
import { Cea608Captions } from './cea608-captions.ts'
import { firstPts } from './mpegts-timestamps.ts'
import type { FinishedSegment } from './playlist-watcher.ts'
import type { EnqueueFlags, PublishedSegment } from './segment-publisher.ts'

export interface CaptionLanguage {
  /** Language tag, e.g. `en`. */
  language: string
  /** Shown in players' caption menus, e.g. `English`. */
  name: string
}

export interface Cue {
  id: string
  /** Program time, ms since the epoch. */
  start: number
  end: number
  text: string
}

/** A typed caption stays up this long (the next one shows beside it until then). */
export const TYPED_CUE_MS = 3000
/** Typed captions waiting for their segment; more means the video stopped, and the oldest go. */
const MAX_PENDING = 200
/** A caption's text: at most 3 lines of 1-200 characters in all. */
export const MAX_CAPTION_CHARS = 200
const MAX_CAPTION_LINES = 3
/** The announced bandwidth: a few cues a second of text, with the WebVTT header, stays far below it. */
const SUBTITLE_BANDWIDTH = 2000
const MPEGTS_HZ = 90
/** WebVTT segments of this rendition are written here before the publisher stores them. */
const SUBDIR = 'captions'

/** `--captions en:English`: the language tag, then the name. */
export function parseCaptionLanguage (spec: string): CaptionLanguage {
  const colon = spec.indexOf(':')
  if (colon < 0) throw new InvalidOptionError(`--captions "${spec}" is not <language>:<name>, e.g. en:English`)
  return assertCaptionLanguage({ language: spec.slice(0, colon).trim(), name: spec.slice(colon + 1).trim() })
}

export function assertCaptionLanguage (captions: CaptionLanguage): CaptionLanguage {
  if (!LANGUAGE_TAG.test(captions.language)) throw new InvalidOptionError(`captions language "${captions.language}" is not a language tag: use e.g. en or de (--captions en:English)`)
  if (!TRACK_NAME.test(captions.name)) throw new InvalidOptionError(`captions name "${captions.name}" must be 1-64 characters without quotes (--captions en:English)`)
  return captions
}

/**
 * A caption as typed, made safe for a cue: trimmed lines (at most 3, blank ones dropped), `&`, `<`
 * and `>` escaped (WebVTT markup; so no `-->` either). A string saying what is wrong when nothing is left or it is too long.
 */
export function captionText (text: string): string | { error: string } {
  // Control characters other than the line break are no text.
  // eslint-disable-next-line no-control-regex
  const lines = text.replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, ' ').split('\n').map(l => l.trim()).filter(l => l !== '')
  const length = lines.join(' ').length
  if (lines.length === 0) return { error: 'the caption is empty: send { "text": "what was said" }' }
  if (length > MAX_CAPTION_CHARS || lines.length > MAX_CAPTION_LINES) return { error: `the caption is ${length} characters on ${lines.length} lines: at most ${MAX_CAPTION_CHARS} on ${MAX_CAPTION_LINES}` }
  return escapeCueText(lines.join('\n'))
}

/** Text made safe for a WebVTT cue: `&`, `<` and `>` escaped (markup; so no `-->` either). */
export function escapeCueText (text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** `hh:mm:ss.ttt` of a cue time in seconds (hours as many digits as needed). */
export function vttTime (ms: number): string {
  const whole = Math.round(ms)
  const h = Math.floor(whole / 3_600_000)
  const m = Math.floor(whole / 60_000) % 60
  const s = Math.floor(whole / 1000) % 60
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0')
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(whole % 1000, 3)}`
}

/** The time of day the test pattern's picture shows at program time `ms` (the origin's local time). */
export function clockText (ms: number): string {
  const d = new Date(ms)
  const pad = (n: number): string => String(n).padStart(2, '0')
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/**
 * One WebVTT segment: cue times on the MPEG-TS clock in seconds (`LOCAL` = `MPEGTS` / 90 kHz), from the
 * reference segment's first PTS at its program time `pdt`.
 */
export function renderWebVtt (cues: readonly Cue[], pdt: number, pts: number): string {
  // Whole milliseconds on both sides, so the map is exact.
  const baseMs = Math.round(pts / MPEGTS_HZ)
  const lines = ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${baseMs * MPEGTS_HZ},LOCAL:${vttTime(baseMs)}`, '']
  for (const cue of cues) lines.push(cue.id, `${vttTime(baseMs + cue.start - pdt)} --> ${vttTime(baseMs + cue.end - pdt)}`, cue.text, '')
  return lines.join('\n')
}

export interface CaptionTrackOptions {
  captions: CaptionLanguage
  /** The origin's data directory: segments are written to `<dataDir>/captions` for the publisher. */
  dataDir: string
  /** Adds the clock's cues (the test pattern). */
  clock: boolean
  enqueue: (segment: FinishedSegment, flags: EnqueueFlags) => void
  log: (line: string) => void
}

export class CaptionTrack {
  readonly rendition: string
  readonly info: RenditionInfo
  readonly #options: CaptionTrackOptions
  /** Typed cues not yet in a segment, oldest first. */
  readonly #pending: Cue[] = []
  /** Where the last segment written ended (program time): later typed cues start no earlier. */
  #writtenUntil = 0
  #counter = 0
  /** The last reference segment's program time and first PTS. */
  #lastClock: { pdt: number, pts: number } | undefined
  /** Cues typed and taken. */
  typed = 0
  /** Typed cues dropped because no segment came to carry them. */
  droppedCues = 0
  /** The input's CEA-608 captions, read from the reference segments. */
  readonly #input = new Cea608Captions()
  /** Cues made from the input's captions. */
  fromInput = 0

  constructor (options: CaptionTrackOptions) {
    this.#options = options
    const { language, name } = assertCaptionLanguage(options.captions)
    this.rendition = `subtitles-${language.toLowerCase()}`
    this.info = { name: this.rendition, bandwidth: SUBTITLE_BANDWIDTH, width: 0, height: 0, codecs: 'wvtt', frameRate: 0, subtitles: { language, name } }
  }

  /** The directory the segments are written to; create it before the first. */
  get dir (): string {
    return join(this.#options.dataDir, SUBDIR)
  }

  /**
   * A typed caption (already checked with `captionText`) at program time `at`: shown from then, or
   * from the next segment's start when the segment of `at` went out already.
   */
  add (text: string, at: number): Cue {
    this.typed++
    return this.#queue('typed', text, at, TYPED_CUE_MS)
  }

  /** A cue waiting for the segment it starts in (or the next one not yet written). */
  #queue (source: string, text: string, at: number, durationMs: number): Cue {
    const start = Math.max(Math.round(at), this.#writtenUntil)
    const cue = { id: `${source}-${start}-${this.#counter++}`, start, end: start + durationMs, text }
    this.#pending.push(cue)
    if (this.#pending.length > MAX_PENDING) {
      this.#pending.shift()
      this.droppedCues++
    }
    return cue
  }

  /**
   * The reference rendition's segment went out: write the WebVTT segment of the same stretch and
   * enqueue it. `bytes` are the reference segment's (MPEG-TS), read for its first PTS.
   */
  async follow (segment: PublishedSegment, bytes: Uint8Array): Promise<void> {
    let pts = firstPts(bytes)
    if (pts === undefined && this.#lastClock !== undefined) {
      // No PES header found: the clock carried on from the last segment that had one.
      pts = this.#lastClock.pts + (segment.pdt - this.#lastClock.pdt) * MPEGTS_HZ
      this.#options.log(`${this.rendition}: no timestamp found in ${segment.rendition} segment ${segment.seq}; cue times carried on from the segment before`)
    }
    if (pts !== undefined) this.#lastClock = { pdt: segment.pdt, pts }
    const end = segment.pdt + segment.duration * 1000
    if (pts !== undefined) {
      // The input's captions of this stretch: cut at its edges, so they start in it.
      for (const span of this.#input.spans(bytes, { pdt: segment.pdt, pts, end, discontinuity: segment.discontinuity })) {
        this.#queue('cc', escapeCueText(span.text), span.start, span.end - span.start)
        this.fromInput++
      }
    }
    const cues = [...this.#options.clock ? clockCues(segment.pdt, end) : []]
    // Every waiting cue that starts before this stretch ends (a line typed after it is not the first).
    const due = this.#pending.filter(cue => cue.start < end)
    this.#pending.splice(0, this.#pending.length, ...this.#pending.filter(cue => cue.start >= end))
    for (const cue of due) {
      // Typed while an earlier segment was written: shown from this one's start.
      const start = Math.max(cue.start, segment.pdt)
      cues.push({ ...cue, start, end: start + (cue.end - cue.start) })
    }
    this.#writtenUntil = Math.max(this.#writtenUntil, end)
    const file = join(this.dir, `${segment.seq}.vtt`)
    // Without any clock (no segment had a timestamp yet) the segment goes out empty: the numbers stay paired.
    await writeFile(file, pts === undefined ? 'WEBVTT\n' : renderWebVtt(cues, segment.pdt, pts))
    this.#options.enqueue(
      { rendition: this.rendition, file, index: segment.seq, duration: segment.duration, pdt: segment.pdt, finishedAt: Date.now(), last: segment.end },
      { discontinuity: segment.discontinuity, end: segment.end, slate: segment.slate, seq: segment.seq }
    )
  }
}

/** One cue per whole second of program time in [from, to): the clock the picture shows. */
function clockCues (from: number, to: number): Cue[] {
  const cues: Cue[] = []
  for (let second = Math.ceil(from / 1000) * 1000; second < to; second += 1000) {
    cues.push({ id: `clock-${second}`, start: second, end: second + 1000, text: clockText(second) })
  }
  return cues
}
