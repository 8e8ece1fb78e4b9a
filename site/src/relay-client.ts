/**
 * What the site reads live from relays and origins over HTTP JSON: `/status` (relays and origins) and
 * `/directory.json` (relays). Every response is untrusted: fields are picked with type checks and
 * anything else is ignored. Only endpoints that answer 200 while the service is up are polled, so a
 * healthy network leaves the browser console clean (a 503 from `/healthz` would be logged as an error).
 */
import { listedEnvelopes, parseRelayStatus, relayRoutes, relayUrl, verifyDirectoryEnvelope } from '@hivecast/shared'
import type { DirectoryRecord } from '@hivecast/shared'

/** A relay's newest segment older than this means its rooms are not live (as the relay's /healthz). */
export const LIVE_WITHIN_MS = 10_000
const TIMEOUT_MS = 2_500

/**
 * GET a JSON document; undefined when the service is unreachable, slower than `timeoutMs`, not 200 or
 * not JSON. The status page keeps the short default (a slow relay shows as down); pages that only list
 * things wait longer, so a busy relay still fills them.
 */
export async function fetchJson (url: string, timeoutMs = TIMEOUT_MS): Promise<unknown> {
  try {
    const response = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) })
    if (!response.ok) return undefined
    return await response.json() as unknown
  } catch {
    return undefined
  }
}

export interface RelayRoomState {
  /** ms since the epoch of the newest stored segment of any rendition, if any. */
  storedAt: number | undefined
  held: number
  /** The room's latest thumbnail this relay holds (served at `relayRoutes.thumbnail`), if any. */
  thumbnail: { cid: string, at: number } | undefined
  /** Viewer tokens this relay saw (`local`) and the room's viewers over all its relays (`network`). */
  viewers: { local: number, network: number }
}

export interface RelayStatusView {
  peerId: string
  bytesServed: number
  requests: number
  viewers: number
  peers: number
  rooms: Record<string, RelayRoomState>
  /** Per room, the browser viewers in the relay's peer-to-peer swarm (`viewerSwarm.viewers`), when the relay runs one. */
  swarmViewers: Record<string, number>
  /** Per room, the segment bytes the swarm's viewers report having received from relays and from each other. */
  swarmReceived: Record<string, { relays: number, peers: number }>
}

/** A relay's `/status` as the pages show it, checked by the shared contract; undefined when it is not one. */
export function relayStatusView (value: unknown): RelayStatusView | undefined {
  const status = parseRelayStatus(value)
  if (status === undefined) return undefined
  const rooms: Record<string, RelayRoomState> = {}
  for (const [slug, room] of Object.entries(status.rooms)) {
    const renditions = Object.values(room.renditions)
    const stored = renditions.flatMap(r => r.storedAt === null || r.storedAt <= 0 ? [] : [r.storedAt])
    rooms[slug] = {
      storedAt: stored.length === 0 ? undefined : Math.max(...stored),
      held: renditions.reduce((n, r) => n + r.held, 0),
      thumbnail: room.thumbnail ?? undefined,
      viewers: room.viewers
    }
  }
  const { peerId, bytesServed, requests, viewers, peers, viewerSwarm } = status
  return { peerId, bytesServed, requests, viewers, peers, rooms, swarmViewers: viewerSwarm.viewers, swarmReceived: viewerSwarm.received }
}

export interface OriginStatusView {
  room: string
  /** "receiving" or "waiting for signal". */
  input: string
  ffmpegRunning: boolean
  segmentsPublished: number
  peers: number
}

export function parseOriginStatus (value: unknown): OriginStatusView | undefined {
  if (!isObject(value) || typeof value.room !== 'string') return undefined
  const input = isObject(value.input) && typeof value.input.state === 'string' ? value.input.state : 'unknown'
  const ffmpegRunning = isObject(value.ffmpeg) && value.ffmpeg.running === true
  return { room: value.room, input, ffmpegRunning, segmentsPublished: count(value.segmentsPublished), peers: count(value.peers) }
}

/** The relays a relay's `/directory.json` lists whose record is signed by the relay it describes. */
export async function parseDirectory (value: unknown): Promise<DirectoryRecord[]> {
  const records: DirectoryRecord[] = []
  for (const envelope of listedEnvelopes(value, 'relays', 200)) {
    const verified = await verifyDirectoryEnvelope(envelope)
    if (verified.ok && !verified.value.record.leaving) records.push(verified.value.record)
  }
  return records
}

/** A relay's `/status`, or undefined when it does not answer with one. */
export async function fetchRelayStatus (relay: string, timeoutMs = TIMEOUT_MS): Promise<RelayStatusView | undefined> {
  return relayStatusView(await fetchJson(relayUrl(relay, relayRoutes.status()), timeoutMs))
}

/** An origin's `/status` (the origin's own small HTTP face, not the relay contract). */
export async function fetchOriginStatus (origin: string, timeoutMs = TIMEOUT_MS): Promise<OriginStatusView | undefined> {
  return parseOriginStatus(await fetchJson(`${origin.replace(/\/+$/, '')}/status`, timeoutMs))
}

export type LiveState = 'live' | 'waiting' | 'offline'

/** A room is live when a relay stored one of its segments recently; waiting when a relay or its origin answers but nothing new arrives. */
export function roomLiveState (slug: string, relays: Array<RelayStatusView | undefined>, origin: OriginStatusView | undefined, now: number): LiveState {
  const reachable = relays.filter((r): r is RelayStatusView => r !== undefined)
  if (reachable.some(r => now - (r.rooms[slug]?.storedAt ?? 0) < LIVE_WITHIN_MS)) return 'live'
  return reachable.length > 0 || origin !== undefined ? 'waiting' : 'offline'
}

export const LIVE_LABEL: Record<LiveState, string> = { live: 'Live', waiting: 'Waiting for signal', offline: 'Offline' }

export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

function count (value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
