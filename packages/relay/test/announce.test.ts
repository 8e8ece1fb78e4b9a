/**
 * `--announce`: a relay behind NAT or in a container advertises the address others reach it at, in
 * its libp2p addresses, `/status` and its directory record, next to the `--public-url`.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const ROOM = 'announced'
const ANNOUNCED = '/ip4/203.0.113.7/tcp/4001'
const PUBLIC_URL = 'https://relay.example.org/'
let dir: string | undefined
let origin: OriginFixture | undefined
let relay: Relay | undefined

after(async () => {
  await relay?.stop()
  await origin?.stop()
  await removeDir(dir)
})

test('the announced address and the public URL reach /status and the directory record', async () => {
  dir = await tempDir('announce')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  relay = await startRelay({ origins: [origin.address], rooms: [ROOM], dataDir: join(dir, 'relay'), http: { host: '127.0.0.1', port: 0 }, announce: [ANNOUNCED], publicUrl: PUBLIC_URL, log: () => {} })
  const announced = `${ANNOUNCED}/p2p/${relay.peerId}`
  const status = await (await fetch(`${relay.url}status`)).json() as { multiaddrs: string[] }
  assert.deepEqual(status.multiaddrs, [announced])
  const own = await waitFor('the relay\'s own directory record', () => relay!.directory().find(e => e.record.peerId === relay!.peerId))
  assert.deepEqual(own.record.multiaddrs, [announced])
  assert.equal(own.record.url, PUBLIC_URL)
  const listed = await (await fetch(`${relay.url}directory.json`)).json() as { relays: Array<{ record: { peerId: string, multiaddrs: string[], url: string } }> }
  assert.deepEqual(listed.relays.find(e => e.record.peerId === relay!.peerId)?.record.multiaddrs, [announced])
})

test('an announce address that is not a multiaddr is refused with what to write', async () => {
  const started = startRelay({ origins: [origin!.address], rooms: [ROOM], dataDir: join(dir!, 'bad'), announce: ['203.0.113.7:4001'], log: () => {} })
  // Stopped should it start after all, so a failing run still ends.
  started.then(async unexpected => { await unexpected.stop() }, () => {})
  await assert.rejects(started,
    /announce address "203\.0\.113\.7:4001" is not a multiaddr .*e\.g\. \/ip4\/203\.0\.113\.7\/tcp\/4001/)
})
