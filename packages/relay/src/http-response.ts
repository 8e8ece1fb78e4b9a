/**
 * Writing the gateway's answers: bodies counted (and held to the upload limit), plain-text errors,
 * JSON, and immutable bodies with ETags, conditional GET and one byte range.
 */
import { once } from 'node:events'
import { THROTTLE_CHUNK_BYTES } from './upload-throttle.ts'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { UploadThrottle } from './upload-throttle.ts'

export type Headers = Record<string, string | number>

export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl'
export const SEGMENT_TYPE = 'video/mp2t'
const FMP4_TYPE = 'video/mp4'
const WEBVTT_TYPE = 'text/vtt; charset=utf-8'
export const IMMUTABLE = 'public, max-age=29030400, immutable'

/**
 * On every answer, errors included: any page may read a relay's bytes, and a browser must never guess a
 * type for them. Written with the rest in one `writeHead`: a header set earlier with `setHeader` sends
 * Node down its slower per-header path (7 % of the relay's CPU serving held segments, measured).
 */
const EVERY_ANSWER: Headers = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, ETag, X-Ipfs-Path, X-Ipfs-Roots',
  'X-Content-Type-Options': 'nosniff'
}

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

export /** The Content-Type of a file by its name (a playlist, an MPEG-TS, fMP4 or WebVTT segment); `fallback` otherwise. */
function fileType (name: string, fallback: string): string {
  if (name.endsWith('.m3u8')) return PLAYLIST_TYPE
  if (name.endsWith('.ts')) return SEGMENT_TYPE
  if (name.endsWith('.m4s') || name.endsWith('.mp4')) return FMP4_TYPE
  if (name.endsWith('.vtt')) return WEBVTT_TYPE
  return fallback
}

export function etagMatches (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some(tag => {
    const t = tag.trim()
    return t === '*' || t === etag || t === `W/${etag}`
  })
}

/** Sends answers and counts the body bytes it sends. */
export class HttpResponder {
  bytesServed = 0
  readonly #throttle: UploadThrottle | undefined

  constructor (throttle: UploadThrottle | undefined) {
    this.#throttle = throttle
  }

  /** The status line and headers, with those every answer carries. */
  head (res: ServerResponse, status: number, headers: Headers): void {
    res.writeHead(status, { ...EVERY_ANSWER, ...headers })
  }

  send (req: IncomingMessage, res: ServerResponse, status: number, headers: Headers, body: string | Uint8Array): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    this.head(res, status, { ...headers, 'Content-Length': bytes.length })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    if (this.#throttle === undefined) {
      this.bytesServed += bytes.length
      res.end(bytes)
      return
    }
    this.writeBody(res, [bytes]).catch(() => { res.destroy() })
  }

  /**
   * Writes a body piece by piece as the upload limit allows, waiting for the client to take each one;
   * stops when the client goes away. A failing source throws (the caller cuts the response).
   */
  async writeBody (res: ServerResponse, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
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

  text (req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Headers = {}): void {
    this.send(req, res, status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...headers }, message)
  }

  json (req: IncomingMessage, res: ServerResponse, value: unknown): void {
    this.send(req, res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' }, JSON.stringify(value, null, 2) + '\n')
  }

  /** An immutable body with ETag, conditional GET and one-range support. */
  sendImmutable (req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, etag: string, extra: Headers): void {
    const headers: Headers = { 'Cache-Control': IMMUTABLE, ETag: etag, 'Accept-Ranges': 'bytes', ...extra }
    if (etagMatches(req.headers['if-none-match'], etag)) {
      this.head(res, 304, headers)
      res.end()
      return
    }
    const ifRange = req.headers['if-range']
    const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, bytes.length) : undefined
    if (range === 'unsatisfiable') {
      this.text(req, res, 416, `range not satisfiable: it is ${bytes.length} bytes\n`, { 'Content-Range': `bytes */${bytes.length}` })
      return
    }
    if (range !== undefined) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${bytes.length}`
      this.send(req, res, 206, headers, bytes.subarray(range.start, range.end + 1))
      return
    }
    this.send(req, res, 200, headers, bytes)
  }
}
