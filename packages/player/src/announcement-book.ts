/**
 * The announcements this player has checked itself: entries of relays' `/rooms/<room>/window.json`
 * whose Ed25519 signature is by the room's key. The player's playlists are written from these alone
 * (a relay's own playlist text is never read), and the segment loader fetches only the CIDs they name,
 * so a relay cannot substitute, invent, stretch or reorder segments.
 */
import { verifyEnvelope } from '@hivecast/shared'
import type { RenditionInfo } from '@hivecast/shared'

/** Announcements kept per rendition; far more than any relay's live window. */
const KEPT_PER_RENDITION = 600
/** Kept per rendition at most after a rewind: two hours of 0.5 s segments and the live window. */
const MAX_KEPT_PER_RENDITION = 15_000
/** Envelopes remembered as checked (good or bad), so each is verified once. */
const KEPT_SIGNATURES = 4000
/** Entries of one window.json looked at; a relay's window is a few dozen per rendition. */
const MAX_WINDOW_ENTRIES = 2000
/**
 * A window is live when its newest signed segment began at most this long before the player's clock:
 * a live window's newest segment is seconds old, so this leaves a minute for a slow origin or relay
 * and a minute of skew between the origin's and the viewer's clocks. An older window is a replay.
 */
export const LIVE_WINDOW_MAX_AGE_MS = 120_000

export interface SignedEntry {
  cid: string
  /** The fMP4 init section the segment plays with; absent for MPEG-TS. */
  init?: string
  /** Program date time of the segment's first frame, ms since the epoch (the origin's clock). */
  pdt: number
  /** Seconds, as signed. */
  duration: number
  /** The origin marked a break in the timeline before this segment (ffmpeg restarted, slate joined). */
  discontinuity: boolean
  /** The last segment of the origin's session. */
  end: boolean
  /** The key that signed it and the origin run it came from ('' for origins that sign none). */
  key: string
  session: string
}

/** A verified envelope: what it signs, and where it goes. */
interface OpenedEntry {
  rendition: RenditionInfo
  seq: number
  entry: SignedEntry
}

export interface WindowIntake {
  /** Envelopes newly verified. */
  accepted: number
  /** Envelopes newly refused (bad signature, other key, other room, malformed). */
  refused: number
  /** True when the window's newest signed segment is older than LIVE_WINDOW_MAX_AGE_MS: none was kept. */
  stale: boolean
  /**
   * Per rendition, the sequence numbers the window listed with a verified envelope, in its order, and
   * whether the relay holds the segment (`storedAt` set; a hint about availability, not trust).
   */
  listed: Map<string, ListedSeq[]>
}

export interface ListedSeq {
  seq: number
  stored: boolean
}

/**
 * Which of two signed announcements for one seq stands: the later program date time, then the
 * greater session id, key and CID. An order on the signed data alone, so every player (and every
 * arrival order) picks the same one when a primary and a hot standby both sign a seq.
 */
function supersedes (a: SignedEntry, b: SignedEntry): boolean {
  if (a.pdt !== b.pdt) return a.pdt > b.pdt
  if (a.session !== b.session) return a.session > b.session
  if (a.key !== b.key) return a.key > b.key
  return a.cid > b.cid
}

/** True when `entry` starts a new stretch of timeline after `before` (the entry one seq earlier). */
function breaksAfter (before: SignedEntry | undefined, entry: SignedEntry): boolean {
  return entry.discontinuity || (before !== undefined && (before.key !== entry.key || before.session !== entry.session))
}

export class AnnouncementBook {
  readonly room: string
  /** The room's keys; empty when the page gave none: then any signer's announcements for the room count. */
  readonly keys: readonly string[]
  /** Announcements that passed, and envelopes that did not, since the player started. */
  verified = 0
  refused = 0
  readonly #renditions = new Map<string, Map<number, SignedEntry>>()
  /** The newest signed description of each rendition (bandwidth, size, codecs) for the master playlist. */
  readonly #info = new Map<string, { seq: number, info: RenditionInfo }>()
  /** Per rendition, timeline breaks among entries no longer kept: the discontinuity sequence stays put. */
  readonly #droppedBreaks = new Map<string, number>()
  readonly #checked = new Map<string, OpenedEntry | false>()
  /** Per rendition, the oldest seq a rewind needs: entries from it up are not dropped. */
  readonly #keptFrom = new Map<string, number>()
  readonly #now: () => number
  /** Windows refused as not live since the player started. */
  stale = 0

  constructor (room: string, keys: readonly string[], now: () => number = Date.now) {
    this.room = room
    this.keys = keys
    this.#now = now
  }

  /** Takes an untrusted window.json body; verifies every envelope not seen before. Never throws. */
  async addWindow (value: unknown): Promise<WindowIntake> {
    const { intake, checked } = await this.#verify(value)
    // Judged on the whole window, not per entry: a live window also holds a minute-old segment.
    const newest = Math.max(...checked.map(({ entry }) => entry.pdt))
    if (checked.length > 0 && newest < this.#now() - LIVE_WINDOW_MAX_AGE_MS) {
      intake.stale = true
      this.stale++
    } else {
      this.#file(intake, checked)
    }
    return intake
  }

  /**
   * Takes an untrusted page of window history (a rewind): verified like a window, but old by nature,
   * so never judged stale. Call `keepFrom` first, or the oldest entries are dropped again at once.
   */
  async addHistory (value: unknown): Promise<WindowIntake> {
    const { intake, checked } = await this.#verify(value)
    this.#file(intake, checked)
    return intake
  }

  /**
   * Keeps every entry of `rendition` from `seq` up (up to MAX_KEPT_PER_RENDITION): the viewer rewound
   * there, and the player's playlist lists them all.
   */
  keepFrom (rendition: string, seq: number): void {
    this.#keptFrom.set(rendition, Math.min(seq, this.#keptFrom.get(rendition) ?? Infinity))
  }

  /** Verifies the envelopes of a window-shaped body not seen before. */
  async #verify (value: unknown): Promise<{ intake: WindowIntake, checked: Array<OpenedEntry & { stored: boolean }> }> {
    const intake: WindowIntake = { accepted: 0, refused: 0, stale: false, listed: new Map() }
    const checked: Array<OpenedEntry & { stored: boolean }> = []
    if (typeof value !== 'object' || value === null) return { intake, checked }
    const renditions = (value as { renditions?: unknown }).renditions
    if (typeof renditions !== 'object' || renditions === null) return { intake, checked }
    const items: unknown[] = []
    // Bounded before any work: a hostile window may list far more.
    for (const list of Object.values(renditions)) if (Array.isArray(list)) items.push(...list.slice(0, MAX_WINDOW_ENTRIES - items.length))
    for (const item of items) {
      const envelope: unknown = (item as { envelope?: unknown } | null)?.envelope
      const stored = typeof (item as { storedAt?: unknown } | null)?.storedAt === 'number'
      // The whole envelope is the cache key: keyed by signature alone, a forged payload carrying a
      // copied signature could get the genuine envelope skipped later.
      const id = envelopeId(envelope)
      const known = id === undefined ? undefined : this.#checked.get(id)
      if (known === false) continue
      if (known !== undefined) {
        checked.push({ ...known, stored })
        continue
      }
      const opened = await this.#open(envelope)
      if (opened === undefined) intake.refused++
      else checked.push({ ...opened, stored })
      if (id !== undefined) this.#remember(id, opened ?? false)
    }
    this.refused += intake.refused
    return { intake, checked }
  }

  /** Files verified entries and lists them in the intake. */
  #file (intake: WindowIntake, checked: Array<OpenedEntry & { stored: boolean }>): void {
    for (const { rendition, seq, entry, stored } of checked) {
      if (this.#keep(rendition, seq, entry)) intake.accepted++
      const listed = intake.listed.get(rendition.name) ?? []
      listed.push({ seq, stored })
      intake.listed.set(rendition.name, listed)
    }
    this.verified += intake.accepted
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

  /** The signed description of `rendition`, from its newest announcement kept. */
  rendition (name: string): RenditionInfo | undefined {
    return this.#info.get(name)?.info
  }

  /** True when the entry at `seq` starts a new stretch of timeline: signed, or a switch of origin or session. */
  breaksAt (rendition: string, seq: number): boolean {
    const list = this.#renditions.get(rendition)
    const entry = list?.get(seq)
    return entry !== undefined && breaksAfter(list?.get(seq - 1), entry)
  }

  /** Timeline breaks before `seq` since the player started: the playlist's discontinuity sequence. */
  breaksBefore (rendition: string, seq: number): number {
    let breaks = this.#droppedBreaks.get(rendition) ?? 0
    const list = this.#renditions.get(rendition)
    for (const [at, entry] of list ?? []) if (at < seq && breaksAfter(list?.get(at - 1), entry)) breaks++
    return breaks
  }

  /** The entry an envelope signs for this room, or undefined when it is not one. */
  async #open (envelope: unknown): Promise<OpenedEntry | undefined> {
    const signer = (envelope as { key?: unknown } | null | undefined)?.key
    const keys = this.keys.length > 0 ? this.keys : typeof signer === 'string' ? [signer] : []
    const result = await verifyEnvelope(envelope, keys)
    if (!result.ok) return undefined
    const { announcement, envelope: signed } = result.value
    if (announcement.room !== this.room) return undefined
    const entry: SignedEntry = {
      cid: announcement.cid,
      pdt: announcement.pdt,
      duration: announcement.duration,
      discontinuity: announcement.discontinuity,
      end: announcement.end,
      key: signed.key,
      session: announcement.session ?? '',
      ...announcement.init === undefined ? {} : { init: announcement.init.cid }
    }
    return { rendition: announcement.rendition, seq: announcement.seq, entry }
  }

  /** Files a verified entry; false when it was known already or another announcement for its seq stands. */
  #keep (info: RenditionInfo, seq: number, entry: SignedEntry): boolean {
    const rendition = info.name
    let list = this.#renditions.get(rendition)
    if (list === undefined) {
      list = new Map()
      this.#renditions.set(rendition, list)
    }
    const known = list.get(seq)
    if (known !== undefined && !supersedes(entry, known)) return false
    list.set(seq, entry)
    if (seq >= (this.#info.get(rendition)?.seq ?? -1)) this.#info.set(rendition, { seq, info })
    if (list.size > KEPT_PER_RENDITION) {
      const oldest = Math.min(...list.keys())
      if (oldest < (this.#keptFrom.get(rendition) ?? Infinity) || list.size > MAX_KEPT_PER_RENDITION) this.#drop(rendition, list, oldest)
    }
    return true
  }

  /** Forgets the oldest entry, keeping the count of breaks it and its successor stood for. */
  #drop (rendition: string, list: Map<number, SignedEntry>, oldest: number): void {
    const entry = list.get(oldest)!
    const next = list.get(oldest + 1)
    // The oldest kept entry counts a break only when signed; its successor loses the predecessor it was compared with.
    const lost = (entry.discontinuity ? 1 : 0) + (next !== undefined && !next.discontinuity && breaksAfter(entry, next) ? 1 : 0)
    this.#droppedBreaks.set(rendition, (this.#droppedBreaks.get(rendition) ?? 0) + lost)
    list.delete(oldest)
  }

  #remember (id: string, opened: OpenedEntry | false): void {
    this.#checked.set(id, opened)
    if (this.#checked.size > KEPT_SIGNATURES) {
      const first = this.#checked.keys().next().value
      if (first !== undefined) this.#checked.delete(first)
    }
  }
}

/** A string naming exactly this envelope, or undefined when it is not even shaped like one. */
export function envelopeId (envelope: unknown): string | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined
  const { key, payload, sig } = envelope as Record<string, unknown>
  if (typeof key !== 'string' || typeof payload !== 'string' || typeof sig !== 'string') return undefined
  return `${key}\n${sig}\n${payload}`
}
