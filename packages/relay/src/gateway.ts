/**
 * The relay's HTTP server: connection and request limits, timeouts, and the dispatch of each request
 * to its route — HLS (hls-routes.ts), the trustless gateway (trustless-gateway.ts) and the relay's own
 * documents (`/status`, `/metrics`, `/directory.json`, `/healthz`).
 */
import { createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { acceptedFormat } from './accept-format.ts'
import { TrustedProxies } from './client-address.ts'
import { ConnectionLimiter } from './connection-limiter.ts'
import { roomOf, serveRecordingPlaylist, servePlaylist, serveWindow } from './hls-routes.ts'
import { servePart } from './low-latency-routes.ts'
import { HttpResponder } from './http-response.ts'
import { RequestLimiter } from './request-limiter.ts'
import { serveBlock, servePathCar, serveRecordingFile } from './trustless-gateway.ts'
import type { UploadThrottle } from './upload-throttle.ts'
import type { ViewerTokens } from './viewer-tokens.ts'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { Logger } from '@hivecast/shared'
import type { GatewaySource, RouteContext } from './gateway-source.ts'
import { InvalidOptionError, ListenError } from '@hivecast/shared'

export type { GatewaySource, Health } from './gateway-source.ts'
export { parseRange } from './http-response.ts'

const MAX_URL = 2048
/** How long close() lets in-flight responses finish before cutting them. */
const CLOSE_GRACE_MS = 5_000

export interface GatewayLimits {
  /** Requests per second per client IP before 429; 0 for no limit. */
  requestsPerSecondPerIp: number
  /** Open HTTP connections at most; further ones are refused. 0 for no limit. */
  maxConnections: number
  /** Open HTTP connections per client IP; further ones get 503 + Retry-After. 0 for no limit. */
  maxConnectionsPerIp?: number
  /** The upload budget response bodies take their turn in (shared with segment pushes); none: no limit. */
  uploadThrottle?: UploadThrottle
  /** Reverse proxies (IPs, CIDR ranges) whose `X-Forwarded-For` names the client to limit by. */
  trustedProxies?: string[]
  /** Certificate chain and key (PEM): serve HTTPS. */
  tls?: { cert: Buffer, key: Buffer }
  /** Where the rooms' viewers are counted (by token, per client address at most a few). */
  viewerTokens?: ViewerTokens
}

/** Retry-After for a connection over its address's limit: long enough for one of its others to finish. */
const CONNECTION_RETRY_S = 5

/** A client that made a request within this window counts as a viewer. */
const VIEWER_WINDOW_MS = 30_000

/**
 * Socket timeouts. Node's defaults (60 s for headers, checked every 30 s) let a crowd of silent
 * connections hold sockets for a minute and a half; players send a request's headers at once.
 * Headers: 10 s covers a slow mobile link's first packet. Request: 15 s (only GET/HEAD, no bodies).
 * Keep-alive: 5 s, enough for a player's next playlist or segment request, then the socket goes.
 * A connection that sends nothing (or, over TLS, does not finish its handshake) is closed after the header timeout too. During a request, a socket
 * neither side wrote to for 30 s (a client that stopped reading) is closed.
 */
export const HEADERS_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 15_000
const KEEP_ALIVE_TIMEOUT_MS = 5_000
const SOCKET_IDLE_MS = 30_000
/** How often Node checks the header and request timeouts; its 30 s default would let them overrun. */
const TIMEOUT_CHECK_MS = 1_000

export class Gateway {
  requests = 0
  /** Requests refused with 429 by the per-IP limit. */
  rateLimited = 0
  /** Responses by status code. */
  readonly responses = new Map<number, number>()
  readonly #source: GatewaySource
  readonly #http: HttpResponder
  readonly #routes: RouteContext
  readonly #server: Server | HttpsServer
  readonly #limiter: RequestLimiter
  readonly #connections: ConnectionLimiter
  readonly #scheme: 'http' | 'https'
  readonly #proxies: TrustedProxies
  /** Client IP -> when it last asked for a playlist or segment. */
  readonly #viewers = new Map<string, number>()
  #url = ''

  constructor (source: GatewaySource, log: Logger, limits: GatewayLimits = { requestsPerSecondPerIp: 0, maxConnections: 0 }) {
    this.#source = source
    this.#limiter = new RequestLimiter(limits.requestsPerSecondPerIp)
    this.#proxies = new TrustedProxies(limits.trustedProxies)
    this.#connections = new ConnectionLimiter({ maxPerIp: limits.maxConnectionsPerIp ?? 0, max: limits.maxConnections, exempt: address => this.#proxies.trusts(address) })
    this.#http = new HttpResponder(limits.uploadThrottle)
    const sawRoomViewer: RouteContext['sawRoomViewer'] = (req, room, via) => {
      const tokens = limits.viewerTokens
      if (tokens === undefined) return
      if (via === 'playlist') tokens.seeAddress(room, this.#clientAddress(req))
      else tokens.seeToken(room, via.token, this.#clientAddress(req))
    }
    this.#routes = { source, http: this.#http, log, counts: { hits: 0, misses: 0 }, sawViewer: req => { this.#viewers.set(this.#clientAddress(req), Date.now()) }, sawRoomViewer }
    this.#scheme = limits.tls === undefined ? 'http' : 'https'
    const timeouts = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS }
    this.#server = limits.tls === undefined ? createServer(timeouts, this.#handle) : createHttpsServer({ ...timeouts, handshakeTimeout: HEADERS_TIMEOUT_MS, cert: limits.tls.cert, key: limits.tls.key }, this.#handle)
    // Over TLS the request's socket is the TLS socket, so count that one.
    this.#server.on(limits.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
      // Node's header timeout starts with the first byte: a connection that sends nothing gets this one.
      socket.setTimeout(HEADERS_TIMEOUT_MS)
      this.#connections.admit(socket)
    })
  }

  /** New TLS connections use this certificate chain and key (a renewal); open ones keep theirs. */
  setTls (tls: { cert: Buffer, key: Buffer }): void {
    if (!('setSecureContext' in this.#server)) throw new InvalidOptionError('this relay serves plain HTTP: start it with a certificate to serve HTTPS')
    this.#server.setSecureContext({ cert: tls.cert, key: tls.key })
  }

  /** Serves a connection accepted elsewhere: the ACME HTTPS listener's decrypted sockets. */
  accept (socket: Socket): void {
    this.#server.emit('connection', socket)
  }

  /** Response body bytes sent. */
  get bytesServed (): number {
    return this.#http.bytesServed
  }

  /** `/ipfs/` requests answered from a held block. */
  get hits (): number {
    return this.#routes.counts.hits
  }

  /** `/ipfs/` requests for a block not held here. */
  get misses (): number {
    return this.#routes.counts.misses
  }

  /** Connections refused by the per-IP connection limit, or with every connection busy at the total limit. */
  get connectionsRefused (): number {
    return this.#connections.refused
  }

  /** Idle connections closed to make room for a new one at the total limit. */
  get connectionsEvicted (): number {
    return this.#connections.evicted
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
        reject(new ListenError(`cannot listen for HTTP on ${host}:${port}: ${err.code ?? err.message}. Pick another --http address or stop what is using it.`))
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
    res.on('finish', () => { this.responses.set(res.statusCode, (this.responses.get(res.statusCode) ?? 0) + 1) })
    const socket = req.socket
    socket.setTimeout(SOCKET_IDLE_MS)
    this.#connections.busy(socket)
    res.once('close', () => { this.#connections.idle(socket) })
    const address = this.#clientAddress(req)
    const encoding = req.headers['transfer-encoding']
    // Only chunked framing is understood; another coding (gzip, or a list) could be framed differently
    // by a proxy in front (request smuggling), so it is refused and the connection closed.
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'chunked') {
      this.#http.text(req, res, 501, `Transfer-Encoding "${encoding.slice(0, 40)}" is not supported: send requests without a body, or chunked\n`, { Connection: 'close' })
      return
    }
    if (this.#connections.isRefused(socket)) {
      this.#http.text(req, res, 503, `too many open connections from ${address}: this relay allows a few per address; retry in ${CONNECTION_RETRY_S} s\n`, { 'Retry-After': CONNECTION_RETRY_S, Connection: 'close' })
      return
    }
    const wait = this.#limiter.take(address)
    if (wait > 0) {
      this.rateLimited++
      this.#http.text(req, res, 429, `too many requests from ${address}: this relay allows a few per second per address; retry in ${wait} s\n`, { 'Retry-After': wait })
      return
    }
    this.#route(req, res).catch((err: Error) => {
      this.#routes.log.error(`HTTP 500 for ${req.method ?? '?'} ${(req.url ?? '').slice(0, 200)}: ${err.stack ?? err.message}`)
      if (!res.headersSent) this.#http.text(req, res, 500, 'internal error in the relay; its log has the details\n')
      else res.destroy()
    })
  }

  /** The client's address: the socket's, or behind a trusted proxy the one it forwarded. */
  #clientAddress (req: IncomingMessage): string {
    return this.#proxies.clientAddress(req.socket.remoteAddress ?? 'unknown', req.headers['x-forwarded-for'])
  }

  async #route (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/'
    if (req.method === 'OPTIONS') {
      this.#http.head(res, 204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': 'Range, If-None-Match, Accept',
        'Access-Control-Max-Age': 86400
      })
      res.end()
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.#http.text(req, res, 405, `method ${req.method ?? ''} not allowed: this relay only answers GET and HEAD\n`, { Allow: 'GET, HEAD, OPTIONS' })
      return
    }
    if (url.length > MAX_URL) {
      this.#http.text(req, res, 400, 'URL too long\n')
      return
    }
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1))
    const parts = path.split('/').slice(1)
    const [top, a, b, ...rest] = parts

    if (top === 'healthz' && parts.length === 1) {
      const health = this.#source.health()
      this.#http.text(req, res, health.ok ? 200 : 503, health.ok ? 'ok\n' : `${health.reason}\n`)
    } else if (top === 'status' && parts.length === 1) {
      this.#http.json(req, res, this.#source.status())
    } else if (top === 'directory.json' && parts.length === 1) {
      this.#http.json(req, res, this.#source.directory())
    } else if (top === 'ice-servers.json' && parts.length === 1) {
      // Credentials: never cached, by the browser or anything between.
      this.#http.send(req, res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(this.#source.iceServers()) + '\n')
    } else if (top === 'metrics' && parts.length === 1) {
      const { contentType, body } = await this.#source.metrics()
      this.#http.send(req, res, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache' }, body)
    } else if (top === 'hls' && a === 'recordings' && b !== undefined && rest.length === 1) {
      await serveRecordingPlaylist(this.#routes, req, res, b, rest[0]!, query)
    } else if (top === 'hls' && a !== undefined && b !== undefined && rest.length === 0) {
      this.#routes.sawViewer(req)
      await servePlaylist(this.#routes, req, res, a, b, query)
    } else if (top === 'hls' && a !== undefined && b !== undefined && rest.length === 1) {
      const follower = roomOf(this.#routes, req, res, a)
      if (follower !== undefined) await servePart(this.#routes, req, res, follower, b, rest[0]!)
    } else if (top === 'rooms' && a !== undefined && b === 'window.json' && rest.length === 0) {
      await serveWindow(this.#routes, req, res, a, query)
    } else if (top === 'rooms' && a !== undefined && b === 'thumbnail.jpg' && rest.length === 0) {
      const thumbnail = roomOf(this.#routes, req, res, a)?.thumbnail()
      if (thumbnail !== undefined) this.#http.send(req, res, 200, { 'Content-Type': 'image/jpeg', 'Cache-Control': 'no-cache', ETag: `"${thumbnail.cid}"` }, thumbnail.bytes)
      else if (!res.headersSent) this.#http.text(req, res, 404, `room "${a}" has no thumbnail yet: the origin sends one every 10 s or so; retry shortly\n`)
    } else if (top === 'rooms' && a !== undefined && b === 'recordings.json' && rest.length === 0) {
      const follower = roomOf(this.#routes, req, res, a)
      if (follower !== undefined) this.#http.json(req, res, { room: a, recordings: this.#source.recordings(a) })
    } else if (top === 'ipfs' && a !== undefined && b === undefined) {
      await serveBlock(this.#routes, req, res, a, query)
    } else if (top === 'ipfs' && a !== undefined && b !== undefined) {
      if (acceptedFormat(query.get('format'), req.headers.accept, query.get('car-version')) === 'car') await servePathCar(this.#routes, req, res, a, [b, ...rest], query)
      else await serveRecordingFile(this.#routes, req, res, a, [b, ...rest])
    } else {
      this.#http.text(req, res, 404, 'not found; this relay serves /hls/<room>/master.m3u8 (its playlists, parts), /rooms/<room>/window.json (thumbnail.jpg, recordings.json), /ipfs/<cid>[/<path>], /hls/recordings/<cid>/master.m3u8, /directory.json, /ice-servers.json, /metrics, /status, /healthz\n')
    }
  }
}
