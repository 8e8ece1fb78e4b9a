/**
 * The LL-HLS parts this player has checked itself: the `parts` of relays' window.json, each envelope
 * signed by the room's key under the parts' own signature domain (a part can never pass as a segment).
 * The live playlists list only these parts, and the segment loader fetches only the CIDs they name,
 * verified like segments, so a relay cannot substitute or invent a part either.
 */
import { verifyPartEnvelope } from '@hivecast/shared'
import { envelopeId } from './announcement-book.ts'

/** Parts of one window.json looked at: a few segments' worth per rendition. */
const MAX_WINDOW_PARTS = 512
/** Segments whose parts are kept per rendition, counted back from the newest part seen. */
const KEPT_SEGMENTS = 6
/** Envelopes remembered as checked (good or bad), so each is verified once. */
const KEPT_SIGNATURES = 2000

export interface SignedPart {
  cid: string
  /** Seconds, as signed. */
  duration: number
  /** Starts with a keyframe. */
  independent: boolean
  /** The segment's last part. */
  last: boolean
}

interface OpenedPart {
  rendition: string
  /** The origin run: a hot standby's parts of the same seq are other parts. */
  session: string
  seq: number
  index: number
  part: SignedPart
}

interface SegmentParts {
  seq: number
  /** By index, sparse until all came. */
  parts: SignedPart[]
}

export class PartBook {
  readonly #room: string
  readonly #keys: readonly string[]
  /** Per rendition, per origin run and segment (`<session>/<seq>`), its parts. */
  readonly #parts = new Map<string, Map<string, SegmentParts>>()
  /** Per rendition, the longest part seen, seconds: the playlist's part target. */
  readonly #longest = new Map<string, number>()
  readonly #checked = new Map<string, OpenedPart | false>()
  /** Part envelopes that passed, and that did not, since the player started. */
  verified = 0
  refused = 0

  /** `keys`: the room's keys; empty when the page gave none (then any signer's parts for the room count). */
  constructor (room: string, keys: readonly string[]) {
    this.#room = room
    this.#keys = keys
  }

  /** True once a signed part came: the origin cuts parts, so the low-latency mode has something to play. */
  get offered (): boolean {
    return this.verified > 0
  }

  /** Takes an untrusted window.json body's `parts`; verifies every envelope not seen before. Returns how many were refused now. */
  async add (value: unknown): Promise<number> {
    const byRendition = (value as { parts?: unknown } | null | undefined)?.parts
    if (typeof byRendition !== 'object' || byRendition === null) return 0
    const items: unknown[] = []
    for (const list of Object.values(byRendition)) if (Array.isArray(list)) items.push(...list.slice(0, MAX_WINDOW_PARTS - items.length))
    let refused = 0
    for (const item of items) {
      const envelope: unknown = (item as { envelope?: unknown } | null)?.envelope
      const id = envelopeId(envelope)
      let opened = id === undefined ? undefined : this.#checked.get(id)
      if (opened === false) continue
      if (opened === undefined) {
        opened = await this.#open(envelope)
        if (opened === undefined) refused++
        else this.verified++
        if (id !== undefined) this.#remember(id, opened ?? false)
      }
      if (opened !== undefined) this.#file(opened)
    }
    this.refused += refused
    return refused
  }

  /** The parts of segment `seq` of origin run `session` from part 0 on, as far as they are consecutive. */
  parts (rendition: string, session: string, seq: number): SignedPart[] {
    const all = this.#parts.get(rendition)?.get(`${session}/${seq}`)?.parts ?? []
    const run: SignedPart[] = []
    for (const part of all) {
      if (part === undefined) break
      run.push(part)
    }
    return run
  }

  part (rendition: string, session: string, seq: number, index: number): SignedPart | undefined {
    return this.#parts.get(rendition)?.get(`${session}/${seq}`)?.parts[index]
  }

  /** The part target of `rendition`, seconds (rounded up to the millisecond); undefined before any part. */
  target (rendition: string): number | undefined {
    const longest = this.#longest.get(rendition)
    return longest === undefined ? undefined : Math.ceil(longest * 1000) / 1000
  }

  async #open (envelope: unknown): Promise<OpenedPart | undefined> {
    const signer = (envelope as { key?: unknown } | null | undefined)?.key
    const keys = this.#keys.length > 0 ? this.#keys : typeof signer === 'string' ? [signer] : []
    const result = await verifyPartEnvelope(envelope, keys)
    if (!result.ok || result.value.announcement.room !== this.#room) return undefined
    const { rendition, session, seq, part, cid, duration, independent, last } = result.value.announcement
    return { rendition, session, seq, index: part, part: { cid, duration, independent, last } }
  }

  #file ({ rendition, session, seq, index, part }: OpenedPart): void {
    let segments = this.#parts.get(rendition)
    if (segments === undefined) {
      segments = new Map()
      this.#parts.set(rendition, segments)
    }
    const newest = Math.max(seq, ...[...segments.values()].map(s => s.seq))
    if (seq <= newest - KEPT_SEGMENTS) return
    const key = `${session}/${seq}`
    let kept = segments.get(key)
    if (kept === undefined) {
      kept = { seq, parts: [] }
      segments.set(key, kept)
    }
    // The first signed part for a place stands: an origin run signs each place once.
    kept.parts[index] ??= part
    this.#longest.set(rendition, Math.max(part.duration, this.#longest.get(rendition) ?? 0))
    for (const [old, { seq: oldSeq }] of segments) if (oldSeq <= newest - KEPT_SEGMENTS) segments.delete(old)
  }

  #remember (id: string, opened: OpenedPart | false): void {
    this.#checked.set(id, opened)
    if (this.#checked.size > KEPT_SIGNATURES) {
      const first = this.#checked.keys().next().value
      if (first !== undefined) this.#checked.delete(first)
    }
  }
}
