/**
 * The relay's HTTP face: HLS playlists derived from the validated announcements, the signed window for
 * late joiners, and an IPFS trustless gateway (`/ipfs/<cid>`) limited to the blocks this relay holds for
 * its rooms — a cache, not an open proxy, so a request for any other CID is a 404 and never a fetch.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { RAW_CODEC, renderMasterPlaylist, renderMediaPlaylist, isRoomSlug, segmentExtension, tryParseCid } from '@hivecast/shared'
import { CAR_TYPE, carStream } from './car-export.ts'
import type { DagScope } from './car-export.ts'
import { ConnectionLimiter } from './connection-limiter.ts'
import { RENDITION_NAME, cutToRange, masterRenditions, parseTimeRange, rangeQuery, renderRecordingMaster } from './recording-playlist.ts'
import { RequestLimiter } from './request-limiter.ts'
import { THROTTLE_CHUNK_BYTES, UploadThrottle } from './upload-throttle.ts'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { MediaPlaylist, PlaylistEntry, SignedEnvelope } from '@hivecast/shared'
import type { CID } from 'multiformats/cid'
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
  /** Where a recording stands here (fetching, failed, ...), for the answer when it is not held. */
  recordingState: (root: CID) => string | undefined
  status: () => unknown
  /** Prometheus text for `/metrics`. */
  metrics: () => Promise<{ contentType: string, body: string }>
  /** The live relays this relay knows of: `/directory.json`. */
  directory: () => unknown
  health: () => Health
}

export interface WindowJson {
  room: string
  renditions: Record<string, Array<{ envelope: SignedEnvelope, storedAt: number | null }>>
}

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl'
const RAW_TYPE = 'application/vnd.ipld.raw'
const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'
const SEGMENT_TYPE = 'video/mp2t'
const FMP4_TYPE = 'video/mp4'
const IMMUTABLE = 'public, max-age=29030400, immutable'
/** One name inside a recording's directory: no dot-segments, no separators, no escapes left. */
const RECORDING_PATH_PART = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/
const MAX_RECORDING_DEPTH = 4
const MAX_URL = 2048
/** How long close() lets in-flight responses finish before cutting them. */
const CLOSE_GRACE_MS = 5_000

type Headers = Record<string, string | number>

/** `Range: bytes=a-b` (one range). undefined means serve the whole body: no header, or one to ignore. */
export function parseRange (header: string | undefined, size: number): { start: number, end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  // Several ranges or another unit: RFC 9110 lets a server answer with the whole representation.
  if (match === null || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') {
    const suffix = Number(match[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(match[1])
  if (match[2] !== '' && Number(match[2]) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end: match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1) }
}

/** The Content-Type of a file by its name (a playlist, an MPEG-TS or fMP4 segment); `fallback` otherwise. */
function fileType (name: string, fallback: string): string {
  if (name.endsWith('.m3u8')) return PLAYLIST_TYPE
  if (name.endsWith('.ts')) return SEGMENT_TYPE
  if (name.endsWith('.m4s') || name.endsWith('.mp4')) return FMP4_TYPE
  return fallback
}

/**
 * A media playlist as relays serve it: each URI is `/ipfs/<cid>` for players to pull the CID out of,
 * with a `filename` (a trustless-gateway parameter) whose extension ffmpeg's HLS demuxer insists on.
 */
function gatewayMediaPlaylist (playlist: MediaPlaylist, options: { vod?: boolean } = {}): string {
  return renderMediaPlaylist(playlist, e => `/ipfs/${e.cid}?filename=${e.seq}.${segmentExtension(e)}`, { ...options, mapUri: cid => `/ipfs/${cid}?filename=init.mp4` })
}

function etagMatches (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some(tag => {
    const t = tag.trim()
    return t === '*' || t === etag || t === `W/${etag}`
  })
}

export interface GatewayLimits {
  /** Requests per second per client IP before 429; 0 for no limit. */
  requestsPerSecondPerIp: number
  /** Open HTTP connections at most; further ones are refused. 0 for no limit. */
  maxConnections: number
  /** Open HTTP connections per client IP; further ones get 503 + Retry-After. 0 for no limit. */
  maxConnectionsPerIp?: number
  /** Response body bytes per second, all clients together. 0 for no limit. */
  maxUploadBytesPerSecond?: number
  /** Certificate chain and key (PEM): serve HTTPS. */
  tls?: { cert: Buffer, key: Buffer }
}

/** Retry-After for a connection over its address's limit: long enough for one of its others to finish. */
const CONNECTION_RETRY_S = 5

/** A client that made a request within this window counts as a viewer. */
const VIEWER_WINDOW_MS = 30_000

export class Gateway {
  requests = 0
  bytesServed = 0
  /** `/ipfs/` requests answered from a held block. */
  hits = 0
  /** `/ipfs/` requests for a block not held here. */
  misses = 0
  /** Requests refused with 429 by the per-IP limit. */
  rateLimited = 0
  /** Responses by status code. */
  readonly responses = new Map<number, number>()
  readonly #source: GatewaySource
  readonly #log: (line: string) => void
  readonly #server: Server | HttpsServer
  readonly #limiter: RequestLimiter
  readonly #connections: ConnectionLimiter
  readonly #throttle: UploadThrottle | undefined
  readonly #scheme: 'http' | 'https'
  /** Client IP -> when it last asked for a playlist or segment. */
  readonly #viewers = new Map<string, number>()
  #url = ''

  constructor (source: GatewaySource, log: (line: string) => void, limits: GatewayLimits = { requestsPerSecondPerIp: 0, maxConnections: 0 }) {
    this.#source = source
    this.#log = log
    this.#limiter = new RequestLimiter(limits.requestsPerSecondPerIp)
    this.#connections = new ConnectionLimiter(limits.maxConnectionsPerIp ?? 0)
    this.#throttle = (limits.maxUploadBytesPerSecond ?? 0) > 0 ? new UploadThrottle(limits.maxUploadBytesPerSecond!) : undefined
    this.#scheme = limits.tls === undefined ? 'http' : 'https'
    this.#server = limits.tls === undefined ? createServer(this.#handle) : createHttpsServer({ cert: limits.tls.cert, key: limits.tls.key }, this.#handle)
    // Over TLS the request's socket is the TLS socket, so count that one.
    this.#server.on(limits.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => { this.#connections.admit(socket) })
    if (limits.maxConnections > 0) this.#server.maxConnections = limits.maxConnections
  }

  /** New TLS connections use this certificate chain and key (a renewal); open ones keep theirs. */
  setTls (tls: { cert: Buffer, key: Buffer }): void {
    if (!('setSecureContext' in this.#server)) throw new Error('this relay serves plain HTTP: start it with a certificate to serve HTTPS')
    this.#server.setSecureContext({ cert: tls.cert, key: tls.key })
  }

  /** Connections refused by the per-IP connection limit. */
  get connectionsRefused (): number {
    return this.#connections.refused
  }

  /** Distinct client addresses that fetched a playlist or segment in the last 30 s. */
  viewers (now = Date.now()): number {
    let count = 0
    for (const [address, at] of this.#viewers) {
      if (now - at < VIEWER_WINDOW_MS) count++
      else this.#viewers.delete(address)
    }
    return count
  }

  /** Base URL once listening, e.g. `http://127.0.0.1:8081/`. */
  get url (): string {
    return this.#url
  }

  async listen (host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new Error(`cannot listen for HTTP on ${host}:${port}: ${err.code ?? err.message}. Pick another --http address or stop what is using it.`))
      }
      this.#server.once('error', onError)
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError)
        resolve()
      })
    })
    const address = this.#server.address() as AddressInfo
    // An unspecified bind address is reachable on loopback; print that rather than 0.0.0.0.
    const shown = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]' : address.family === 'IPv6' ? `[${address.address}]` : address.address
    this.#url = `${this.#scheme}://${shown}:${address.port}/`
    return this.#url
  }

  /** Stops accepting, lets in-flight responses finish (up to a grace period), then closes. */
  async close (): Promise<void> {
    if (!this.#server.listening) return
    const closed = new Promise<void>(resolve => this.#server.close(() => { resolve() }))
    this.#server.closeIdleConnections()
    const grace = setTimeout(() => { this.#server.closeAllConnections() }, CLOSE_GRACE_MS)
    await closed
    clearTimeout(grace)
  }

  readonly #handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.requests++
    res.setHeader('Access-Control-Allow-Origin', '*')
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, ETag')
    res.on('finish', () => { this.responses.set(res.statusCode, (this.responses.get(res.statusCode) ?? 0) + 1) })
    const address = req.socket.remoteAddress ?? 'unknown'
    if (this.#connections.isRefused(req.socket)) {
      this.#text(req, res, 503, `too many open connections from ${address}: this relay allows a few per address; retry in ${CONNECTION_RETRY_S} s\n`, { 'Retry-After': CONNECTION_RETRY_S, Connection: 'close' })
      return
    }
    const wait = this.#limiter.take(address)
    if (wait > 0) {
      this.rateLimited++
      this.#text(req, res, 429, `too many requests from ${address}: this relay allows a few per second per address; retry in ${wait} s\n`, { 'Retry-After': wait })
      return
    }
    this.#route(req, res).catch((err: Error) => {
      this.#log(`HTTP 500 for ${req.method ?? '?'} ${(req.url ?? '').slice(0, 200)}: ${err.stack ?? err.message}`)
      if (!res.headersSent) this.#text(req, res, 500, 'internal error in the relay; its log has the details\n')
      else res.destroy()
    })
  }

  #send (req: IncomingMessage, res: ServerResponse, status: number, headers: Headers, body: string | Uint8Array): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    res.writeHead(status, { ...headers, 'Content-Length': bytes.length })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    if (this.#throttle === undefined) {
      this.bytesServed += bytes.length
      res.end(bytes)
      return
    }
    this.#writeBody(res, [bytes]).catch(() => { res.destroy() })
  }

  /**
   * Writes a body piece by piece as the upload limit allows, waiting for the client to take each one;
   * stops when the client goes away. A failing source throws (the caller cuts the response).
   */
  async #writeBody (res: ServerResponse, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    for await (const chunk of chunks) {
      for (let offset = 0; offset < chunk.length; offset += THROTTLE_CHUNK_BYTES) {
        const piece = chunk.subarray(offset, offset + THROTTLE_CHUNK_BYTES)
        await this.#throttle?.take(piece.length)
        if (res.destroyed) return
        this.bytesServed += piece.length
        if (!res.write(piece)) {
          // Wait for the client to take it (or leave); the losing listener is removed, not left behind.
          const settled = new AbortController()
          await Promise.race([once(res, 'drain', { signal: settled.signal }), once(res, 'close', { signal: settled.signal })]).finally(() => { settled.abort() })
        }
      }
    }
    res.end()
  }

  #text (req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Headers = {}): void {
    this.#send(req, res, status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...headers }, message)
  }

  #json (req: IncomingMessage, res: ServerResponse, value: unknown): void {
    this.#send(req, res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' }, JSON.stringify(value, null, 2) + '\n')
  }

  async #route (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/'
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': 'Range, If-None-Match, Accept',
        'Access-Control-Max-Age': 86400
      })
      res.end()
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.#text(req, res, 405, `method ${req.method ?? ''} not allowed: this relay only answers GET and HEAD\n`, { Allow: 'GET, HEAD, OPTIONS' })
      return
    }
    if (url.length > MAX_URL) {
      this.#text(req, res, 400, 'URL too long\n')
      return
    }
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1))
    const parts = path.split('/').slice(1)
    const [top, a, b, ...rest] = parts

    if (top === 'healthz' && parts.length === 1) {
      const health = this.#source.health()
      this.#text(req, res, health.ok ? 200 : 503, health.ok ? 'ok\n' : `${health.reason}\n`)
    } else if (top === 'status' && parts.length === 1) {
      this.#json(req, res, this.#source.status())
    } else if (top === 'directory.json' && parts.length === 1) {
      this.#json(req, res, this.#source.directory())
    } else if (top === 'metrics' && parts.length === 1) {
      const { contentType, body } = await this.#source.metrics()
      this.#send(req, res, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache' }, body)
    } else if (top === 'hls' && a === 'recordings' && b !== undefined && rest.length === 1) {
      await this.#recordingPlaylist(req, res, b, rest[0]!, query)
    } else if (top === 'hls' && a !== undefined && b !== undefined && rest.length === 0) {
      this.#viewers.set(req.socket.remoteAddress ?? 'unknown', Date.now())
      this.#playlist(req, res, a, b)
    } else if (top === 'rooms' && a !== undefined && b === 'window.json' && rest.length === 0) {
      this.#window(req, res, a)
    } else if (top === 'rooms' && a !== undefined && b === 'thumbnail.jpg' && rest.length === 0) {
      const thumbnail = this.#room(req, res, a)?.thumbnail()
      if (thumbnail !== undefined) this.#send(req, res, 200, { 'Content-Type': 'image/jpeg', 'Cache-Control': 'no-cache', ETag: `"${thumbnail.cid}"` }, thumbnail.bytes)
      else if (!res.headersSent) this.#text(req, res, 404, `room "${a}" has no thumbnail yet: the origin sends one every 10 s or so; retry shortly\n`)
    } else if (top === 'rooms' && a !== undefined && b === 'recordings.json' && rest.length === 0) {
      const follower = this.#room(req, res, a)
      if (follower !== undefined) this.#json(req, res, { room: a, recordings: this.#source.recordings(a) })
    } else if (top === 'ipfs' && a !== undefined && b === undefined) {
      await this.#block(req, res, a, query)
    } else if (top === 'ipfs' && a !== undefined && b !== undefined) {
      const format = query.get('format')
      if (format === 'car' || (format === null && (req.headers.accept ?? '').includes(CAR_MEDIA_TYPE))) {
        this.#text(req, res, 406, 'a CAR is offered for a whole CID, not a path inside one: ask for /ipfs/<recording cid>?format=car, or for the file by path without format\n')
      } else {
        await this.#recordingFile(req, res, a, [b, ...rest])
      }
    } else {
      this.#text(req, res, 404, 'not found; this relay serves /hls/<room>/master.m3u8, /rooms/<room>/window.json, /rooms/<room>/thumbnail.jpg, /rooms/<room>/recordings.json, /ipfs/<cid>, /ipfs/<recording cid>/<path>, /hls/recordings/<recording cid>/master.m3u8, /directory.json, /metrics, /status and /healthz\n')
    }
  }

  #room (req: IncomingMessage, res: ServerResponse, slug: string): RoomFollower | undefined {
    if (!isRoomSlug(slug)) {
      this.#text(req, res, 400, 'invalid room name: use 1-63 lowercase letters, digits and dashes\n')
      return undefined
    }
    const follower = this.#source.follower(slug)
    if (follower === undefined) this.#text(req, res, 404, `this relay does not follow room "${slug}"; see /status for the rooms it does\n`)
    return follower
  }

  #playlist (req: IncomingMessage, res: ServerResponse, slug: string, file: string): void {
    const follower = this.#room(req, res, slug)
    if (follower === undefined) return
    const headers = { 'Content-Type': PLAYLIST_TYPE, 'Cache-Control': 'no-cache' }
    const notYet = (what: string): void => {
      this.#text(req, res, 503, `${what} has no segment yet; the relay lists segments once it has fetched them. Retry in a few seconds.\n`, { 'Retry-After': 2 })
    }
    if (file === 'master.m3u8') {
      // Only renditions that can be played now, so a player never picks a variant that answers 503.
      const playable = follower.renditionNames().filter(name => (follower.window(name)?.playlist().entries.length ?? 0) > 0)
      if (playable.length === 0) {
        notYet(`room "${slug}"`)
        return
      }
      const variants = playable.map(name => ({ info: follower.renditionInfo(name)!, uri: `${name}.m3u8` }))
      this.#send(req, res, 200, headers, renderMasterPlaylist(variants))
      return
    }
    const name = file.endsWith('.m3u8') ? file.slice(0, -'.m3u8'.length) : undefined
    if (name === undefined || !RENDITION_NAME.test(name)) {
      this.#text(req, res, 404, 'not a playlist: ask for master.m3u8 or <rendition>.m3u8\n')
      return
    }
    const window = follower.window(name)
    if (window === undefined) {
      this.#text(req, res, 404, `room "${slug}" has no rendition "${name}"; see master.m3u8\n`)
      return
    }
    const playlist = window.playlist()
    if (playlist.entries.length === 0) {
      notYet(`rendition "${name}" of room "${slug}"`)
      return
    }
    this.#send(req, res, 200, headers, gatewayMediaPlaylist(playlist))
  }

  #window (req: IncomingMessage, res: ServerResponse, slug: string): void {
    const follower = this.#room(req, res, slug)
    if (follower === undefined) return
    const body: WindowJson = { room: slug, renditions: {} }
    for (const name of follower.renditionNames()) {
      const entries = follower.window(name)?.playlist().entries ?? []
      body.renditions[name] = entries.flatMap(entry => {
        const record = follower.record(name, entry.seq)
        return record === undefined ? [] : [{ envelope: record.envelope, storedAt: record.storedAt ?? null }]
      })
    }
    this.#json(req, res, body)
  }

  /**
   * `/hls/recordings/<dirCid>/master.m3u8` and `/<rendition>.m3u8`: a pinned recording as VOD playlists
   * whose segment URIs are `/ipfs/<cid>?filename=<seq>.ts` (or `.m4s`), optionally cut to `?from=<ms>&to=<ms>`.
   */
  async #recordingPlaylist (req: IncomingMessage, res: ServerResponse, cidText: string, file: string, query: URLSearchParams): Promise<void> {
    const root = tryParseCid(cidText)
    if (root === undefined || root.code === RAW_CODEC) {
      this.#text(req, res, 400, `"${cidText.slice(0, 100)}" is not a recording's directory CID; take one from /rooms/<room>/recordings.json\n`)
      return
    }
    const range = parseTimeRange(query)
    if (typeof range === 'string') {
      this.#text(req, res, 400, `${range}\n`)
      return
    }
    const name = file === 'master.m3u8' ? undefined : file.endsWith('.m3u8') ? file.slice(0, -'.m3u8'.length) : ''
    if (name !== undefined && !RENDITION_NAME.test(name)) {
      this.#text(req, res, 404, 'not a playlist: ask for master.m3u8 or <rendition>.m3u8\n')
      return
    }
    const notHeld = (): void => {
      const state = this.#source.recordingState(root)
      const why = state === 'fetching'
        ? 'it is being fetched; retry in a few seconds'
        : state === 'failed'
          ? 'fetching it failed; the relay tries again'
          : state === 'not-archived'
            ? 'this relay does not pin recordings (it runs without --archive); ask a relay that does'
            : 'no room this relay follows announced it; see /rooms/<room>/recordings.json'
      this.#text(req, res, 404, `recording ${root.toString()} is not held here: ${why}\n`)
    }
    const headers = { 'Content-Type': PLAYLIST_TYPE, 'Cache-Control': IMMUTABLE, 'X-Ipfs-Path': `/ipfs/${root.toString()}` }
    let body: string
    try {
      if (name === undefined) {
        const master = await this.#source.readRecordingFile(root, ['index.m3u8'])
        if (master === undefined) {
          notHeld()
          return
        }
        const text = new TextDecoder().decode(master)
        masterRenditions(text)
        body = renderRecordingMaster(text, range)
      } else {
        const all = await this.#source.recordingEntries(root, name)
        if (all === undefined) {
          if (this.#source.recordingState(root) === 'pinned') this.#text(req, res, 404, `recording ${root.toString()} has no rendition "${name}"; see master.m3u8\n`)
          else notHeld()
          return
        }
        const entries = cutToRange(all, range)
        if (entries.length === 0) {
          const span = all.length === 0 ? 'no segments' : `segments from ${all[0]!.pdt} to ${all.at(-1)!.pdt + Math.round(all.at(-1)!.duration * 1000)}`
          this.#text(req, res, 404, `no segment of recording ${root.toString()} plays between from and to${rangeQuery(range)}; it has ${span} (ms since the epoch)\n`)
          return
        }
        body = gatewayMediaPlaylist({ entries, discontinuitySequence: 0, ended: true }, { vod: true })
      }
    } catch (err) {
      this.#log(`recording ${root.toString()}: cannot serve ${file}: ${(err as Error).message}`)
      this.#text(req, res, 502, `recording ${root.toString()} cannot be played from here: ${(err as Error).message}\n`)
      return
    }
    this.#viewers.set(req.socket.remoteAddress ?? 'unknown', Date.now())
    this.#send(req, res, 200, headers, body)
  }

  /** `/ipfs/<dirCid>/<path>`: a file of a recording this relay pinned (--archive), resolved through UnixFS. */
  async #recordingFile (req: IncomingMessage, res: ServerResponse, cidText: string, rawPath: string[]): Promise<void> {
    const cid = tryParseCid(cidText)
    if (cid === undefined) {
      this.#text(req, res, 400, `"${cidText.slice(0, 100)}" is not a CID\n`)
      return
    }
    // A trailing slash names the directory itself, which is not served; only files are.
    const path: string[] = []
    for (const part of rawPath) {
      let name: string
      try {
        name = decodeURIComponent(part)
      } catch {
        name = ''
      }
      if (!RECORDING_PATH_PART.test(name) || name.includes('..') || path.length >= MAX_RECORDING_DEPTH) {
        this.#text(req, res, 400, 'invalid path inside a CID: use names of letters, digits, dot, dash and underscore, e.g. /ipfs/<cid>/index.m3u8\n')
        return
      }
      path.push(name)
    }
    const bytes = await this.#source.readRecordingFile(cid, path)
    if (bytes === undefined) {
      this.misses++
      this.#text(req, res, 404, 'not held here: this relay serves files only of the recordings it pins (relays started with --archive); see /rooms/<room>/recordings.json\n')
      return
    }
    this.hits++
    this.#viewers.set(req.socket.remoteAddress ?? 'unknown', Date.now())
    const name = path.at(-1)!
    const type = fileType(name, 'application/octet-stream')
    const etag = `"${cid.toString()}/${path.join('/')}"`
    this.#sendImmutable(req, res, bytes, etag, { 'Content-Type': type, 'X-Ipfs-Path': `/ipfs/${cid.toString()}/${path.join('/')}` })
  }

  /** An immutable body with ETag, conditional GET and one-range support. */
  #sendImmutable (req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, etag: string, extra: Headers): void {
    const headers: Headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': IMMUTABLE, ETag: etag, 'Accept-Ranges': 'bytes', ...extra }
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    const ifRange = req.headers['if-range']
    const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, bytes.length) : undefined
    if (range === 'unsatisfiable') {
      this.#text(req, res, 416, `range not satisfiable: it is ${bytes.length} bytes\n`, { 'Content-Range': `bytes */${bytes.length}` })
      return
    }
    if (range !== undefined) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${bytes.length}`
      this.#send(req, res, 206, headers, bytes.subarray(range.start, range.end + 1))
      return
    }
    this.#send(req, res, 200, headers, bytes)
  }

  /** A CAR of the DAG under a held CID: a pinned recording whole, or a segment as one block. */
  #car (req: IncomingMessage, res: ServerResponse, root: CID, query: URLSearchParams): void {
    const scope = query.get('dag-scope') ?? 'all'
    if (scope !== 'all' && scope !== 'block') {
      this.#text(req, res, 400, `dag-scope=${scope.slice(0, 20)} is not offered: use all (the default) or block\n`)
      return
    }
    if (query.has('entity-bytes')) {
      this.#text(req, res, 400, 'entity-bytes is not offered: ask for the whole CAR, or for a file by path with a Range header\n')
      return
    }
    res.writeHead(200, {
      'Content-Type': CAR_TYPE,
      'Cache-Control': IMMUTABLE,
      ETag: `"${root.toString()}.car.${scope}"`,
      Vary: 'Accept',
      'X-Content-Type-Options': 'nosniff',
      'X-Ipfs-Path': `/ipfs/${root.toString()}`,
      'Content-Disposition': `attachment; filename="${root.toString()}.car"`
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    this.#writeBody(res, carStream(root, this.#source.dagBlocks(root, scope))).catch((err: Error) => {
      this.#log(`CAR of ${root.toString()} cut short: ${err.message}`)
      res.destroy()
    })
  }

  async #block (req: IncomingMessage, res: ServerResponse, cidText: string, query: URLSearchParams): Promise<void> {
    const cid = tryParseCid(cidText)
    if (cid === undefined) {
      this.#text(req, res, 400, `"${cidText.slice(0, 100)}" is not a CID\n`)
      return
    }
    const bytes = await this.#source.readHeldBlock(cid)
    if (bytes === undefined) this.misses++
    else {
      this.hits++
      this.#viewers.set(req.socket.remoteAddress ?? 'unknown', Date.now())
    }
    if (bytes === undefined) {
      this.#text(req, res, 404, 'block not held here: this relay serves only the segments announced in the rooms it follows\n')
      return
    }
    const format = query.get('format')
    const accept = req.headers.accept ?? ''
    const wantsRaw = format === 'raw' || (format === null && accept.includes(RAW_TYPE))
    if (format === 'car' || (format === null && !wantsRaw && accept.includes(CAR_MEDIA_TYPE))) {
      this.#car(req, res, cid, query)
      return
    }
    if (format !== null && format !== 'raw') {
      this.#text(req, res, 406, `format "${format.slice(0, 20)}" is not offered: ask for ?format=raw (one block), ?format=car (the block and everything under it) or the plain bytes\n`)
      return
    }
    if (!wantsRaw && cid.code !== RAW_CODEC) {
      this.#text(req, res, 406, 'a recording\'s directory block is served raw (?format=raw) or as a CAR of the whole recording (?format=car); its files are at /ipfs/<cid>/<path>, e.g. /ipfs/<cid>/index.m3u8\n')
      return
    }
    const headers: Headers = {
      'Content-Type': wantsRaw ? RAW_TYPE : fileType(query.get('filename') ?? '', SEGMENT_TYPE),
      Vary: 'Accept',
      'X-Ipfs-Path': `/ipfs/${cid.toString()}`
    }
    if (wantsRaw) headers['Content-Disposition'] = `attachment; filename="${cid.toString()}.bin"`
    this.#sendImmutable(req, res, bytes, `"${cid.toString()}"`, headers)
  }
}
