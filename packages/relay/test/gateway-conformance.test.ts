/**
 * Trustless-gateway conformance (issue 12) against a real relay holding a live segment (one raw block),
 * each check quoting the sentence of the spec it tests: specs.ipfs.tech "Trustless Gateway"
 * (ipfs/specs src/http-gateways/trustless-gateway.md) and "Path Gateway". The relay stays a cache of its
 * rooms' CIDs, not an open proxy: anything else is still a 404.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { CarReader } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { rawCid } from '@hivecast/shared'
import { followedRoom, waitFor } from './origin-fixture.ts'
import type { FollowedRoom, PublishedSegment } from './origin-fixture.ts'

const ROOM = 'conformance'
let room: FollowedRoom | undefined
let segment: PublishedSegment
let base: string

before(async () => {
  room = await followedRoom('conformance', ROOM)
  segment = await room.origin.publishSegment(0, 3000)
  base = room.relay.url
  await waitFor('the segment held', async () => (await fetch(`${base}ipfs/${segment.cid}?format=raw`)).status === 200)
})

after(async () => { await room?.stop() })

const get = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> => await fetch(new URL(path, base), { headers, method })

async function carBlocks (res: Response): Promise<{ roots: string[], blocks: string[] }> {
  const reader = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()))
  const blocks: string[] = []
  for await (const block of reader.blocks()) blocks.push(block.cid.toString())
  return { roots: (await reader.getRoots()).map(String), blocks }
}

test('dag-scope=entity and entity-bytes give a CAR of the segment', async () => {
  // "Optional, `dag-scope=(block|entity|all)` with default value `all`, only available for CAR requests."
  const entity = await get(`ipfs/${segment.cid}?format=car&dag-scope=entity`)
  assert.equal(entity.status, 200)
  assert.deepEqual((await carBlocks(entity)).blocks, [segment.cid])
  // entity-bytes "implies `dag-scope=entity` and serves as a trustless equivalent of an HTTP Range Request."
  const range = await get(`ipfs/${segment.cid}?format=car&entity-bytes=0:99`)
  assert.equal(range.status, 200)
  assert.deepEqual((await carBlocks(range)).blocks, [segment.cid])
  // "A Gateway MUST augment the returned `Etag` based on the passed `entity-bytes`."
  // "When present, returned `Etag` must include unique prefix based on the passed scope type."
  const all = await get(`ipfs/${segment.cid}?format=car`)
  await all.arrayBuffer()
  const tags = new Set([entity.headers.get('etag'), range.headers.get('etag'), all.headers.get('etag')])
  assert.equal(tags.size, 3, `one ETag per scope and range: ${[...tags].join(' ')}`)
  assert.equal((await get(`ipfs/${segment.cid}?format=car&entity-bytes=nonsense`)).status, 400)
})

test('If-None-Match on a CAR is answered 304 without a body', async () => {
  const first = await get(`ipfs/${segment.cid}?format=car`)
  await first.arrayBuffer()
  const etag = first.headers.get('etag')!
  // Path Gateway: "Positive match MUST return HTTP status code 304 (Not Modified), without any payload."
  const again = await get(`ipfs/${segment.cid}?format=car`, { 'If-None-Match': etag })
  assert.equal(again.status, 304)
  assert.equal((await again.arrayBuffer()).byteLength, 0)
})

test('the probe CID bafkqaaa is 200 with an empty raw body', async () => {
  // "Client and Server implementations SHOULD include support for the [`GET` probe path]"
  const probe = await get('ipfs/bafkqaaa?format=raw')
  assert.equal(probe.status, 200)
  assert.equal((await probe.arrayBuffer()).byteLength, 0)
  assert.equal((await get('ipfs/bafkqaaa', { Accept: 'application/vnd.ipld.raw' }, 'HEAD')).status, 200)
})

test('Cache-Control: only-if-cached is 412 for a block not held, 200 for one held', async () => {
  // "When received, gateway SHOULD return HTTP 412 if the root block is not immediately available."
  const missing = (await rawCid(new TextEncoder().encode('not announced anywhere'))).toString()
  // Path Gateway: "a `412 Precondition Failed` HTTP status code should be returned by the gateway without any payload".
  const notHeld = await get(`ipfs/${missing}?format=raw`, { 'Cache-Control': 'only-if-cached' })
  assert.equal(notHeld.status, 412)
  assert.equal((await notHeld.arrayBuffer()).byteLength, 0)
  assert.equal((await get(`ipfs/${missing}?format=raw`)).status, 404, 'still not an open proxy')
  const held = await get(`ipfs/${segment.cid}?format=raw`, { 'Cache-Control': 'only-if-cached' })
  assert.equal(held.status, 200)
  await held.arrayBuffer()
})

test('a CID in uppercase base32 is the same CID', async () => {
  // Path Gateway, 400: "this can be used when the CID is malformed" — and `B...` is not malformed: it is
  // the multibase prefix of base32upper, the same CIDv1 as `b...`.
  const upper = CID.parse(segment.cid).toString().toUpperCase()
  const res = await get(`ipfs/${upper}?format=raw`)
  assert.equal(res.status, 200)
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), segment.bytes)
})

test('Accept q-values are honoured and CAR version=2 is refused', async () => {
  // "A Client SHOULD send this HTTP header to leverage content type negotiation based on section 12.5.1 of RFC 9110."
  const preferCar = await get(`ipfs/${segment.cid}`, { Accept: 'application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car;q=0.9' })
  assert.match(preferCar.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.car; version=1/)
  await preferCar.arrayBuffer()
  const preferRaw = await get(`ipfs/${segment.cid}`, { Accept: 'application/vnd.ipld.car;q=0.1, application/vnd.ipld.raw' })
  assert.equal(preferRaw.headers.get('content-type'), 'application/vnd.ipld.raw')
  await preferRaw.arrayBuffer()
  // "Value returned in `CarV1Header.version` field MUST match the `version` parameter returned in
  // `Content-Type` header." The relay writes CARv1 only, so a CARv2 request is not acceptable (406).
  assert.equal((await get(`ipfs/${segment.cid}`, { Accept: 'application/vnd.ipld.car; version=2' })).status, 406)
  assert.equal((await get(`ipfs/${segment.cid}?format=car&car-version=2`)).status, 406)
})

test('X-Ipfs-Roots and X-Ipfs-Path are sent and exposed to browsers; ETags differ per format', async () => {
  // Path Gateway, X-Ipfs-Roots: "A way to indicate all CIDs required for resolving logical roots (path
  // segments) from `X-Ipfs-Path`." Here the path is the CID alone, so the one root.
  const raw = await get(`ipfs/${segment.cid}?format=raw`, { Origin: 'https://site.example' })
  await raw.arrayBuffer()
  assert.equal(raw.headers.get('x-ipfs-roots'), segment.cid)
  assert.equal(raw.headers.get('x-ipfs-path'), `/ipfs/${segment.cid}`)
  const exposed = (raw.headers.get('access-control-expose-headers') ?? '').split(',').map(h => h.trim().toLowerCase())
  assert.ok(exposed.includes('x-ipfs-path') && exposed.includes('x-ipfs-roots'), `exposed: ${exposed.join(', ')}`)
  // Path Gateway, Etag: "implementations should base it on both CID and response type".
  const plain = await get(`ipfs/${segment.cid}`)
  await plain.arrayBuffer()
  const car = await get(`ipfs/${segment.cid}?format=car`)
  await car.arrayBuffer()
  assert.equal(new Set([raw.headers.get('etag'), plain.headers.get('etag'), car.headers.get('etag')]).size, 3)
  assert.equal(car.headers.get('x-ipfs-roots'), segment.cid)
})
