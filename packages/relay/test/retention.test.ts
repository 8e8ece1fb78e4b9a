import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { CID } from 'multiformats/cid'
import { followedRoom, waitFor } from './origin-fixture.ts'
import type { FollowedRoom } from './origin-fixture.ts'

const ROOM = 'retention'
let room: FollowedRoom | undefined

after(async () => { await room?.stop() })

test('blocks past the retention horizon that left the window are deleted and no longer served', async () => {
  room = await followedRoom('retention', ROOM, { playlistLength: 2, retentionMs: 1_000, rewindMs: 0 })
  const { origin, relay } = room
  const segments = []
  for (let seq = 0; seq < 4; seq++) segments.push(await origin.publishSegment(seq))
  const served = async (cid: string): Promise<number> => (await fetch(new URL(`/ipfs/${cid}`, relay.url))).status
  await waitFor('all four stored', () => relay.status().rooms[ROOM]!.renditions['720p']?.latestSeq === 3 &&
    relay.status().rooms[ROOM]!.renditions['720p']!.held === 4)
  // Out of the window but within the horizon: still served to a player a little behind.
  assert.equal(await served(segments[0]!.cid), 200)

  await waitFor('the sweep to drop the two segments that left the window', () => relay.status().rooms[ROOM]!.renditions['720p']!.held === 2, 5_000)
  for (const old of segments.slice(0, 2)) {
    assert.equal(await served(old.cid), 404)
    await waitFor(`${old.cid} deleted from disk`, async () => !(await relay.node.blockstore.has(CID.parse(old.cid))), 2_000)
  }
  for (const kept of segments.slice(2)) {
    assert.equal(await served(kept.cid), 200, 'segments still in the window are kept past the horizon')
  }
})
