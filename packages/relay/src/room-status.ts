/**
 * What a room follower keeps per segment (one record: announcement, envelope, state, times) and what it
 * reports about a room at `/status`: renditions, the origin followed, refusals by reason, and the
 * segments it holds for the disk quota.
 */
import type { EntryState, SegmentAnnouncement, SignedEnvelope, VerifyFailureCode } from '@hivecast/shared'

/** Why an announcement was refused; counted per room and shown in /status. */
export type RejectReason = VerifyFailureCode | 'wrong-room' | 'conflicting-seq' | 'unusable-thumbnail' | 'numbered-below' | 'invalid-part' | 'unusable-part'

export interface SegmentRecord {
  announcement: SegmentAnnouncement
  /** The signed envelope exactly as received, handed on to late joiners and players. */
  envelope: SignedEnvelope
  state: EntryState
  /** Local clock, ms since the epoch: when the announcement arrived. */
  receivedAt: number
  /** Local clock, ms since the epoch: when the verified block was in the blockstore. */
  storedAt?: number
}

export interface RenditionStatus {
  latestSeq: number | null
  listed: number
  /** When the newest announced segment was stored; null while it is pending or failed. */
  storedAt: number | null
  /** Segments whose blocks this relay holds. */
  held: number
  /** Announced segments newer than the newest stored one. */
  behind: number
  /** Announced segments given up since the relay started (their blocks could not be had): listed as gaps. */
  gaps: number
  /** Of those, the ones fetched later after all and listed since (a gap filled in). */
  filled: number
}

export interface RoomStatus {
  keys: string[]
  /** The origin key whose segments are listed now (the primary until it went quiet). */
  following: string
  /** Times the room switched to another origin. */
  switches: number
  /** The newest thumbnail held, served at /rooms/<room>/thumbnail.jpg. */
  thumbnail: { cid: string, at: number } | null
  renditions: Record<string, RenditionStatus>
  rejected: Partial<Record<RejectReason, number>>
  /** LL-HLS parts held and failed, and segments joined from their parts (so not fetched again). */
  parts: { held: number, failed: number, joined: number }
}

/** A segment whose block this relay holds: what the disk quota chooses from. */
export interface HeldSegment {
  room: string
  rendition: string
  seq: number
  size: number
  storedAt: number
  /** A pinned recording is never evicted for live data. Live segments are never pinned. */
  pinned: boolean
}
