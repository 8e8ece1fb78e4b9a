/**
 * What a running relay reports at `/status` (and `/metrics` reads): identity, rooms, peers, traffic,
 * disk, recordings, the viewer swarm and the certificate. Its own module so the metrics and the relay
 * both depend on it, not on each other.
 */
import type { ViewerReceived } from '@hivecast/shared'
import type { AcmeStatus } from './acme-certificates.ts'
import type { DirectoryRejectReason } from './directory.ts'
import type { P2PTrafficTotals } from '@hivecast/shared/node'
import type { ArchiveStatus } from './recording-archive.ts'
import type { RoomStatus } from './room-status.ts'
import type { PushCounts } from './segment-pushes.ts'
import type { RoomViewers, ViewerCountRejectReason } from './viewer-count.ts'
import type { ViewerTokenRefusal } from './viewer-tokens.ts'

export interface RelayStatus {
  peerId: string
  multiaddrs: string[]
  http: string
  /** Per room, with its viewers: tokens seen here (`local`) and over all its relays (`network`). */
  rooms: Record<string, RoomStatus & { viewers: RoomViewers }>
  /** Viewer tokens not counted: malformed, over --viewers-per-address, or the relay's table full. */
  viewerTokensRefused: Partial<Record<ViewerTokenRefusal, number>>
  /** Other relays' viewer counts dropped, by reason. */
  viewerCountRejected: Partial<Record<ViewerCountRejectReason, number>>
  /** Connected libp2p peers. */
  peers: number
  /** libp2p bytes in and out (all connections, all protocols) and bitswap blocks sent and received. */
  p2p: P2PTrafficTotals
  /** The segment push: offers taken, declined and rejected (wrong bytes), and offered to children. */
  push: PushCounts
  /** Relays in the directory right now (this one included). */
  directory: number
  directoryRejected: Partial<Record<DirectoryRejectReason, number>>
  bytesServed: number
  requests: number
  /** Distinct client addresses served in the last 30 s (not viewers: see `rooms[room].viewers`). */
  viewers: number
  disk: { heldBytes: number, quotaBytes: number | null, evicted: number }
  /** Recordings listed, and (with --archive) pinned; pinned blocks are outside the disk quota's reach. */
  recordings: ArchiveStatus & { archive: boolean }
  /** Browser viewers: where they connect (WebSocket multiaddrs with /p2p/), who is listed per room. */
  viewerSwarm: ViewerSwarmStatus
  /** The ACME certificate (--acme-domain); null without. */
  acme: AcmeStatus | null
}

export interface ViewerSwarmStatus {
  /** libp2p WebSocket addresses with `/p2p/<id>`; empty when the relay listens on none. */
  multiaddrs: string[]
  /** Viewers listed per room for peer discovery. */
  viewers: Record<string, number>
  /** Per room, segment bytes those viewers say they received from relays and from each other. */
  received: Record<string, ViewerReceived>
  /** Viewer directory requests dropped as malformed or for another room. */
  rejected: number
  /** Circuit relay reservations held (viewers reachable for WebRTC signalling). */
  reservations: number
}
