/**
 * The room follower's thumbnail and hot-standby handling, driven by two real libp2p origin fixtures
 * (no ffmpeg: the origin side is tested in packages/origin/test). One relay follows the room with
 * the primary's key first and the standby's second.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { encodeEnvelope, rawCid, signAnnouncement } from '@hivecast/shared'
import type { ThumbnailAnnouncement } from '@hivecast/shared'
import { startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, segmentAnnouncement, tempDir, waitFor } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const ROOM = 'hall'
/** Short segments, so "quiet for 2 segment durations" is 1 s. */
const DURATION = 0.5
let dir: string | undefined
let primary: OriginFixture | undefined
let standby: OriginFixture | undefined
let relay: Relay | undefined
const logs: string[] = []

function url (path: string): string {
  return new URL(path, relay!.url).toString()
}

interface Listed { seq: number, cid: string, discontinuity: boolean, gap: boolean }

/** Every listed entry of the media playlist. */
async function listed (): Promise<Listed[]> {
  const res = await fetch(url(`/hls/${ROOM}/720p.m3u8`))
  if (res.status !== 200) return []
  const lines = (await res.text()).split('\n')
  let seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(lines.join('\n'))?.[1])
  const out: Listed[] = []
  let flags = { discontinuity: false, gap: false }
  for (const line of lines) {
    if (line === '#EXT-X-DISCONTINUITY') flags.discontinuity = true
    if (line === '#EXT-X-GAP') flags.gap = true
    const cid = /^\/ipfs\/([a-z0-9]+)\?/.exec(line)?.[1]
    if (cid === undefined) continue
    out.push({ seq: seq++, cid, ...flags })
    flags = { discontinuity: false, gap: false }
  }
  return out
}

/** Publishes a signed thumbnail announcement for `bytes` (stored on the fixture first). */
async function publishThumbnail (origin: OriginFixture, bytes: Uint8Array, at: number): Promise<string> {
  const cid = (await rawCid(bytes)).toString()
  await origin.storeBlock(bytes.length, bytes)
  const announcement: ThumbnailAnnouncement = { kind: 'thumbnail', room: ROOM, cid, at, width: 320, height: 180 }
  await origin.publishBytes(encodeEnvelope(await signAnnouncement(announcement, origin.identity.privateKey, origin.identity.id)))
  return cid
}

/** Bytes that start like a JPEG; the relay checks the marker, size and CID, not the picture. */
function jpegLike (size: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size))
  bytes.set([0xff, 0xd8, 0xff, 0xe0])
  return bytes
}

before(async () => {
  dir = await tempDir('standby')
  primary = await OriginFixture.start({ dataDir: join(dir, 'primary'), room: ROOM })
  standby = await OriginFixture.start({ dataDir: join(dir, 'standby'), room: ROOM })
  relay = await startRelay({
    origins: [primary.address, standby.address],
    rooms: [ROOM, 'empty'],
    dataDir: join(dir, 'relay'),
    http: { host: '127.0.0.1', port: 0 },
    // Longer than any wait here: a segment of a quiet origin must be given up on by the switch, not by this.
    fetchTimeoutMs: 60_000,
    log: line => { logs.push(line) }
  })
  await primary.waitForSubscriber(relay.peerId)
  await standby.waitForSubscriber(relay.peerId)
})

after(async () => {
  await relay?.stop()
  await primary?.stop()
  await standby?.stop()
  await removeDir(dir)
})

test('before any thumbnail, /rooms/<room>/thumbnail.jpg is a 404 that says so; /status lists none', async () => {
  const res = await fetch(url('/rooms/empty/thumbnail.jpg'))
  assert.equal(res.status, 404)
  assert.match(await res.text(), /room "empty" has no thumbnail yet/)
  assert.equal(relay!.status().rooms.empty?.thumbnail, null)
  assert.equal((await fetch(url('/rooms/nowhere/thumbnail.jpg'))).status, 404)
})

test('a thumbnail is fetched, checked and served as image/jpeg; older, oversized and non-JPEG ones are dropped and counted', async () => {
  const now = Date.now()
  const oversized = await publishThumbnail(primary!, jpegLike(600 * 1024), now)
  await waitFor('the oversized thumbnail to be refused', () => (relay!.status().rooms[ROOM]?.rejected['unusable-thumbnail'] ?? 0) >= 1)
  const notJpeg = new Uint8Array(randomBytes(2000))
  notJpeg[0] = 0x89
  await publishThumbnail(primary!, notJpeg, now + 1)
  await waitFor('the non-JPEG thumbnail to be refused', () => (relay!.status().rooms[ROOM]?.rejected['unusable-thumbnail'] ?? 0) >= 2)
  assert.equal((await fetch(url(`/rooms/${ROOM}/thumbnail.jpg`))).status, 404, 'nothing unusable is served')
  assert.ok(logs.some(l => l.includes(oversized) && /614400 bytes \(at most 524288 allowed\)/.test(l)), logs.join('\n'))

  const good = jpegLike(3000)
  const cid = await publishThumbnail(standby!, good, now + 2)
  const res = await waitFor('the thumbnail to be served', async () => {
    const r = await fetch(url(`/rooms/${ROOM}/thumbnail.jpg`))
    return r.status === 200 ? r : undefined
  })
  assert.equal(res.headers.get('content-type'), 'image/jpeg')
  assert.equal(res.headers.get('cache-control'), 'no-cache')
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), good)
  assert.deepEqual(relay!.status().rooms[ROOM]?.thumbnail, { cid, at: now + 2 })

  // An older one (by `at`) never replaces it.
  await publishThumbnail(primary!, jpegLike(3000), now - 10_000)
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.equal(relay!.status().rooms[ROOM]?.thumbnail?.cid, cid)
})

test('the relay lists the primary; when it goes quiet it switches to the standby with a discontinuity, seqs rising, and stays there', async () => {
  const status = (): { following: string, switches: number } => relay!.status().rooms[ROOM]!
  // Both announce; only the primary's segments are listed.
  const fromPrimary: string[] = []
  for (let seq = 0; seq < 3; seq++) {
    fromPrimary.push((await primary!.publishSegment(seq, 2000, { duration: DURATION })).cid)
    await standby!.publishSegment(seq, 2000, { duration: DURATION })
  }
  await waitFor('the primary\'s three segments', async () => (await listed()).length === 3 ? true : undefined)
  assert.deepEqual((await listed()).map(e => e.cid), fromPrimary)
  assert.equal(status().following, primary!.identity.id)
  // The primary's last announcement before it dies names a block the relay never gets.
  const lost = (await rawCid(new Uint8Array(randomBytes(2000)))).toString()
  await primary!.publishBytes(encodeEnvelope(await signAnnouncement(segmentAnnouncement(ROOM, 3, lost, 2000, { duration: DURATION }), primary!.identity.privateKey, primary!.identity.id)))
  await standby!.publishSegment(3, 2000, { duration: DURATION })

  // The primary stops. A standby segment within 2 segment durations does not switch yet...
  const early = await standby!.publishSegment(4, 2000, { duration: DURATION })
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal(status().switches, 0)
  assert.ok(!(await listed()).some(e => e.cid === early.cid))
  // ...one after more than 2 does. The standby's seq 4, kept from before, fills in; the primary's
  // seq 3 is given up one segment duration after the switch (not after the 60 s fetch budget): a gap.
  await new Promise(resolve => setTimeout(resolve, 2 * DURATION * 1000 + 200))
  const next = await standby!.publishSegment(5, 2000, { duration: DURATION })
  const entries = await waitFor('the standby\'s segments listed', async () => {
    const list = await listed()
    return list.some(e => e.cid === next.cid) && list.length === 6 ? list : undefined
  })
  assert.deepEqual(entries.map(e => e.seq), [0, 1, 2, 3, 4, 5], 'sequence numbers keep rising, with no hole')
  assert.deepEqual(entries.slice(3).map(e => e.cid), [lost, early.cid, next.cid])
  assert.deepEqual(entries.map(e => e.gap), [false, false, false, true, false, false], 'the lost segment is a gap')
  assert.deepEqual(entries.map(e => e.discontinuity), [false, false, false, false, true, false], 'a discontinuity where the standby takes over')
  assert.deepEqual(status(), { ...status(), following: standby!.identity.id, switches: 1 })
  assert.ok(logs.some(l => /origin 12D3KooW\S+ quiet for \d+\.\d s; following origin 12D3KooW\S+ from its next segment/.test(l)))
  assert.ok(logs.some(l => l.includes(lost) && l.includes('its origin went quiet before the block was had; listed as a gap')))

  // The primary returns: the room stays with the standby (sticky), and nothing at or below seq 5 is taken again.
  const back = await primary!.publishSegment(6, 2000, { duration: DURATION })
  const stale = await standby!.publishSegment(1, 2000, { duration: DURATION })
  const after = await standby!.publishSegment(6, 2000, { duration: DURATION })
  await waitFor('the standby\'s seq 6', async () => (await listed()).some(e => e.cid === after.cid) ? true : undefined)
  const final = await listed()
  assert.ok(!final.some(e => e.cid === back.cid || e.cid === stale.cid))
  assert.deepEqual(final.map(e => e.seq), [0, 1, 2, 3, 4, 5, 6])
  assert.equal(status().switches, 1)
})
