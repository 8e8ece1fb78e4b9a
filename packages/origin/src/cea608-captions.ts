/**
 * CEA-608 closed captions of the input (channel CC1), decoded into timed text for the subtitle
 * rendition. `Cea608Screen` is the caption decoder's memory (15 rows of 32 cells, displayed and
 * non-displayed) driven by byte pairs: pop-on (RCL … EOC), roll-up (RU2-4, CR) and paint-on (RDC),
 * with the standard, special and extended characters. `Cea608Captions` reads a reference segment's
 * pairs (a53-captions.ts) in presentation order and cuts what the screen shows into cues on program
 * time: the screen is looked at after each control code or padding pair and where a burst of
 * characters ends (a roll-up line shows word by word, not letter by letter), and a caption still up when the segment ends is cut there and goes on
 * in the next segment, so no cue waits for a later segment and none is written twice.
 */
import { captionPairs } from './a53-captions.ts'

const ROWS = 15
const COLUMNS = 32
const MPEGTS_HZ = 90
const PTS_WRAP = 2 ** 33
/** Access units further apart than this (a frame at 24 fps and more) end a burst of characters. */
const BURST_GAP_MS = 50

type Mode = 'pop-on' | 'paint-on' | 'roll-up' | 'text'

/** The 608 basic characters that differ from ASCII (0x20-0x7F). */
const BASIC: Record<number, string> = { 0x2a: 'á', 0x5c: 'é', 0x5e: 'í', 0x5f: 'ó', 0x60: 'ú', 0x7b: 'ç', 0x7c: '÷', 0x7d: 'Ñ', 0x7e: 'ñ', 0x7f: '█' }
/** Special characters, 0x11 0x30-0x3F (0x39 is the transparent space). */
const SPECIAL = '®°½¿™¢£♪à èâêîôû'
/** Extended characters, 0x12 and 0x13 with 0x20-0x3F: each replaces the character before it. */
const EXTENDED_12 = 'ÁÉÓÚÜü‘¡*’—©℠•“”ÀÂÇÈÊËëÎÏïÔÙùÛ«»'
const EXTENDED_13 = 'ÃãÍÌìÒòÕõ{}\\^_|~ÄäÖöß¥¤¦ÅåØø┌┐└┘'
/** Row (1-15) of a preamble address code, by the first byte's low 3 bits and the second's 0x20 bit. */
const PAC_ROWS = [11, 11, 1, 2, 3, 4, 12, 13, 14, 15, 5, 6, 7, 8, 9, 10]

function blankRows (): string[][] {
  return Array.from({ length: ROWS }, () => new Array<string>(COLUMNS).fill(' '))
}

/** Odd parity, as 608 bytes are sent. */
function oddParity (byte: number): boolean {
  let ones = 0
  for (let b = byte; b !== 0; b >>= 1) ones += b & 1
  return ones % 2 === 1
}

/** A CEA-608 decoder for channel CC1 of field 1: what the screen shows, after each byte pair. */
export class Cea608Screen {
  #displayed = blankRows()
  #hidden = blankRows()
  #mode: Mode = 'pop-on'
  #rollUpRows = 2
  #row = ROWS - 1
  #column = 0
  /** Text after a control code of the other channel (CC2) is not ours. */
  #ours = true
  /** The last control pair: control codes are sent twice, and the repeat is ignored. Characters end it. */
  #lastControl: number | undefined

  reset (): void {
    this.#displayed = blankRows()
    this.#hidden = blankRows()
    this.#mode = 'pop-on'
    this.#rollUpRows = 2
    this.#row = ROWS - 1
    this.#column = 0
    this.#ours = true
    this.#lastControl = undefined
  }

  /**
   * One byte pair as sent (with parity bits). True when it is a control code or padding: the end of
   * a burst of characters, a moment to look at the screen.
   */
  feed (first: number, second: number): boolean {
    const a = first & 0x7f
    const b = second & 0x7f
    if (a === 0 && b === 0) return true
    if (a >= 0x10 && a <= 0x1f) {
      // A control code with a parity error is dropped whole.
      if (!oddParity(first) || !oddParity(second)) return true
      const code = (a << 8) | b
      // Repeats are ignored until something else comes (as ffmpeg's decoder does): a frame that an
      // encoder duplicated repeats its pair, and a third EOC must not swap the caption away again.
      if (code === this.#lastControl) return true
      this.#lastControl = code
      this.#ours = (a & 0x08) === 0
      if (this.#ours) this.#control(a & 0xf7, b)
      return true
    }
    this.#lastControl = undefined
    // 0x01-0x0F are XDS data (field 2); nothing on screen.
    if (a < 0x20 || !this.#ours || this.#mode === 'text') return false
    for (const [byte, raw] of [[a, first], [b, second]] as const) {
      if (byte >= 0x20) this.#put(oddParity(raw) ? BASIC[byte] ?? String.fromCharCode(byte) : '█')
    }
    return false
  }

  /** The text on screen: its non-blank rows, top to bottom, each trimmed. */
  text (): string {
    return this.#displayed.map(row => row.join('').trim()).filter(row => row !== '').join('\n')
  }

  /** The memory characters are written to: the hidden one in pop-on mode. */
  get #target (): string[][] {
    return this.#mode === 'pop-on' ? this.#hidden : this.#displayed
  }

  #put (char: string): void {
    this.#target[this.#row]![this.#column] = char
    if (this.#column < COLUMNS - 1) this.#column++
  }

  /** A control code of channel 1 (`a` with the channel bit cleared). */
  #control (a: number, b: number): void {
    if (a === 0x11 && b >= 0x30 && b <= 0x3f) return this.#put(SPECIAL[b - 0x30]!)
    // Mid-row style codes show as a space; the style itself is not kept.
    if (a === 0x11 && b >= 0x20 && b <= 0x2f) return this.#put(' ')
    if ((a === 0x12 || a === 0x13) && b >= 0x20 && b <= 0x3f) {
      if (this.#column > 0) this.#column--
      return this.#put((a === 0x12 ? EXTENDED_12 : EXTENDED_13)[b - 0x20]!)
    }
    if (a === 0x17 && b >= 0x21 && b <= 0x23) {
      this.#column = Math.min(COLUMNS - 1, this.#column + b - 0x20)
      return
    }
    if ((a === 0x14 || a === 0x15) && b >= 0x20 && b <= 0x2f) return this.#command(b)
    if (b >= 0x40 && b <= 0x7f) this.#preamble(a, b)
  }

  /** A preamble address code: row and indent of the text that follows. */
  #preamble (a: number, b: number): void {
    const row = PAC_ROWS[((a & 0x07) << 1) | ((b & 0x20) >> 5)]! - 1
    if (this.#mode === 'roll-up' && row !== this.#row) {
      // The roll-up window moves to the new base row with its lines.
      const moved = blankRows()
      for (let k = 0; k < this.#rollUpRows; k++) {
        const from = this.#row - k
        const to = row - k
        if (from >= 0 && to >= 0) moved[to] = this.#displayed[from]!
      }
      this.#displayed = moved
    }
    this.#row = row
    this.#column = (b & 0x10) !== 0 ? ((b & 0x0e) >> 1) * 4 : 0
  }

  #command (b: number): void {
    switch (b) {
      case 0x20: // RCL: resume caption loading (pop-on)
        this.#mode = 'pop-on'
        break
      case 0x21: // BS: backspace
        if (this.#column > 0) this.#column--
        this.#target[this.#row]![this.#column] = ' '
        break
      case 0x24: // DER: delete to end of row
        this.#target[this.#row]!.fill(' ', this.#column)
        break
      case 0x25: case 0x26: case 0x27: // RU2, RU3, RU4
        if (this.#mode !== 'roll-up') {
          this.#displayed = blankRows()
          this.#hidden = blankRows()
          this.#row = ROWS - 1
        }
        this.#mode = 'roll-up'
        this.#rollUpRows = b - 0x23
        this.#column = 0
        break
      case 0x29: // RDC: resume direct captioning (paint-on)
        this.#mode = 'paint-on'
        break
      case 0x2a: case 0x2b: // TR, RTD: text mode, not captions
        this.#mode = 'text'
        break
      case 0x2c: // EDM: erase displayed memory
        this.#displayed = blankRows()
        break
      case 0x2d: // CR: carriage return
        if (this.#mode === 'roll-up') this.#rollUp()
        else this.#column = 0
        break
      case 0x2e: // ENM: erase non-displayed memory
        this.#hidden = blankRows()
        break
      case 0x2f: // EOC: end of caption, the loaded caption shows
        [this.#displayed, this.#hidden] = [this.#hidden, this.#displayed]
        this.#mode = 'pop-on'
        break
    }
  }

  #rollUp (): void {
    const top = Math.max(0, this.#row - this.#rollUpRows + 1)
    for (let r = top; r < this.#row; r++) this.#displayed[r] = this.#displayed[r + 1]!
    if (top > 0) this.#displayed[top - 1] = new Array<string>(COLUMNS).fill(' ')
    this.#displayed[this.#row] = new Array<string>(COLUMNS).fill(' ')
    this.#column = 0
  }
}

/** A stretch of program time (ms since the epoch) during which the input's captions showed `text`. */
export interface CaptionSpan {
  start: number
  end: number
  text: string
}

/** Where a reference segment sits: its program time, first PTS and end. */
export interface SegmentClock {
  pdt: number
  /** 90 kHz, the segment's first PTS (the one its WebVTT segment maps to). */
  pts: number
  /** Program time of its end. */
  end: number
  /** A new encoder run: the decoder starts over. */
  discontinuity: boolean
}

/** The input's CEA-608 captions, segment by segment: one decoder across the run. */
export class Cea608Captions {
  readonly #screen = new Cea608Screen()
  /** What the screen showed when the last segment ended. */
  #shown = ''
  /** Byte pairs read, for /status. */
  pairs = 0

  /** The spans of `bytes` (a reference segment, MPEG-TS), cut to [clock.pdt, clock.end). */
  spans (bytes: Uint8Array, clock: SegmentClock): CaptionSpan[] {
    if (clock.discontinuity) {
      this.#screen.reset()
      this.#shown = ''
    }
    const spans: CaptionSpan[] = []
    let since = clock.pdt
    let time = clock.pdt
    const look = (): void => {
      const text = this.#screen.text()
      if (text === this.#shown) return
      if (this.#shown !== '' && time > since) spans.push({ start: since, end: time, text: this.#shown })
      this.#shown = text
      since = time
    }
    const units = captionPairs(bytes)
    const programTime = (pts: number): number => {
      // The signed distance from the segment's first PTS, across a wrap of the 33-bit clock.
      const ticks = ((pts - clock.pts) % PTS_WRAP + PTS_WRAP + PTS_WRAP / 2) % PTS_WRAP - PTS_WRAP / 2
      return Math.min(clock.end, Math.max(clock.pdt, clock.pdt + Math.round(ticks / MPEGTS_HZ)))
    }
    units.forEach((unit, i) => {
      time = programTime(unit.pts)
      for (const [a, b] of unit.pairs) {
        this.pairs++
        if (this.#screen.feed(a, b)) look()
      }
      // Characters written on screen (roll-up, paint-on) show once their burst ends: when the next
      // access unit with captions is not the next frame or begins with no character.
      const next = units[i + 1]
      if (next === undefined || programTime(next.pts) - time > BURST_GAP_MS || (next.pairs[0]![0] & 0x7f) < 0x20) look()
    })
    if (this.#shown !== '' && clock.end > since) spans.push({ start: since, end: clock.end, text: this.#shown })
    return spans
  }
}
