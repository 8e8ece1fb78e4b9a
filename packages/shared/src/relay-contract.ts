/**
 * The relay's HTTP contract, written once: a builder for every route players, the site, the peer
 * swarm and devnet call, and the JSON documents those routes answer with. A relay is untrusted, so
 * each document has a parser that checks it with valibot and keeps what is well-formed: a field of the
 * wrong type reads as empty (0, none, null) rather than failing the whole document.
 *
 * @example
 * ```ts
 * const status = parseRelayStatus(await (await fetch(relayUrl(base, relayRoutes.status()))).json())
 * const window = relayUrl(base, relayRoutes.window('janson'))
 * ```
 */
import { VIEWER_TOKEN_PARAM } from './viewer-token.ts'
import * as v from 'valibot'
import { assertRenditionName as rendition } from './names.ts'
import { assertRoomSlug as room } from './room.ts'
import type { SignedEnvelope } from './signed-envelope.ts'

/** `?from=<ms>&to=<ms>` of a recording playlist: the part of the recording to play. */
export interface TimeRange {
  /** ms since the Unix epoch. */
  from?: number
  to?: number
}

function rangeQuery (range: TimeRange | undefined): string {
  const query = new URLSearchParams()
  if (range?.from !== undefined) query.set('from', String(Math.floor(range.from)))
  if (range?.to !== undefined) query.set('to', String(Math.floor(range.to)))
  const text = query.toString()
  return text === '' ? '' : `?${text}`
}

/**
 * Paths of the relay's routes, each starting with `/`. Room and rendition names are checked (they
 * throw InvalidRoomError / InvalidRenditionError); CIDs are passed as given, the relay checks them.
 */
export const relayRoutes = {
  /** `200 ok` while a segment was stored lately, else 503 with the reason (supervisors). */
  healthz: (): string => '/healthz',
  /** RelayStatusJson. */
  status: (): string => '/status',
  /** Prometheus text. */
  metrics: (): string => '/metrics',
  /** DirectoryJson: the live relays, signed records. */
  directory: (): string => '/directory.json',
  /**
   * WindowJson: the signed announcements of a room's recent segments and parts; a player adds its
   * viewer token. With `wait`, the relay answers once `rendition` lists segment `msn` (or holds its
   * part `part`), as an LL-HLS blocking playlist reload does, or after a few part targets anyway.
   */
  window: (slug: string, viewer?: string, wait?: WindowWait): string => {
    const query = new URLSearchParams()
    if (viewer !== undefined) query.set(VIEWER_TOKEN_PARAM, viewer)
    if (wait !== undefined) {
      query.set(WINDOW_WAIT_PARAM, rendition(wait.rendition))
      query.set('_HLS_msn', String(Math.floor(wait.msn)))
      if (wait.part !== undefined) query.set('_HLS_part', String(Math.floor(wait.part)))
    }
    const text = query.toString()
    return `/rooms/${room(slug)}/window.json${text === '' ? '' : `?${text}`}`
  },
  /**
   * WindowHistoryJson: one rendition's signed announcements older than `before` (a seq), newest
   * `limit` of them (at most WINDOW_HISTORY_MAX_LIMIT), for a viewer who rewinds.
   */
  windowHistory: (slug: string, name: string, before: number, limit: number): string => `/rooms/${room(slug)}/window.json?rendition=${rendition(name)}&before=${Math.floor(before)}&limit=${Math.floor(limit)}`,
  /** The room's latest thumbnail (JPEG); `at` (ms) busts caches when a newer one is announced. */
  thumbnail: (slug: string, at?: number): string => `/rooms/${room(slug)}/thumbnail.jpg${at === undefined ? '' : `?at=${Math.floor(at)}`}`,
  /** IceServersJson: STUN/TURN servers for viewers, TURN with short-lived credentials. */
  iceServers: (): string => '/ice-servers.json',
  /** RecordingsJson: the room's recordings as signed announcements. */
  recordings: (slug: string): string => `/rooms/${room(slug)}/recordings.json`,
  /** The live HLS master playlist, for any HLS player. */
  masterPlaylist: (slug: string): string => `/hls/${room(slug)}/master.m3u8`,
  mediaPlaylist: (slug: string, name: string): string => `/hls/${room(slug)}/${rendition(name)}.m3u8`,
  /** A block over the trustless gateway (`?format=raw` or `Accept: application/vnd.ipld.raw`). */
  block: (cid: string): string => `/ipfs/${encodeURIComponent(cid)}`,
  /** A file inside a pinned recording's directory, e.g. `index.m3u8`. */
  recordingFile: (cid: string, path: string[]): string => `/ipfs/${encodeURIComponent(cid)}/${path.map(encodeURIComponent).join('/')}`,
  /** A pinned recording as VOD, optionally cut to a time range. */
  recordingMaster: (cid: string, range?: TimeRange): string => `/hls/recordings/${encodeURIComponent(cid)}/master.m3u8${rangeQuery(range)}`,
  recordingPlaylist: (cid: string, name: string, range?: TimeRange): string => `/hls/recordings/${encodeURIComponent(cid)}/${rendition(name)}.m3u8${rangeQuery(range)}`
} as const

/** A route on a relay: `relayUrl('http://127.0.0.1:8081/', '/status')` is `http://127.0.0.1:8081/status`. */
export function relayUrl (base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`
}

const MAX_ENTRIES = 64
const MAX_TEXT = 256

const count = v.fallback(v.pipe(v.number(), v.finite(), v.minValue(0)), 0)
const msOrNull = v.fallback(v.nullable(v.pipe(v.number(), v.finite(), v.minValue(0))), null)
const shortText = v.pipe(v.string(), v.maxLength(MAX_TEXT))

/** A list of short strings; anything else in it is dropped, and a non-list reads as empty. */
const textList = v.optional(v.pipe(
  v.unknown(),
  v.transform(value => Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string' && s.length <= MAX_TEXT).slice(0, MAX_ENTRIES) : [])
), () => [])

/** The first MAX_ENTRIES entries of an object checked with `entry`; malformed entries are dropped. */
function boundedRecord<T> (entry: v.GenericSchema<unknown, T>): v.GenericSchema<unknown, Record<string, T>> {
  return v.optional(v.pipe(v.unknown(), v.transform(value => {
    const out: Record<string, T> = {}
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return out
    for (const [key, item] of Object.entries(value).slice(0, MAX_ENTRIES)) {
      const result = v.safeParse(entry, item)
      if (result.success && key.length <= MAX_TEXT) out[key] = result.output
    }
    return out
  })), () => ({}))
}

const renditionStatusSchema = v.object({
  latestSeq: msOrNull,
  /** Entries in the playlist the relay serves. */
  listed: count,
  /** ms since the epoch when the newest segment was stored, or null. */
  storedAt: msOrNull,
  /** Segments held. */
  held: count,
  /** Announced segments not stored yet. */
  behind: count
})

const roomStatusSchema = v.object({
  keys: textList,
  thumbnail: v.fallback(v.nullable(v.object({ cid: shortText, at: v.pipe(v.number(), v.finite(), v.minValue(1)) })), null),
  renditions: boundedRecord(renditionStatusSchema),
  /** Viewer tokens seen lately: here, and the union over every relay of the room (each viewer once). */
  viewers: v.fallback(v.object({ local: count, network: count }), () => ({ local: 0, network: 0 }))
})

const relayStatusSchema = v.object({
  peerId: shortText,
  /** libp2p addresses with `/p2p/<peer id>`. */
  multiaddrs: textList,
  /** The relay's base HTTP URL. */
  http: v.fallback(shortText, ''),
  /** Every room the relay follows; one whose status is malformed reads as an empty room. */
  rooms: boundedRecord(v.fallback(roomStatusSchema, () => ({ keys: [], thumbnail: null, renditions: {}, viewers: { local: 0, network: 0 } }))),
  peers: count,
  bytesServed: count,
  requests: count,
  /** Distinct client addresses served in the last 30 s. */
  viewers: count,
  viewerSwarm: v.fallback(v.object({
    /** WebSocket multiaddrs with `/p2p/` that browser viewers dial. */
    multiaddrs: textList,
    /** Viewers listed per room. */
    viewers: boundedRecord(count),
    /** Per room, segment bytes viewers report from relays and from each other. */
    received: boundedRecord(v.object({ relays: count, peers: count }))
  }), { multiaddrs: [], viewers: {}, received: {} })
})

/** What `/status` promises (the relay sends more; only these fields are part of the contract). */
export type RelayStatusJson = v.InferOutput<typeof relayStatusSchema>
export type RelayRoomStatusJson = v.InferOutput<typeof roomStatusSchema>
export type RelayRenditionStatusJson = v.InferOutput<typeof renditionStatusSchema>

/** A relay's `/status`, checked; undefined when it is not one (no peer id). */
export function parseRelayStatus (value: unknown): RelayStatusJson | undefined {
  const result = v.safeParse(relayStatusSchema, value)
  return result.success ? result.output : undefined
}

/** The query parameter of `window.json` that names the rendition a waiting request waits on. */
export const WINDOW_WAIT_PARAM = 'wait'

/** What a `window.json` request waits for: `rendition` listing segment `msn`, or holding its part `part`. */
export interface WindowWait {
  rendition: string
  msn: number
  part?: number
}

/**
 * `/rooms/<room>/window.json`: per rendition, the signed envelopes of the recent segments, and (when
 * the origin cuts LL-HLS parts) of the parts the relay holds of the newest segments and of the one in
 * progress, oldest first.
 */
export interface WindowJson {
  room: string
  renditions: Record<string, Array<{ envelope: SignedEnvelope, storedAt: number | null }>>
  parts?: Record<string, Array<{ envelope: SignedEnvelope }>>
}

/** Most entries a page of window history holds, and how many a request without `limit` gets. */
export const WINDOW_HISTORY_MAX_LIMIT = 500
export const WINDOW_HISTORY_DEFAULT_LIMIT = 100

/**
 * `/rooms/<room>/window.json?rendition=&before=&limit=`: the same shape with that one rendition, oldest
 * first, and `more` when the relay holds older entries still (ask again with `before` the oldest seq).
 */
export interface WindowHistoryJson extends WindowJson {
  more: boolean
}

/** `/directory.json`: each live relay's record in its signed envelope (verify it; the record alone proves nothing). */
export interface DirectoryJson {
  relays: Array<{ envelope: SignedEnvelope }>
}

/** `/rooms/<room>/recordings.json`: the room's recording announcements, signed by the room key. */
export interface RecordingsJson {
  room: string
  recordings: Array<{ envelope: SignedEnvelope, archive: string, receivedAt: number }>
}

/**
 * The untrusted envelopes of a `/directory.json` or `/recordings.json` answer, at most `max`; each
 * must still be verified. Empty when the answer is not such a document.
 */
export function listedEnvelopes (value: unknown, list: 'relays' | 'recordings', max: number): unknown[] {
  if (typeof value !== 'object' || value === null) return []
  const entries = (value as Record<string, unknown>)[list]
  if (!Array.isArray(entries)) return []
  return entries.slice(0, max).flatMap(entry => typeof entry === 'object' && entry !== null && 'envelope' in entry ? [(entry as { envelope: unknown }).envelope] : [])
}
