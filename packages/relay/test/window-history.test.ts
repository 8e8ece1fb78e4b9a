import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { relayRoutes, relayUrl, WINDOW_HISTORY_MAX_LIMIT } from '@hivecast/shared'
import type { WindowHistoryJson, WindowJson } from '@hivecast/shared'
import { followedRoom, waitFor } from './origin-fixture.ts'
import type { FollowedRoom, PublishedSegment } from './origin-fixture.ts'

const ROOM = 'rewind'
let room: FollowedRoom | undefined

after(async () => { await room?.stop() })

test('window.json pages back through a rendition\'s signed history, kept past --retention for --rewind', async () => {
  // Retention 1 s: without the rewind range the sweep would drop every segment that left the window.
  room = await followedRoom('window-history', ROOM, { playlistLength: 3, retentionMs: 1_000 })
  const { origin, relay } = room
  const published: PublishedSegment[] = []
  for (let seq = 0; seq < 12; seq++) published.push(await origin.publishSegment(seq))
  await waitFor('all twelve stored', () => relay.status().rooms[ROOM]!.renditions['720p']?.held === 12)
  const get = async (path: string): Promise<Response> => await fetch(relayUrl(relay.url, path))
  const page = async (before: number, limit: number): Promise<WindowHistoryJson> => {
    const res = await get(relayRoutes.windowHistory(ROOM, '720p', before, limit))
    assert.equal(res.status, 200, await res.clone().text())
    return await res.json() as WindowHistoryJson
  }
  const seqs = (body: WindowJson): number[] => body.renditions['720p']!.map(e => (JSON.parse(e.envelope.payload) as { seq: number }).seq)

  // Plain window.json is as before: the listed window only.
  const window = await (await get(relayRoutes.window(ROOM))).json() as WindowJson
  assert.deepEqual(seqs(window), [9, 10, 11])
  assert.equal('more' in window, false)

  // Past the sweep's first run (retention 1 s) the history is still there.
  await new Promise(resolve => setTimeout(resolve, 2_500))
  const first = await page(9, 4)
  assert.deepEqual(seqs(first), [5, 6, 7, 8])
  assert.equal(first.more, true)
  assert.deepEqual(first.renditions['720p']!.map(e => e.envelope), published.slice(5, 9).map(p => p.envelope), 'the envelopes as the origin signed them')
  assert.ok(first.renditions['720p']!.every(e => typeof e.storedAt === 'number'))
  const second = await page(5, 4)
  assert.deepEqual(seqs(second), [1, 2, 3, 4])
  assert.equal(second.more, true)
  const last = await page(1, 4)
  assert.deepEqual(seqs(last), [0])
  assert.equal(last.more, false)
  assert.deepEqual(seqs(await page(0, 4)), [])
  // Without limit: the default page; held blocks of history are served.
  assert.equal((await get(`/ipfs/${published[0]!.cid}`)).status, 200)

  const bad: Array<[string, RegExp]> = [
    ['rendition=720p', /before=<seq>/],
    ['before=5', /rendition name/],
    ['limit=4', /rendition name/],
    ['rendition=..%2Fx&before=5', /rendition name/],
    ['rendition=720p&before=-1', /before=<seq>/],
    ['rendition=720p&before=abc', /before=<seq>/],
    ['rendition=720p&before=5&limit=0', /limit must be/],
    ['rendition=720p&before=5&limit=1.5', /limit must be/],
    [`rendition=720p&before=5&limit=${WINDOW_HISTORY_MAX_LIMIT + 1}`, /limit must be/]
  ]
  for (const [query, message] of bad) {
    const res = await get(`/rooms/${ROOM}/window.json?${query}`)
    assert.equal(res.status, 400, query)
    assert.match(await res.text(), message, query)
  }
  const unknown = await get(relayRoutes.windowHistory(ROOM, '1080p', 5, 4))
  assert.equal(unknown.status, 404)
  assert.match(await unknown.text(), /no rendition "1080p"/)
})
