import assert from 'node:assert/strict'
import { join } from 'node:path'
import { afterEach, test } from 'node:test'
import { startRelay } from '../src/index.ts'
import { CountingProxy } from '@hivecast/devnet'
import { waitForGossipPeer } from '@hivecast/devnet'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { PublishedSegment } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const ROOM = 'mesh'
const SEGMENTS = 10
const SEGMENT_BYTES = 256 * 1024
let dir: string | undefined
let origin: OriginFixture | undefined
let proxy: CountingProxy | undefined
let relays: Relay[] = []

afterEach(async () => {
  await Promise.all(relays.map(async r => { await r.stop() }))
  relays = []
  await proxy?.stop()
  await origin?.stop()
  await removeDir(dir)
})

/**
 * Starts an origin behind a counting proxy and four relays of which the first `onOrigin` dial the
 * origin (the rest only know the first relay), publishes a stream, waits until every relay holds and
 * serves every segment, and returns how many bytes the origin sent per byte of stream.
 */
async function originUploadRatio (onOrigin: number): Promise<number> {
  dir = await tempDir('mesh')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  proxy = await CountingProxy.start(Number(/\/tcp\/(\d+)/.exec(origin.address)![1]))
  const originId = origin.identity.id
  const viaProxy = `/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${originId}`
  const common = { rooms: [ROOM], http: { host: '127.0.0.1', port: 0 }, log: () => {} }
  const first = await startRelay({ ...common, origins: [viaProxy], dataDir: join(dir, 'relay-1') })
  relays.push(first)
  for (let i = 2; i <= 4; i++) {
    const origins = i <= onOrigin ? [viaProxy] : []
    relays.push(await startRelay({ ...common, origins, peers: [first.multiaddrs[0]!], roomKeys: [originId], dataDir: join(dir, `relay-${i}`) }))
  }
  for (const relay of relays.slice(0, onOrigin)) await origin.waitForSubscriber(relay.peerId)
  // Those that only know the first relay find the others through the directory and connect. The
  // relays take turns at the origin by the directory's "origin" flags: measure once every relay
  // sees the same ones (a first record may go out before its origin link is up).
  await waitFor('every relay to list all four in its directory, each origin link, and to be connected to the other three', () =>
    relays.every(r => r.directory().length === 4 && r.directory().filter(e => e.record.origin === true).length === onOrigin &&
      relays.every(o => o === r || r.node.libp2p.getConnections(o.node.libp2p.peerId).length > 0)))
  for (const relay of relays.slice(1)) {
    await waitForGossipPeer(first.node, relay.peerId, origin!.topic)
  }
  const before = proxy.downstreamBytes
  const published: PublishedSegment[] = []
  for (let seq = 0; seq < SEGMENTS; seq++) {
    published.push(await origin.publishSegment(seq, SEGMENT_BYTES))
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  for (const relay of relays) {
    await waitFor(`${relay.url} to hold all ${SEGMENTS} segments`, () => relay.status().rooms[ROOM]!.renditions['720p']?.held === SEGMENTS, 30_000)
    for (const segment of published) {
      const res = await fetch(new URL(`/ipfs/${segment.cid}`, relay.url))
      assert.equal(res.status, 200)
      assert.equal((await res.arrayBuffer()).byteLength, SEGMENT_BYTES)
    }
  }
  assert.equal(origin.node.libp2p.getConnections().length, proxy.connections, 'every connection to the origin goes through the counting proxy')
  const ratio = (proxy.downstreamBytes - before) / (SEGMENTS * SEGMENT_BYTES)
  process.stdout.write(`# ${onOrigin} of 4 relays on the origin: it sent ${ratio.toFixed(2)}x the stream's bytes\n`)
  return ratio
}

/** The value of one series in a relay's /metrics. */
async function metric (relay: Relay, series: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', relay.url))).text()
  const line = text.split('\n').find(l => l.startsWith(`${series} `))
  assert.ok(line !== undefined, `${series} in /metrics of ${relay.url}`)
  return Number(line.split(' ')[1])
}

test('with the origin given to one relay and --peer to three more, the origin sends each segment about once while all four hold every segment', async () => {
  const ratio = await originUploadRatio(1)
  assert.ok(ratio < 2, `origin sent ${ratio.toFixed(2)}x the stream`)

  // /metrics tells the same story from the relays' side: libp2p bytes and bitswap blocks.
  const stream = SEGMENTS * SEGMENT_BYTES
  const [first, ...behind] = relays
  const firstIn = await metric(first!, 'hivecast_relay_p2p_bytes_total{direction="in"}')
  assert.ok(firstIn >= 0.95 * proxy!.downstreamBytes, `the first relay counted ${firstIn} bytes in; the origin sent it ${proxy!.downstreamBytes}`)
  let sent = 0
  let bytesOut = 0
  for (const relay of relays) {
    assert.ok(await metric(relay, 'hivecast_relay_bitswap_blocks_total{direction="received"}') >= SEGMENTS, `${relay.url} received every segment by bitswap`)
    sent += await metric(relay, 'hivecast_relay_bitswap_blocks_total{direction="sent"}')
    bytesOut += await metric(relay, 'hivecast_relay_p2p_bytes_total{direction="out"}')
  }
  assert.ok(sent >= behind.length * SEGMENTS, `relays sent ${sent} blocks; the three behind the first needed ${behind.length * SEGMENTS}`)
  assert.ok(bytesOut >= behind.length * stream, `relays sent ${bytesOut} libp2p bytes; the three behind the first needed ${behind.length * stream}`)
  process.stdout.write(`# relays: ${sent} bitswap blocks and ${(bytesOut / 1e6).toFixed(1)} MB sent over libp2p for a ${(stream / 1e6).toFixed(1)} MB stream\n`)
})

test('with all four relays on the origin, relays ask each other first and the origin still sends each segment less than twice', async () => {
  const ratio = await originUploadRatio(4)
  assert.ok(ratio < 2, `origin sent ${ratio.toFixed(2)}x the stream`)
})
