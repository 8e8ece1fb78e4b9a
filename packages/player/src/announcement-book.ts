/**
 * The announcements this player has checked itself: entries of relays' `/rooms/<room>/window.json`
 * whose Ed25519 signature is by the room's key. A playlist entry (sequence number and CID) is trusted
 * only when such an announcement backs it, so a relay cannot substitute or invent segments: the
 * playlist loader drops what is not backed and the segment loader refuses CIDs that are not.
 */
import { verifyEnvelope } from '@hivecast/shared'

/** Announcements kept per rendition; far more than any relay's live window. */
const KEPT_PER_RENDITION = 600
/** Envelopes remembered as checked (good or bad), so each is verified once. */
const KEPT_SIGNATURES = 4000
/** Entries of one window.json looked at; a relay's window is a few dozen per rendition. */
const MAX_WINDOW_ENTRIES = 2000

export interface SignedEntry {
  cid: string
  /** The fMP4 init section the segment plays with; absent for MPEG-TS. */
  init?: string
  /** Program date time of the segment's first frame, ms since the epoch (the origin's clock). */
  pdt: number
}

export interface WindowIntake {
  /** Envelopes newly verified. */
  accepted: number
  /** Envelopes newly refused (bad signature, other key, other room, malformed). */
  refused: number
}

export class AnnouncementBook {
  readonly room: string
  readonly keys: readonly string[]
  /** Announcements that passed, and envelopes that did not, since the player started. */
  verified = 0
  refused = 0
  readonly #renditions = new Map<string, Map<number, SignedEntry>>()
  readonly #checked = new Map<string, boolean>()

  constructor (room: string, keys: readonly string[]) {
    this.room = room
    this.keys = keys
  }

  /** Takes an untrusted window.json body; verifies every envelope not seen before. Never throws. */
  async addWindow (value: unknown): Promise<WindowIntake> {
    const intake: WindowIntake = { accepted: 0, refused: 0 }
    if (typeof value !== 'object' || value === null) return intake
    const renditions = (value as { renditions?: unknown }).renditions
    if (typeof renditions !== 'object' || renditions === null) return intake
    let budget = MAX_WINDOW_ENTRIES
    for (const list of Object.values(renditions)) {
      if (!Array.isArray(list)) continue
      for (const item of list) {
        if (budget-- <= 0) return intake
        const envelope: unknown = (item as { envelope?: unknown } | null)?.envelope
        // The whole envelope is the cache key: keyed by signature alone, a forged payload carrying a
        // copied signature could get the genuine envelope skipped later.
        const id = envelopeId(envelope)
        if (id !== undefined && this.#checked.has(id)) continue
        const ok = await this.#add(envelope)
        if (ok) intake.accepted++
        else intake.refused++
        if (id !== undefined) this.#remember(id, ok)
      }
    }
    this.verified += intake.accepted
    this.refused += intake.refused
    return intake
  }

  /**
   * True when an announcement signed by the room key names `cid` at `seq` of `rendition`, played with
   * the init section `map` (undefined for MPEG-TS, which has none).
   */
  backs (rendition: string, seq: number, cid: string, map?: string): boolean {
    const entry = this.#renditions.get(rendition)?.get(seq)
    return entry?.cid === cid && entry.init === map
  }

  /**
   * True when `cid` was announced, as a segment or an init section, for `rendition` (for any
   * rendition when that is not known).
   */
  knows (cid: string, rendition?: string): boolean {
    const lists = rendition === undefined ? [...this.#renditions.values()] : [this.#renditions.get(rendition)]
    for (const list of lists) {
      if (list === undefined) continue
      for (const entry of list.values()) if (entry.cid === cid || entry.init === cid) return true
    }
    return false
  }

  entry (rendition: string, seq: number): SignedEntry | undefined {
    return this.#renditions.get(rendition)?.get(seq)
  }

  async #add (envelope: unknown): Promise<boolean> {
    const result = await verifyEnvelope(envelope, this.keys)
    if (!result.ok) return false
    const announcement = result.value.announcement
    if (announcement.room !== this.room) return false
    const name = announcement.rendition.name
    let list = this.#renditions.get(name)
    if (list === undefined) {
      list = new Map()
      this.#renditions.set(name, list)
    }
    const known = list.get(announcement.seq)
    // Two signed announcements for one seq would be the origin contradicting itself: keep the first.
    if (known !== undefined) return known.cid === announcement.cid
    list.set(announcement.seq, { cid: announcement.cid, pdt: announcement.pdt, ...announcement.init === undefined ? {} : { init: announcement.init.cid } })
    if (list.size > KEPT_PER_RENDITION) {
      const oldest = Math.min(...list.keys())
      list.delete(oldest)
    }
    return true
  }

  #remember (id: string, ok: boolean): void {
    this.#checked.set(id, ok)
    if (this.#checked.size > KEPT_SIGNATURES) {
      const first = this.#checked.keys().next().value
      if (first !== undefined) this.#checked.delete(first)
    }
  }
}

/** A string naming exactly this envelope, or undefined when it is not even shaped like one. */
function envelopeId (envelope: unknown): string | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined
  const { key, payload, sig } = envelope as Record<string, unknown>
  if (typeof key !== 'string' || typeof payload !== 'string' || typeof sig !== 'string') return undefined
  return `${key}\n${sig}\n${payload}`
}
