/**
 * LL-HLS at the relay. Against an origin fixture (signed parts published at will): the media playlist
 * lists parts with server control, part target and a preload hint; a blocking reload and the hinted
 * part's URL answer the moment the part is held, not before; malformed or far-ahead reloads get 400,
 * an unsatisfied one 503 after three target durations; a tampered part is never listed. Unit: blocked
 * reloads are bounded, a part whose block does not match its CID is refused by the relay's own check,
 * and a segment waits for its parts still on their way rather than being fetched beside them.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { logger, rawCid, roomPartsTopic, signPartAnnouncement } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import type { PartAnnouncement } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import { BlockingReloads, MAX_BLOCKED_RELOADS } from '../src/blocking-reload.ts'
import { HeldBlocks } from '../src/held-blocks.ts'
import { RoomParts } from '../src/room-parts.ts'
import type { RoomPartsOptions } from '../src/room-parts.ts'
import type { BlockFetcher } from '../src/block-fetcher.ts'
import { RENDITION, followedRoom, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { FollowedRoom } from './origin-fixture.ts'

const ROOM = 'llhls'
let room: FollowedRoom | undefined
after(async () => { await room?.stop() })

const partBytes = (): Uint8Array => new Uint8Array(randomBytes(188 * 5))

/** Resolves with the response, or 'pending' if none came within `ms`. */
async function settledWithin (response: Promise<Response>, ms: number): Promise<Response | 'pending'> {
  return await Promise.race([response, new Promise<'pending'>(resolve => setTimeout(() => { resolve('pending') }, ms))])
}

test('the relay lists parts, answers blocking reloads and preload hints the moment the part is held, and never lists a tampered part', async () => {
  room = await followedRoom('llhls', ROOM)
  const { origin, relay } = room
  await origin.waitForSubscriber(relay.peerId, roomPartsTopic(ROOM))
  const url = (path: string): string => new URL(`/hls/${ROOM}/${path}`, relay.url).toString()
  const playlist = async (query = ''): Promise<string> => await (await fetch(url(`${RENDITION.name}.m3u8${query}`))).text()

  // Segment 0 in four parts, then the segment itself (its bytes are the parts').
  const parts0 = [partBytes(), partBytes(), partBytes(), partBytes()]
  for (const [i, bytes] of parts0.entries()) await origin.publishPart(0, i, bytes, { last: i === 3 })
  await origin.publishSegment(0, 0, {}, Buffer.concat(parts0))
  const first = await waitFor('segment 0 listed with its parts', async () => {
    const text = await playlist()
    return text.includes('#EXTINF') && (text.match(/#EXT-X-PART:/g) ?? []).length === 4 ? text : undefined
  })
  assert.match(first, /^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1\.500$/m)
  assert.match(first, /^#EXT-X-PART-INF:PART-TARGET=0\.500$/m)
  const lines = first.split('\n')
  const partLines = lines.filter(l => l.startsWith('#EXT-X-PART:'))
  assert.match(partLines[0]!, /^#EXT-X-PART:DURATION=0\.500,URI="\/ipfs\/[a-z0-9]+\?filename=0\.0\.ts",INDEPENDENT=YES$/)
  assert.ok(partLines.slice(1).every(l => !l.includes('INDEPENDENT')))
  assert.ok(lines.indexOf(partLines[3]!) < lines.findIndex(l => l.startsWith('#EXTINF')), 'a segment\'s parts come before it')
  assert.equal(lines.at(-2), `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${RENDITION.name}/1.0.ts"`)
  // Every listed part is served under its CID with its bytes.
  for (const [i, line] of partLines.entries()) {
    const body = new Uint8Array(await (await fetch(new URL(/URI="([^"]+)"/.exec(line)![1]!, relay.url))).arrayBuffer())
    assert.deepEqual(body, parts0[i])
  }

  // A blocking reload for part 0 of segment 1 and the hinted part both wait for it.
  const reload = fetch(url(`${RENDITION.name}.m3u8?_HLS_msn=1&_HLS_part=0`))
  const hinted = fetch(url(`${RENDITION.name}/1.0.ts`))
  assert.equal(await settledWithin(reload, 400), 'pending', 'the reload waits for the part')
  assert.equal(await settledWithin(hinted, 10), 'pending', 'the hinted part waits for it')
  const part10 = partBytes()
  const publishedAt = Date.now()
  await origin.publishPart(1, 0, part10)
  const answered = await reload
  const waited = Date.now() - publishedAt
  assert.equal(answered.status, 200)
  const text = await answered.text()
  assert.match(text, /filename=1\.0\.ts",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="720p\/1\.1\.ts"/)
  assert.ok(waited < 1500, `the reload was answered ${waited} ms after the part was published`)
  const hintResponse = await hinted
  assert.equal(hintResponse.status, 200)
  assert.deepEqual(new Uint8Array(await hintResponse.arrayBuffer()), part10)

  // Malformed and far-ahead reloads.
  assert.equal((await fetch(url(`${RENDITION.name}.m3u8?_HLS_part=1`))).status, 400)
  assert.equal((await fetch(url(`${RENDITION.name}.m3u8?_HLS_msn=x`))).status, 400)
  assert.equal((await fetch(url(`${RENDITION.name}.m3u8?_HLS_msn=9`))).status, 400)
  // Unsatisfied: 503 after three target durations (the fixture's segments are 2 s).
  const started = Date.now()
  assert.equal((await fetch(url(`${RENDITION.name}.m3u8?_HLS_msn=2&_HLS_part=3`))).status, 503)
  assert.ok(Date.now() - started >= 5500, `a blocked reload gave up after ${Date.now() - started} ms`)

  // A tampered part: the origin's block for the announced CID holds other bytes. Never listed.
  const claimed = partBytes()
  const cid = await rawCid(claimed)
  await origin.node.blockstore.put(cid, partBytes())
  const tampered: PartAnnouncement = { kind: 'part', room: ROOM, rendition: RENDITION.name, session: 'fixture', seq: 1, part: 1, cid: cid.toString(), size: claimed.length, duration: 0.5, independent: false, last: false }
  await origin.node.libp2p.services.pubsub.publish(roomPartsTopic(ROOM), new TextEncoder().encode(JSON.stringify(await signPartAnnouncement(tampered, origin.identity.privateKey, origin.identity.id))))
  await waitFor('the tampered part refused', () => relay.status().rooms[ROOM]?.rejected['unusable-part'] === 1 ? true : undefined, 30_000)
  assert.doesNotMatch(await playlist(), new RegExp(cid.toString()))
  assert.equal((await fetch(new URL(`/ipfs/${cid.toString()}`, relay.url))).status, 404)
})

test('blocked reloads are bounded: past the bound a reload is refused at once, and a notify answers the ready ones', async () => {
  const reloads = new BlockingReloads()
  let ready = false
  const signal = new AbortController().signal
  const waiting = Array.from({ length: MAX_BLOCKED_RELOADS }, async () => await reloads.wait(() => ready, 10_000, signal))
  assert.equal(reloads.waiting, MAX_BLOCKED_RELOADS)
  assert.equal(await reloads.wait(() => ready, 10_000, signal), 'busy')
  assert.equal(reloads.refused, 1)
  ready = true
  reloads.notify()
  assert.deepEqual(new Set(await Promise.all(waiting)), new Set(['ready']))
  assert.equal(reloads.waiting, 0)
  assert.equal(await reloads.wait(() => false, 50, signal), 'timeout')
  const gone = new AbortController()
  const leaving = reloads.wait(() => false, 10_000, gone.signal)
  gone.abort()
  assert.equal(await leaving, 'gone')
})

interface PartsHarness {
  parts: RoomParts
  /** Signs a part announcement of rendition 360p as the room's origin and hands it to `parts`. */
  announce: (seq: number, part: number, bytes: Uint8Array, last?: boolean) => Promise<void>
}

/** A RoomParts on a real relay node, fed announcements signed by a room key; its blocks come from `fetcher(node)`. */
async function withRoomParts (fetcher: (node: P2PNode) => BlockFetcher, options: Pick<RoomPartsOptions, 'fetchTimeoutMs'> & Partial<Pick<RoomPartsOptions, 'onChange' | 'reject'>>, body: (harness: PartsHarness) => Promise<void>): Promise<void> {
  const dir = await tempDir('room-parts')
  const identity = await loadOrCreateIdentity(join(dir, 'origin'))
  const node = await createP2PNode({ identity: await loadOrCreateIdentity(join(dir, 'relay')), dataDir: join(dir, 'relay'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  try {
    const parts = new RoomParts(node, { slug: ROOM, keys: [identity.id] }, {
      onChange: () => {},
      reject: () => {},
      ...options,
      fetchBlock: fetcher(node),
      held: new HeldBlocks(node),
      following: () => identity.id,
      stopping: new AbortController().signal,
      log: logger('relay:test', { write: () => {} })
    })
    const announce = async (seq: number, part: number, bytes: Uint8Array, last = false): Promise<void> => {
      const announcement: PartAnnouncement = { kind: 'part', room: ROOM, rendition: '360p', session: 's', seq, part, cid: (await rawCid(bytes)).toString(), size: bytes.length, duration: 0.3, independent: part === 0, last }
      assert.equal(parts.take(announcement, await signPartAnnouncement(announcement, identity.privateKey, identity.id)), true)
    }
    await body({ parts, announce })
  } finally {
    await node.stop()
    await removeDir(dir)
  }
}

test('a part whose block does not match its CID is refused by the relay\'s own check, and a good one is listed', async () => {
  const good = partBytes()
  const wrong = partBytes()
  // A fetcher that hands over other bytes for one CID, as a faulty or hostile peer path could.
  const fetchBlock: BlockFetcher = async cid => cid.toString() === (await rawCid(good)).toString() ? good : wrong
  const rejected: string[] = []
  let changes = 0
  await withRoomParts(() => fetchBlock, { fetchTimeoutMs: 2000, onChange: () => { changes++ }, reject: reason => { rejected.push(reason) } }, async ({ parts, announce }) => {
    await announce(5, 0, good)
    await waitFor('part 0 held', () => parts.held('360p', 5).length === 1 ? true : undefined)
    // Part 1 claims bytes the fetcher does not deliver.
    await announce(5, 1, partBytes())
    await waitFor('part 1 settled', () => changes === 2 ? true : undefined)
    assert.equal(parts.held('360p', 5).length, 1, 'the mismatching part is not listed')
    assert.deepEqual(rejected, ['unusable-part'])
    assert.equal(parts.counts.failed, 1)
  })
})

test('a segment waits for its parts still on their way, so it is joined and not fetched beside them; with a part never announced it waits 2 s', async () => {
  const bytes = [partBytes(), partBytes(), partBytes()]
  const cids = await Promise.all(bytes.map(async b => (await rawCid(b)).toString()))
  // The last part's bytes come 3.5 s late, as on a busy relay down the tree (the network lab saw
  // parts 2-5 s after their segment's announcement); a fetcher that waits before it hands them over
  // stands in for that.
  const lateLastPart = (node: P2PNode): BlockFetcher => async cid => {
    const i = cids.indexOf(cid.toString())
    if (i === 2) await new Promise(resolve => setTimeout(resolve, 3_500))
    // Stored, as bitswap and the push store what they fetch: the join reads the parts from the store.
    await node.blockstore.put(cid, bytes[i]!)
    return bytes[i]!
  }
  await withRoomParts(lateLastPart, { fetchTimeoutMs: 10_000 }, async ({ parts, announce }) => {
    for (const part of [0, 1, 2]) await announce(7, part, bytes[part]!, part === 2)
    let started = Date.now()
    await parts.joined('360p', 7)
    const waited = Date.now() - started
    assert.equal(parts.counts.joined, 1, `the segment's wait ended ${waited} ms in, before its parts joined`)
    assert.ok(waited >= 3_000, `the wait ended with the join, ${waited} ms in`)
    // Part 2 of segment 8 is never announced: the wait gives up after 2 s, not the fetch timeout.
    for (const part of [0, 1]) await announce(8, part, bytes[part]!)
    started = Date.now()
    await parts.joined('360p', 8)
    const given = Date.now() - started
    assert.ok(given >= 1_900 && given < 3_000, `the wait for a segment with a part never announced ended ${given} ms in`)
    assert.equal(parts.counts.joined, 1)
  })
})
