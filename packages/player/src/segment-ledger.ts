/**
 * What the player fetched and from where: every segment attempt that returned bytes, whether those
 * bytes matched their CID, and how many verified bytes each source delivered. It is what
 * `PlayerHandle.stats()` reports and what the `hivecast:stats` event carries.
 */

import type { PeerStats } from './peer-source-contract.ts'

/**
 * What the player is doing, as shown to the viewer. `no-signal`: the relays answer but the origin
 * sends nothing (not on air yet, or stalled); `offline`: no relay answers; `error`: this page or
 * browser cannot play the room.
 */
export type PlayerState = 'connecting' | 'live' | 'buffering' | 'paused' | 'no-signal' | 'ended' | 'offline' | 'error'

export interface SegmentRecord {
  cid: string
  /** The relay base URL the bytes came from. */
  source: string
  bytes: number
  /** True when the bytes hashed to the CID and went to the decoder; false when they were rejected. */
  verified: boolean
  /** Time to fetch and verify this copy, in milliseconds. */
  ms: number
}

export interface LedgerStats {
  segmentsVerified: number
  segmentsRejected: number
  /** Verified bytes handed to the decoder, per source. Rejected bytes are not counted. */
  bytesBySource: Record<string, number>
  /** The most recent segment attempts, oldest first. */
  segments: SegmentRecord[]
}

/** What playback looks like right now, next to what the ledger counted. */
export interface PlaybackStats {
  state: PlayerState
  /** Now minus the program-date-time of the frame on screen, ms; null before the first frame. */
  latencyMs: number | null
  /** Times the player played faster to get a viewer following live back near the live edge. */
  catchUps: number
  /** Seconds of video buffered ahead of the playhead. */
  bufferSeconds: number
  /** Declared bitrate of the rendition playing, bits/s; null before one plays. */
  bitrate: number | null
  /** hls.js's estimate of the bandwidth to the relays, bits/s. */
  bandwidthEstimate: number | null
  /** The rendition playing, and whether the player picks it (`auto`) or the viewer did. */
  rendition: string | null
  auto: boolean
  /** The audio track hls.js plays (`Original`, an interpretation's name); null when the stream offers no choice. */
  audioTrack: string | null
  /** Announcements signed by the room key that this player checked; envelopes that failed. */
  announcementsVerified: number
  announcementsRefused: number
  /** Envelopes of relays' windows not signed by the room key, and recording blocks not matching their CID: kept out of the playlists. */
  entriesRejected: number
  /** True when announcements are checked against the room key (the key was given). */
  keyChecked: boolean
  /** `webcrypto`, or `js` on a page without WebCrypto (plain http), where a JS SHA-256 checks CIDs. */
  hashing: 'webcrypto' | 'js'
  /**
   * Viewer to viewer: `off` (turned off, or a recording), `starting` (loading the swarm), `on`, or
   * `unavailable` (no relay offers browsers a way in; the player uses relays only).
   */
  p2p: 'off' | 'starting' | 'on' | 'unavailable'
  /** What the swarm did (zeros while it is not on). Bytes from peers are `bytesBySource.peers`. */
  peers: PeerStats
}

export type PlayerStats = PlaybackStats & LedgerStats

/** How many recent segment records are kept. */
export const RECENT_SEGMENTS = 200

export class SegmentLedger {
  #verified = 0
  #rejected = 0
  readonly #bytesBySource = new Map<string, number>()
  readonly #recent: SegmentRecord[] = []
  readonly #onRecord: ((record: SegmentRecord) => void) | undefined

  constructor (onRecord?: (record: SegmentRecord) => void) {
    this.#onRecord = onRecord
  }

  record (record: SegmentRecord): void {
    if (record.verified) {
      this.#verified++
      this.#bytesBySource.set(record.source, (this.#bytesBySource.get(record.source) ?? 0) + record.bytes)
    } else {
      this.#rejected++
    }
    this.#recent.push(record)
    if (this.#recent.length > RECENT_SEGMENTS) this.#recent.splice(0, this.#recent.length - RECENT_SEGMENTS)
    this.#onRecord?.(record)
  }

  /** A copy the caller may keep or mutate. */
  snapshot (): LedgerStats {
    return {
      segmentsVerified: this.#verified,
      segmentsRejected: this.#rejected,
      bytesBySource: Object.fromEntries(this.#bytesBySource),
      segments: this.#recent.map(record => ({ ...record }))
    }
  }
}
