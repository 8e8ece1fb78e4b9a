/**
 * Which of a room's origins is followed (hot standby). The first key is the primary. When the followed
 * origin's announcements stop for more than QUIET_SEGMENTS of its segment durations, the next segment
 * of another listed origin switches the room to that origin; what that origin announced meanwhile
 * (kept here, at most UNFOLLOWED_KEPT) is replayed, and only sequence numbers above what was listed
 * before the switch are taken from then on. The room-follower module comment tells the whole story.
 */
import type { VerifiedAnnouncement } from '@hivecast/shared'

/** An origin is quiet after this many of its segment durations without a new announcement. */
const QUIET_SEGMENTS = 2
/** Segment duration assumed for an origin not heard yet. */
const DEFAULT_SEGMENT_SECONDS = 1
/** Segments kept per origin not followed (all renditions together). */
const UNFOLLOWED_KEPT = 64

export interface OriginSwitch {
  /** How long the followed origin had been quiet (ms). */
  silentMs: number
  /** The origin followed before. */
  from: string
  /** The new origin's segments announced during the silence, oldest first, to take now. */
  replay: VerifiedAnnouncement[]
}

export class OriginStandby {
  /** The origin key whose segments are listed. */
  #following: string
  #switches = 0
  /** Per origin key: when its newest segment arrived (local clock), its duration, and its newest seq per rendition. */
  readonly #heard = new Map<string, { at: number, duration: number, newest: Map<string, number> }>()
  readonly #startedAt = Date.now()
  /** After a switch: per rendition, the newest seq listed before it; the new origin's segments must be above it. */
  readonly #floor = new Map<string, number>()
  /** The latest segments of origins not followed, replayed on a switch to fill the silence before it. */
  readonly #unfollowed = new Map<string, VerifiedAnnouncement[]>()

  constructor (keys: readonly string[]) {
    this.#following = keys[0] ?? ''
  }

  get following (): string {
    return this.#following
  }

  /** Times the room switched to another origin. */
  get switches (): number {
    return this.#switches
  }

  /** Since the last switch, the newest seq of `rendition` listed before it: only higher ones are taken. */
  floor (rendition: string): number | undefined {
    return this.#floor.get(rendition)
  }

  /** Notes a segment announcement's origin as alive; false when it is not newer than what it said before. */
  hear ({ announcement, envelope }: VerifiedAnnouncement): boolean {
    let heard = this.#heard.get(envelope.key)
    if (heard === undefined) {
      heard = { at: 0, duration: announcement.duration, newest: new Map() }
      this.#heard.set(envelope.key, heard)
    }
    const newest = heard.newest.get(announcement.rendition.name)
    if (newest !== undefined && announcement.seq <= newest) return false
    heard.newest.set(announcement.rendition.name, announcement.seq)
    heard.at = Date.now()
    heard.duration = announcement.duration
    return true
  }

  /** Keeps a segment of an origin not followed, to replay if the room switches to it. */
  keep (segment: VerifiedAnnouncement): void {
    const kept = this.#unfollowed.get(segment.envelope.key) ?? []
    kept.push(segment)
    if (kept.length > UNFOLLOWED_KEPT) kept.shift()
    this.#unfollowed.set(segment.envelope.key, kept)
  }

  /**
   * Switches to the origin of `segment` when the followed one has been quiet for more than
   * QUIET_SEGMENTS of its segment durations (counted from the start if never heard); undefined when it
   * has not. `latestSeqs` gives the newest seq per rendition now, the floor from then on.
   */
  switchTo ({ envelope }: VerifiedAnnouncement, latestSeqs: ReadonlyMap<string, number>): OriginSwitch | undefined {
    const followed = this.#heard.get(this.#following)
    const quietMs = QUIET_SEGMENTS * 1000 * (followed?.duration ?? this.#heard.get(envelope.key)?.duration ?? DEFAULT_SEGMENT_SECONDS)
    const silentMs = Date.now() - (followed?.at ?? this.#startedAt)
    if (silentMs <= quietMs) return undefined
    const from = this.#following
    this.#following = envelope.key
    this.#switches++
    this.#floor.clear()
    for (const [name, seq] of latestSeqs) this.#floor.set(name, seq)
    const replay = this.#unfollowed.get(envelope.key) ?? []
    this.#unfollowed.clear()
    return { silentMs, from, replay }
  }
}
