/**
 * Other viewers as a segment source, as the segment loader sees them: the shape the swarm
 * (`peer-swarm.ts`, its own chunk) implements and the player uses. Only types, so both sides import
 * it without importing each other.
 */
import type { ViewerReceived } from '@hivecast/shared'

/** What the swarm did, for the stats panel and the `hivecast:stats` event. */
export interface PeerStats {
  /** Viewers connected directly (WebRTC). */
  peers: number
  /** Bytes and segments this viewer sent to other viewers. */
  uploadedBytes: number
  uploadedSegments: number
  /** Viewers dropped because they sent bytes that did not match their CID. */
  rejectedPeers: number
  /** Times a viewer was not asked for a while because it did not deliver blocks it claimed. */
  benchedPeers: number
  /** Malformed swarm messages dropped (from relays or viewers). */
  badMessages: number
}

export interface PeerSource {
  peers: () => number
  /** True when a connected viewer said it holds `cid`. */
  has: (cid: string) => boolean
  /** Resolves true as soon as a viewer says it holds `cid`, false after `ms` without one. */
  waitFor: (cid: string, ms: number) => Promise<boolean>
  /** The block from one viewer that holds it, unverified; undefined when none delivered within `timeoutMs`. */
  fetch: (cid: string, timeoutMs: number) => Promise<{ bytes: Uint8Array, peer: string } | undefined>
  /** Drops a viewer whose bytes did not match the CID, and never asks it again. */
  reject: (peer: string) => void
  /** Keeps a verified block for other viewers and tells them. */
  hold: (cid: string, bytes: Uint8Array) => void
  stats: () => PeerStats
  stop: () => void
}

export interface PeerSourceOptions {
  room: string
  relays: string[]
  /** Verified bytes this viewer received so far, by source; told to relays for their status. */
  received?: () => ViewerReceived
  onChange?: () => void
  log?: (line: string) => void
}
