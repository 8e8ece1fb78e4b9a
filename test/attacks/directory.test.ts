/**
 * Attacks on the relay directory (audit issue 11, findings 3 and 4), against real relays and real
 * libp2p attacker nodes on 127.0.0.1:
 * - peers with fresh keys sign records claiming `origin: true` for the room, to get fetch turns they
 *   never serve: the relay must still store every announced segment promptly;
 * - records name attacker-chosen addresses (a counting TCP listener, `/dns4/localhost`): a relay must
 *   not dial outside its dial scope;
 * - 1,500 records from fresh keys: `/directory.json` stays bounded and the relay's HTTP stays quick.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DIRECTORY_TOPIC, encodeEnvelope, signDirectoryRecord } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { startRelay } from '@hivecast/relay'
import { waitForGossipPeer } from '@hivecast/devnet'
import { OriginFixture, removeDir, tempDir, waitFor } from '../../packages/relay/test/origin-fixture.ts'
import type { DirectoryRecord } from '@hivecast/shared'
import type { Identity, P2PNode } from '@hivecast/shared/node'
import type { Relay, RelayOptions } from '@hivecast/relay'

const ROOM = 'attacked'
const ATTACKERS = 24
/** Every announced segment must be stored by the attacked relay within this long of its announcement. */
const STORE_BOUND_MS = 2_000
const SEGMENTS = 12
const BULK_RECORDS = 1_500
/** `/directory.json` after BULK_RECORDS records from fresh keys stays under this. */
const DIRECTORY_JSON_BOUND = 400 * 1024
/** `/status` answers within this while the bulk records arrive. */
const STATUS_BOUND_MS = 1_000

const dir = await tempDir('attack-directory')
const stoppers: Array<() => Promise<void>> = []
after(async () => {
  for (const stop of stoppers.reverse()) await stop().catch(() => {})
  await removeDir(dir)
})

const origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
stoppers.push(async () => { await origin.stop() })

async function relay (name: string, options: Partial<RelayOptions> = {}): Promise<Relay> {
  const started = await startRelay({ origins: [origin.address], rooms: [ROOM], dataDir: join(dir, name), http: { host: '127.0.0.1', port: 0 }, log: () => {}, ...options })
  stoppers.push(async () => { await started.stop() })
  return started
}

interface Attacker { node: P2PNode, identity: Identity }

async function attacker (name: string, target: Relay): Promise<Attacker> {
  const identity = await loadOrCreateIdentity(join(dir, name))
  const node = await createP2PNode({ identity, dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], allowPublishToZeroTopicPeers: true })
  stoppers.push(async () => { await node.stop() })
  node.libp2p.services.pubsub.subscribe(DIRECTORY_TOPIC)
  await node.libp2p.dial(target.node.libp2p.getMultiaddrs()[0]!)
  await waitForGossipPeer(node, target.peerId, DIRECTORY_TOPIC)
  return { node, identity }
}

function record (peerId: string, fields: Partial<DirectoryRecord> = {}): DirectoryRecord {
  return { kind: 'relay', peerId, url: `https://${peerId.slice(-12).toLowerCase()}.example/`, multiaddrs: [], rooms: [ROOM], load: { requestsPerSecond: 0, bytesPerSecond: 0 }, timestamp: Date.now(), leaving: false, ...fields }
}

async function publishOwnRecord ({ node, identity }: Attacker, fields: Partial<DirectoryRecord>): Promise<void> {
  const id = identity.id
  const envelope = await signDirectoryRecord(record(id, fields), identity.privateKey, id)
  await node.libp2p.services.pubsub.publish(DIRECTORY_TOPIC, encodeEnvelope(envelope))
}

test(`${ATTACKERS} peers claiming origin: true do not hold the relay back`, async () => {
  const attacked = await relay('attacked-relay')
  await origin.waitForSubscriber(attacked.peerId)
  const attackers = await Promise.all(Array.from({ length: ATTACKERS }, async (_, i) => await attacker(`claimant-${i}`, attacked)))
  const claim = async (): Promise<void> => { await Promise.all(attackers.map(async a => { await publishOwnRecord(a, { origin: true, multiaddrs: a.node.libp2p.getMultiaddrs().map(String) }) })) }
  await claim()
  await waitFor('the relay to list every claimant', () => attacked.directory().length >= ATTACKERS + 1, 30_000)

  const late: string[] = []
  for (let seq = 0; seq < SEGMENTS; seq++) {
    if (seq % 4 === 0) await claim()
    const published = await origin.publishSegment(seq)
    const announcedAt = Date.now()
    const storedAt = await waitFor(`segment ${seq} stored`, () => attacked.status().rooms[ROOM]?.renditions['720p']?.held === seq + 1 ? Date.now() : undefined, 30_000)
    if (storedAt - announcedAt > STORE_BOUND_MS) late.push(`seq ${seq} (${published.cid}) after ${storedAt - announcedAt} ms`)
  }
  assert.deepEqual(late, [], `every segment stored within ${STORE_BOUND_MS} ms of its announcement`)
  const rendition = attacked.status().rooms[ROOM]!.renditions['720p']!
  assert.equal(rendition.behind, 0)
  assert.equal(rendition.latestSeq, SEGMENTS - 1)
})

test('records naming attacker-chosen addresses make no dial outside the relay\'s scope', async () => {
  let connections = 0
  const listener = createServer(socket => { connections++; socket.destroy() })
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  stoppers.push(async () => { listener.close() })
  const port = (listener.address() as { port: number }).port

  // A public relay (modelled by its dial scope) must not dial loopback; no relay dials a DNS name.
  const publicRelay = await relay('public-relay', { dialScope: 'public' })
  const localRelay = await relay('local-relay')
  for (const [target, addresses] of [[publicRelay, ['/ip4/127.0.0.1/tcp/PORT', '/dns4/localhost/tcp/PORT']], [localRelay, ['/dns4/localhost/tcp/PORT']]] as const) {
    const { node } = await attacker(`dialer-${target.peerId.slice(-6)}`, target)
    const keys = await Promise.all(Array.from({ length: 5 }, async () => await generateKeyPair('Ed25519')))
    for (const key of keys) {
      const id = peerIdFromPrivateKey(key).toString()
      const envelope = await signDirectoryRecord(record(id, { multiaddrs: addresses.map(a => `${a.replace('PORT', String(port))}/p2p/${id}`) }), key, id)
      await node.libp2p.services.pubsub.publish(DIRECTORY_TOPIC, encodeEnvelope(envelope))
    }
    await waitFor('the relay to list the records', () => target.directory().length >= 6, 30_000)
  }
  // Dials start as a record arrives; give them time to reach the listener.
  await new Promise(resolve => setTimeout(resolve, 3_000))
  assert.equal(connections, 0, 'no connection reached the attacker-chosen listener')
})

test(`${BULK_RECORDS} records from fresh keys keep /directory.json small and HTTP quick`, async () => {
  const target = await relay('bulk-relay')
  const { node } = await attacker('bulk', target)
  const slowest: number[] = []
  for (let i = 0; i < BULK_RECORDS; i++) {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    const multiaddrs = Array.from({ length: 8 }, (_, n) => `/ip4/203.0.113.${n}/tcp/${4000 + n}/p2p/${id}`)
    const envelope = await signDirectoryRecord(record(id, { multiaddrs }), key, id)
    await node.libp2p.services.pubsub.publish(DIRECTORY_TOPIC, encodeEnvelope(envelope))
    if (i % 100 === 99) {
      const started = Date.now()
      const res = await fetch(new URL('/status', target.url), { signal: AbortSignal.timeout(10_000) })
      assert.equal(res.status, 200)
      await res.arrayBuffer()
      slowest.push(Date.now() - started)
    }
  }
  await waitFor('the relay to take or refuse every record', () => {
    const rejected = target.status().directoryRejected
    return target.directory().length - 1 + (rejected.full ?? 0) + (rejected['rate-limited'] ?? 0) >= BULK_RECORDS * 0.9
  }, 60_000)
  const res = await fetch(new URL('/directory.json', target.url))
  const body = await res.text()
  assert.ok(body.length < DIRECTORY_JSON_BOUND, `/directory.json is ${body.length} bytes, bound ${DIRECTORY_JSON_BOUND}`)
  assert.ok(Math.max(...slowest) < STATUS_BOUND_MS, `/status took up to ${Math.max(...slowest)} ms`)
  assert.ok((target.status().directoryRejected.full ?? 0) > 0, 'refused records are counted')
})
