import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import { startRelay } from '../src/index.ts'
import { freeTcpPort } from '@hivecast/devnet'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const ROOM = 'k1105'
let dir: string | undefined
let relay: Relay | undefined
let origin: OriginFixture | undefined

after(async () => {
  await relay?.stop()
  await origin?.stop()
  await removeDir(dir)
})

async function listedCids (): Promise<string> {
  const res = await fetch(new URL(`/hls/${ROOM}/720p.m3u8`, relay!.url))
  return res.status === 200 ? await res.text() : ''
}

test('a relay started before its origin keeps dialing, and re-dials after the origin restarts', async () => {
  dir = await tempDir('link')
  const originDir = join(dir, 'origin')
  const originId = (await loadOrCreateIdentity(originDir)).id
  const port = await freeTcpPort()
  const logs: string[] = []
  relay = await startRelay({
    origins: [`/ip4/127.0.0.1/tcp/${port}/p2p/${originId}`],
    rooms: [ROOM],
    dataDir: join(dir, 'relay'),
    http: { host: '127.0.0.1', port: 0 },
    log: line => { logs.push(line) }
  })
  await waitFor('the unreachable origin to be reported', () => logs.some(l => l.includes('is not reachable') && l.includes('retrying every 2 s')))
  const health = relay.health()
  assert.ok(!health.ok && health.reason.includes('no connection to the origin'), 'unhealthy while the origin is down')
  const healthz = await fetch(new URL('/healthz', relay.url))
  assert.equal(healthz.status, 503)
  assert.match(await healthz.text(), /no connection to the origin/)

  origin = await OriginFixture.start({ dataDir: originDir, room: ROOM, port })
  await origin.waitForSubscriber(relay.peerId)
  const first = await origin.publishSegment(0)
  await waitFor('seq 0 listed', async () => (await listedCids()).includes(first.cid))
  assert.ok(relay.health().ok)

  await origin.stop()
  origin = undefined
  await waitFor('the drop to be noticed', () => logs.some(l => l.includes('lost the connection to origin')))
  assert.equal(relay.health().ok, false)

  origin = await OriginFixture.start({ dataDir: originDir, room: ROOM, port })
  await origin.waitForSubscriber(relay.peerId)
  const second = await origin.publishSegment(1)
  await waitFor('seq 1 listed after the origin came back', async () => (await listedCids()).includes(second.cid))
  assert.ok(relay.node.libp2p.getConnections(origin.node.libp2p.peerId).length > 0)
})
