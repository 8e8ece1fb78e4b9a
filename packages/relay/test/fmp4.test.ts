/**
 * fMP4 renditions (the origin's AV1): each segment announcement names its init section, a block of its
 * own. The relay fetches it with the first segment that needs it, lists it as `#EXT-X-MAP`, serves it
 * like a segment, and lists a segment whose init section cannot be had as a gap.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { rawCid } from '@hivecast/shared'
import { followedRoom, RENDITION, waitFor } from './origin-fixture.ts'
import type { FollowedRoom } from './origin-fixture.ts'

const ROOM = 'fmp4'
const AV1 = { ...RENDITION, name: 'av1-720p', codecs: 'av01.0.08M.08,mp4a.40.2' }
let room: FollowedRoom | undefined
const logs: string[] = []

function url (path: string): string {
  return new URL(path, room!.relay.url).toString()
}

/** The AV1 playlist once it lists `seq`. */
async function listed (seq: number): Promise<string> {
  return await waitFor(`seq ${seq} in the playlist`, async () => {
    const res = await fetch(url(`/hls/${ROOM}/${AV1.name}.m3u8`))
    const text = res.status === 200 ? await res.text() : ''
    return text.includes(`filename=${seq}.m4s`) ? text : undefined
  })
}

before(async () => {
  room = await followedRoom('fmp4', ROOM, { fetchTimeoutMs: 1_500, log: line => { logs.push(line) } })
})

after(async () => { await room?.stop() })

test('segments with an init section are listed after its #EXT-X-MAP, and the init section is served', async () => {
  const init = await room!.origin.storeBlock(1400)
  for (const seq of [0, 1, 2]) await room!.origin.publishSegment(seq, 3000, { rendition: AV1, init: { cid: init.cid, size: 1400 } })
  const text = await listed(2)
  assert.match(text, /^#EXTM3U\n#EXT-X-VERSION:6\n/)
  assert.deepEqual(text.match(/#EXT-X-MAP:.*/g), [`#EXT-X-MAP:URI="/ipfs/${init.cid}?filename=init.mp4"`], 'one map for the run, before its first segment')
  assert.equal(text.match(/\?filename=\d+\.m4s/g)?.length, 3)
  assert.doesNotMatch(text, /#EXT-X-GAP/)

  const plain = await fetch(url(`/ipfs/${init.cid}?filename=init.mp4`))
  assert.equal(plain.status, 200)
  assert.equal(plain.headers.get('content-type'), 'video/mp4')
  assert.deepEqual(new Uint8Array(await plain.arrayBuffer()), init.bytes)
  const raw = await fetch(url(`/ipfs/${init.cid}`), { headers: { accept: 'application/vnd.ipld.raw' } })
  assert.equal(raw.headers.get('content-type'), 'application/vnd.ipld.raw')

  const master = await (await fetch(url(`/hls/${ROOM}/master.m3u8`))).text()
  assert.match(master, /CODECS="av01\.0\.08M\.08,mp4a\.40\.2",FRAME-RATE=30\.000,NAME="av1-720p"\nav1-720p\.m3u8/)
})

test('a segment whose init section cannot be had is a gap, and that init section is never served', async () => {
  // An init section nobody stores: the relay cannot fetch it, so the segment cannot play from here.
  const missing = new Uint8Array(1400).fill(7)
  const cid = (await rawCid(missing)).toString()
  await room!.origin.publishSegment(3, 3000, { rendition: AV1, init: { cid, size: missing.length } })
  const good = await room!.origin.storeBlock(1500)
  await room!.origin.publishSegment(4, 3000, { rendition: AV1, init: { cid: good.cid, size: 1500 } })
  const text = await listed(4)
  assert.match(text, new RegExp(`#EXT-X-MAP:URI="/ipfs/${cid}\\?filename=init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXT-X-GAP\n#EXTINF:2.000,\n/ipfs/[^\n]+3\\.m4s`))
  assert.match(text, new RegExp(`#EXT-X-MAP:URI="/ipfs/${good.cid}\\?filename=init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:2.000,\n/ipfs/[^\n]+4\\.m4s`), 'a new init section gets a map of its own')
  assert.equal((await fetch(url(`/ipfs/${cid}`))).status, 404)
  assert.ok(logs.some(l => l.includes(`init section ${cid}`)), 'the log says which init section was missing')
})
