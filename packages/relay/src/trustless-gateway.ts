/**
 * The IPFS trustless gateway (`/ipfs/<cid>`), limited to the blocks this relay holds for its rooms and
 * pinned recordings — a cache, not an open proxy: any other CID is a 404, never a fetch. Raw blocks,
 * CARs (whole, `dag-scope`, `entity-bytes`, through a path) and files inside a pinned recording.
 */
import { RAW_CODEC, tryParseCid } from '@hivecast/shared'
import { LRUCache } from 'lru-cache'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CID } from 'multiformats/cid'
import { acceptedFormat, RAW_TYPE } from './accept-format.ts'
import { CAR_TYPE, carStream } from './car-export.ts'
import type { DagScope } from './car-export.ts'
import { etagMatches, fileType, IMMUTABLE, SEGMENT_TYPE } from './http-response.ts'
import type { Headers } from './http-response.ts'
import type { RouteContext } from './gateway-source.ts'

/** Multihash code of the identity "hash": the digest is the data itself. */
const IDENTITY_CODE = 0x00
/** `entity-bytes=from:to` of the trustless gateway: offsets, negative from the end, `*` for the end. */
const ENTITY_BYTES = /^-?\d{1,15}:(?:\*|-?\d{1,15})$/
/** One name inside a recording's directory: no dot-segments, no separators, no escapes left. */
const RECORDING_PATH_PART = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/
const MAX_RECORDING_DEPTH = 4

/** CIDs as requested, parsed: viewers ask for the same few live segments over and over. */
const PARSED_CIDS_KEPT = 4096
const parsedCids = new LRUCache<string, CID>({ max: PARSED_CIDS_KEPT })

/**
 * A CID as the gateway takes it: base32 in capitals (`BAFY...`, case-insensitive by design) too.
 * Parsing was 7 % of the CPU of serving held segments (measured), so parsed ones are kept.
 */
function parseGatewayCid (text: string): CID | undefined {
  const kept = parsedCids.get(text)
  if (kept !== undefined) return kept
  const cid = tryParseCid(/^B[A-Z2-7]+$/.test(text) ? text.toLowerCase() : text)
  if (cid !== undefined) parsedCids.set(text, cid)
  return cid
}

/** The names of a path inside a recording, or undefined (and a 400 sent) when one is not a plain name. */
function recordingPath (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, rawPath: string[]): string[] | undefined {
  // A trailing slash names the directory itself.
  const parts = rawPath.at(-1) === '' ? rawPath.slice(0, -1) : rawPath
  const path: string[] = []
  for (const part of parts) {
    let name: string
    try {
      name = decodeURIComponent(part)
    } catch {
      name = ''
    }
    if (!RECORDING_PATH_PART.test(name) || name.includes('..') || path.length >= MAX_RECORDING_DEPTH) {
      ctx.http.text(req, res, 400, 'invalid path inside a CID: use names of letters, digits, dot, dash and underscore, e.g. /ipfs/<cid>/index.m3u8\n')
      return undefined
    }
    path.push(name)
  }
  return path
}

/** `/ipfs/<dirCid>/<path>?format=car`: the blocks that verify the path, then the DAG at its end. */
export async function servePathCar (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, cidText: string, rawPath: string[], query: URLSearchParams): Promise<void> {
  const root = parseGatewayCid(cidText)
  if (root === undefined) {
    ctx.http.text(req, res, 400, `"${cidText.slice(0, 100)}" is not a CID\n`)
    return
  }
  const path = recordingPath(ctx, req, res, rawPath)
  if (path === undefined) return
  const blocks = await ctx.source.readHeldBlock(root) === undefined ? undefined : await ctx.source.pathBlocks(root, path)
  if (blocks === undefined) {
    ctx.counts.misses++
    ctx.http.text(req, res, 404, 'not held here: this relay serves CARs only of the recordings it pins (--archive) and the segments of its rooms\n')
    return
  }
  ctx.counts.hits++
  const terminus = blocks.at(-1)!.cid
  serveCar(ctx, req, res, root, query, { parents: blocks.slice(0, -1), terminus, path })
}

/** `/ipfs/<dirCid>/<path>`: a file of a recording this relay pinned (--archive), resolved through UnixFS. */
export async function serveRecordingFile (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, cidText: string, rawPath: string[]): Promise<void> {
  const cid = parseGatewayCid(cidText)
  if (cid === undefined) {
    ctx.http.text(req, res, 400, `"${cidText.slice(0, 100)}" is not a CID\n`)
    return
  }
  // A directory (trailing slash) is not served; only files are.
  const path = rawPath.at(-1) === '' ? undefined : recordingPath(ctx, req, res, rawPath)
  if (path === undefined) {
    if (!res.headersSent) ctx.http.text(req, res, 400, 'invalid path inside a CID: use names of letters, digits, dot, dash and underscore, e.g. /ipfs/<cid>/index.m3u8\n')
    return
  }
  const bytes = await ctx.source.readRecordingFile(cid, path)
  if (bytes === undefined) {
    ctx.counts.misses++
    ctx.http.text(req, res, 404, 'not held here: this relay serves files only of the recordings it pins (relays started with --archive); see /rooms/<room>/recordings.json\n')
    return
  }
  ctx.counts.hits++
  ctx.sawViewer(req)
  const name = path.at(-1)!
  const type = fileType(name, 'application/octet-stream')
  const etag = `"${cid.toString()}/${path.join('/')}"`
  ctx.http.sendImmutable(req, res, bytes, etag, { 'Content-Type': type, 'X-Ipfs-Path': `/ipfs/${cid.toString()}/${path.join('/')}` })
}

/** A CAR of the DAG under a held CID: a pinned recording whole, or a segment as one block. */
function serveCar (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, root: CID, query: URLSearchParams, inside?: { parents: Array<{ cid: CID, bytes: Uint8Array }>, terminus: CID, path: string[] }): void {
  const given = query.get('dag-scope')
  const range = query.get('entity-bytes')
  // The spec: entity-bytes "implies `dag-scope=entity`".
  const scope = given ?? (range === null ? 'all' : 'entity')
  if (scope !== 'all' && scope !== 'entity' && scope !== 'block') {
    ctx.http.text(req, res, 400, `dag-scope=${scope.slice(0, 20)} is not offered: use all (the default), entity or block\n`)
    return
  }
  if (range !== null && !ENTITY_BYTES.test(range)) {
    ctx.http.text(req, res, 400, `entity-bytes=${range.slice(0, 30)} is not from:to, e.g. 0:1023, 0:* or -1024:*\n`)
    return
  }
  // A live segment is one raw block, the smallest set for any range of it; a recording's directory is
  // not bytes (the spec: the parameter "MUST be ignored"). A chunked file is never served by CID alone.
  const terminus = inside?.terminus ?? root
  if (range !== null && terminus.code !== RAW_CODEC && scope !== 'block') {
    ctx.http.text(req, res, 400, 'entity-bytes is offered for a segment (one raw block); a recording is served whole (dag-scope=all or entity)\n')
    return
  }
  const ipfsPath = [root.toString(), ...inside?.path ?? []].join('/')
  const etag = `"${ipfsPath}.car.${scope}${range === null ? '' : `.${range}`}"`
  const headers: Headers = {
    'Content-Type': CAR_TYPE,
    'Cache-Control': IMMUTABLE,
    ETag: etag,
    Vary: 'Accept',
    'X-Ipfs-Path': `/ipfs/${ipfsPath}`,
    'X-Ipfs-Roots': [...inside?.parents.map(b => b.cid.toString()) ?? [], terminus.toString()].join(','),
    'Content-Disposition': `attachment; filename="${root.toString()}.car"`
  }
  if (etagMatches(req.headers['if-none-match'], etag)) {
    ctx.http.head(res, 304, headers)
    res.end()
    return
  }
  ctx.http.head(res, 200, headers)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  const source = ctx.source
  async function * blocks (): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
    yield * inside?.parents ?? []
    yield * source.dagBlocks(terminus, scope as DagScope)
  }
  ctx.http.writeBody(res, carStream(root, blocks())).catch((err: Error) => {
    ctx.log.warn(`CAR of ${root.toString()} cut short: ${err.message}`)
    res.destroy()
  })
}

export async function serveBlock (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, cidText: string, query: URLSearchParams): Promise<void> {
  const cid = parseGatewayCid(cidText)
  if (cid === undefined) {
    ctx.http.text(req, res, 400, `"${cidText.slice(0, 100)}" is not a CID\n`)
    return
  }
  // An identity CID carries its bytes inline (bafkqaaa, the empty one, is what clients probe with).
  const bytes = cid.multihash.code === IDENTITY_CODE ? cid.multihash.digest : await ctx.source.readHeldBlock(cid)
  if (bytes === undefined) ctx.counts.misses++
  else {
    ctx.counts.hits++
    ctx.sawViewer(req)
  }
  if (bytes === undefined) {
    // The spec: 412 "without any payload or specific HTTP headers".
    if (/\bonly-if-cached\b/i.test(req.headers['cache-control'] ?? '')) ctx.http.send(req, res, 412, { 'Cache-Control': 'no-cache' }, '')
    else ctx.http.text(req, res, 404, 'block not held here: this relay serves only the segments announced in the rooms it follows\n')
    return
  }
  const format = acceptedFormat(query.get('format'), req.headers.accept, query.get('car-version'))
  if (format === 'car-version') {
    ctx.http.text(req, res, 406, 'only CARv1 is offered: ask for application/vnd.ipld.car; version=1 (or ?format=car)\n')
    return
  }
  if (typeof format === 'object') {
    ctx.http.text(req, res, 406, `format "${format.unknown.slice(0, 20)}" is not offered: ask for ?format=raw (one block), ?format=car (the block and everything under it) or the plain bytes\n`)
    return
  }
  if (format === 'car') {
    serveCar(ctx, req, res, cid, query)
    return
  }
  if (format === 'plain' && cid.code !== RAW_CODEC) {
    ctx.http.text(req, res, 406, 'a recording\'s directory block is served raw (?format=raw) or as a CAR of the whole recording (?format=car); its files are at /ipfs/<cid>/<path>, e.g. /ipfs/<cid>/index.m3u8\n')
    return
  }
  const raw = format === 'raw'
  const headers: Headers = {
    'Content-Type': raw ? RAW_TYPE : fileType(query.get('filename') ?? '', SEGMENT_TYPE),
    Vary: 'Accept',
    'X-Ipfs-Path': `/ipfs/${cid.toString()}`,
    'X-Ipfs-Roots': cid.toString()
  }
  if (raw) headers['Content-Disposition'] = `attachment; filename="${cid.toString()}.bin"`
  // One ETag per representation, so a cache never answers a raw request with the plain one.
  ctx.http.sendImmutable(req, res, bytes, raw ? `"${cid.toString()}.raw"` : `"${cid.toString()}"`, headers)
}
