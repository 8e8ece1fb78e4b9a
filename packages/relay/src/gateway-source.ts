/**
 * What the gateway's routes serve from and write with: the relay's followers, blocks and recordings
 * (`GatewaySource`), the responder, the log, and the hit/miss and viewer counts the routes keep.
 */
import type { IncomingMessage } from 'node:http'
import type { IceServersJson, Logger, PlaylistEntry } from '@hivecast/shared'
import type { CID } from 'multiformats/cid'
import type { DagScope } from './car-export.ts'
import type { HttpResponder } from './http-response.ts'
import type { RoomFollower } from './room-follower.ts'

export type Health = { ok: true } | { ok: false, reason: string }

/** What the gateway serves from; the relay wires it to its followers and blockstore. */
export interface GatewaySource {
  follower: (slug: string) => RoomFollower | undefined
  /** The block from the local store when a followed room holds it, else undefined. Never fetches. */
  readHeldBlock: (cid: CID) => Promise<Uint8Array | undefined>
  /** The recordings listed for a followed room: `/rooms/<room>/recordings.json`. */
  recordings: (slug: string) => unknown[]
  /** A file inside a pinned recording, from the local store; undefined when not held here. Never fetches. */
  readRecordingFile: (root: CID, path: string[]) => Promise<Uint8Array | undefined>
  /** A pinned recording's segments of one rendition, CIDs resolved; undefined when not held here. */
  recordingEntries: (root: CID, rendition: string) => Promise<PlaylistEntry[] | undefined>
  /** The blocks under a held CID, depth first, from the local store only: what a CAR carries. */
  dagBlocks: (root: CID, scope: DagScope) => AsyncIterable<{ cid: CID, bytes: Uint8Array }>
  /** The held blocks from `root` down `path`, the terminus last; undefined when not held or no such path. */
  pathBlocks: (root: CID, path: string[]) => Promise<Array<{ cid: CID, bytes: Uint8Array }> | undefined>
  /** Where a recording stands here (fetching, failed, ...), for the answer when it is not held. */
  recordingState: (root: CID) => string | undefined
  status: () => unknown
  /** Prometheus text for `/metrics`. */
  metrics: () => Promise<{ contentType: string, body: string }>
  /** The live relays this relay knows of: `/directory.json`. */
  directory: () => unknown
  /** STUN/TURN servers for viewers, with fresh TURN credentials: `/ice-servers.json`. */
  iceServers: () => IceServersJson
  health: () => Health
}

export interface RouteContext {
  source: GatewaySource
  http: HttpResponder
  log: Logger
  /** `/ipfs/` requests answered from a held block (hits) and for a block not held here (misses). */
  counts: { hits: number, misses: number }
  /** Counts the request's client as a viewer (it fetched a playlist or segment). */
  sawViewer: (req: IncomingMessage) => void
  /** Counts a viewer of `room`: by the token of a `window.json` request or, for other HLS players, by address. */
  sawRoomViewer: (req: IncomingMessage, room: string, via: { token: string | null } | 'playlist') => void
}
