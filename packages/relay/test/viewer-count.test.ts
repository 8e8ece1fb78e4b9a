/**
 * Viewer counts by token across real relays (in-process, libp2p and HTTP on 127.0.0.1): each relay
 * counts the tokens sent with `window.json` requests, and the signed counts it gossips let every relay
 * give the room's network-wide count, each viewer once.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { newViewerToken, relayRoutes, relayUrl } from '@hivecast/shared'
import { startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const HALL = 'hall'
const ANNEX = 'annex'
const MAIN = 'main'
let dir: string | undefined
let origin: OriginFixture | undefined
const relays: Relay[] = []

before(async () => {
  dir = await tempDir('viewer-count')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: HALL })
  for (const name of ['relay-a', 'relay-b']) {
    const peers = relays.map(r => r.multiaddrs[0]!)
    relays.push(await startRelay({ origins: [origin.address], peers, rooms: [HALL, ANNEX, MAIN], dataDir: join(dir, name), http: { host: '127.0.0.1', port: 0 }, viewersPerAddress: 1_000, log: () => {} }))
  }
  // Counts are taken only from relays in the directory.
  for (const relay of relays) await waitFor(`${relay.url} to list both relays`, () => relay.directory().length === 2, 30_000)
})

after(async () => {
  await Promise.all(relays.map(async r => { await r.stop() }))
  await origin?.stop()
  await removeDir(dir)
})

/** A player's window request: what the Hivecast player sends every few seconds. */
async function watch (relay: Relay, room: string, token: string): Promise<void> {
  const response = await fetch(relayUrl(relay.url, relayRoutes.window(room, token)))
  assert.equal(response.status, 200)
  await response.body?.cancel()
}

function viewersOf (relay: Relay, room: string): { local: number, network: number } {
  const viewers = relay.status().rooms[room]?.viewers
  assert.ok(viewers !== undefined, `${relay.url} reports viewers for ${room}`)
  return viewers
}

test('two viewers on two relays count as two on both relays', async () => {
  const [a, b] = [relays[0]!, relays[1]!]
  const [first, second] = [newViewerToken(), newViewerToken()]
  await watch(a, HALL, first)
  await watch(b, HALL, second)
  for (const relay of [a, b]) {
    await waitFor(`${relay.url} to count 2 network-wide`, () => viewersOf(relay, HALL).network === 2, 20_000)
    assert.equal(viewersOf(relay, HALL).local, 1, 'each relay saw one of them itself')
  }
  const metrics = await (await fetch(relayUrl(a.url, '/metrics'))).text()
  assert.match(metrics, new RegExp(`^hivecast_room_viewers\\{room="${HALL}"\\} 2$`, 'm'))
  const status = await (await fetch(relayUrl(b.url, '/status'))).json() as { rooms: Record<string, { viewers: unknown }> }
  assert.deepEqual(status.rooms[HALL]?.viewers, { local: 1, network: 2 })
})

test('one viewer asking two relays counts once', async () => {
  const [a, b] = [relays[0]!, relays[1]!]
  const [both, onlyA] = [newViewerToken(), newViewerToken()]
  await watch(a, ANNEX, both)
  await watch(b, ANNEX, both)
  await watch(a, ANNEX, onlyA)
  for (const relay of [a, b]) await waitFor(`${relay.url} to have heard the other's count`, () => viewersOf(relay, ANNEX).network >= 2 ? true : undefined, 20_000)
  // A further interval: a count that would add the shared viewer twice has had time to arrive.
  await new Promise(resolve => setTimeout(resolve, 6_000))
  assert.deepEqual(viewersOf(a, ANNEX), { local: 2, network: 2 })
  assert.deepEqual(viewersOf(b, ANNEX), { local: 1, network: 2 })
})

test('a room with more viewers than a count lists is merged by sketch: the union, not the sum', async () => {
  const [a, b] = [relays[0]!, relays[1]!]
  const tokens = Array.from({ length: 500 }, () => newViewerToken())
  // 300 on each relay, 100 of them on both: 500 viewers, a sum would say 600.
  for (let i = 0; i < 300; i += 50) await Promise.all(tokens.slice(i, i + 50).map(async token => { await watch(a, MAIN, token) }))
  for (let i = 200; i < 500; i += 50) await Promise.all(tokens.slice(i, i + 50).map(async token => { await watch(b, MAIN, token) }))
  for (const relay of [a, b]) {
    const network = await waitFor(`${relay.url} to merge the other's sketch`, () => { const n = viewersOf(relay, MAIN).network; return n > 400 ? n : undefined }, 20_000)
    assert.ok(Math.abs(network - 500) <= 50, `${relay.url} estimates ${network} viewers for 500`)
    assert.equal(viewersOf(relay, MAIN).local, 300)
  }
})
