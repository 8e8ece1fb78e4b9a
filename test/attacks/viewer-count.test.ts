/**
 * Attacks on viewer counts, against real relays (in-process) and a real libp2p attacker node on
 * 127.0.0.1:
 * - one client address sends window requests with 600 made-up viewer tokens: the relay counts at most
 *   --viewers-per-address of them, refuses (and counts) the rest, and a real viewer behind another
 *   address is still counted; malformed tokens are counted and ignored;
 * - count messages that are forged (signed by one key, naming another relay), unsigned, or signed by a
 *   key no relay of the room holds: dropped, counted, and the room's count does not move.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeEnvelope, newViewerToken, relayRoutes, relayUrl, signViewerCount, VIEWER_COUNT_TOPIC } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { startRelay } from '@hivecast/relay'
import { waitForGossipPeer } from '@hivecast/devnet'
import { OriginFixture, removeDir, tempDir, waitFor } from '../../packages/relay/test/origin-fixture.ts'
import type { ViewerCountMessage } from '@hivecast/shared'
import type { Relay, RelayOptions } from '@hivecast/relay'

const ROOM = 'counted'
const PER_ADDRESS = 5
const FLOOD = 600

const dir = await tempDir('attack-viewer-count')
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

/** A window request as a player behind `address` sends it (through the relay's trusted proxy). */
async function watch (target: Relay, token: string, address: string): Promise<number> {
  const response = await fetch(relayUrl(target.url, relayRoutes.window(ROOM, token)), { headers: { 'X-Forwarded-For': address } })
  await response.body?.cancel()
  return response.status
}

test(`${FLOOD} made-up tokens from one address count as at most ${PER_ADDRESS}`, async () => {
  // 127.0.0.1 is the trusted proxy, so X-Forwarded-For stands for many client addresses.
  const target = await relay('flooded', { viewersPerAddress: PER_ADDRESS, trustedProxies: ['127.0.0.1'] })
  const honest = newViewerToken()
  assert.equal(await watch(target, honest, '198.18.0.20'), 200)
  for (let i = 0; i < FLOOD; i += 50) {
    const statuses = await Promise.all(Array.from({ length: 50 }, async () => await watch(target, newViewerToken(), '198.18.0.66')))
    assert.ok(statuses.every(s => s === 200), 'the relay answers the flood (the token is only not counted)')
  }
  for (const bad of ['short', 'x'.repeat(200), 'not/base64url+chars!!!']) assert.equal(await watch(target, bad, '198.18.0.21'), 200)
  // The honest viewer keeps watching; so does the flooder with its first tokens.
  assert.equal(await watch(target, honest, '198.18.0.20'), 200)
  const status = target.status()
  assert.deepEqual(status.rooms[ROOM]?.viewers, { local: PER_ADDRESS + 1, network: PER_ADDRESS + 1 })
  assert.equal(status.viewerTokensRefused['over-address-cap'], FLOOD - PER_ADDRESS)
  assert.equal(status.viewerTokensRefused.malformed, 3)
  const metrics = await (await fetch(relayUrl(target.url, '/metrics'))).text()
  assert.match(metrics, new RegExp(`^hivecast_relay_viewer_tokens_refused_total\\{reason="over-address-cap"\\} ${FLOOD - PER_ADDRESS}$`, 'm'))
})

test('forged, unsigned and unknown relays\' counts are dropped and counted', async () => {
  const first = await relay('counter-a')
  const second = await relay('counter-b', { peers: [first.multiaddrs[0]!] })
  for (const r of [first, second]) await waitFor(`${r.url} to list both relays`, () => r.directory().length === 2, 30_000)
  const viewer = newViewerToken()
  assert.equal(await watch(first, viewer, '127.0.0.1'), 200)
  await waitFor('the honest count to reach the second relay', () => second.status().rooms[ROOM]?.viewers.network === 1 ? true : undefined, 20_000)

  const identity = await loadOrCreateIdentity(join(dir, 'attacker'))
  const node = await createP2PNode({ identity, dataDir: join(dir, 'attacker'), listen: ['/ip4/127.0.0.1/tcp/0'], allowPublishToZeroTopicPeers: true })
  stoppers.push(async () => { await node.stop() })
  node.libp2p.services.pubsub.subscribe(VIEWER_COUNT_TOPIC)
  await node.libp2p.dial(second.node.libp2p.getMultiaddrs()[0]!)
  await waitForGossipPeer(node, second.peerId, VIEWER_COUNT_TOPIC)

  const fake = (peerId: string): ViewerCountMessage => ({ kind: 'viewers', peerId, room: ROOM, timestamp: Date.now(), hashes: Array.from({ length: 100 }, (_, i) => i.toString(16).padStart(16, '0')) })
  const publish = async (bytes: Uint8Array): Promise<void> => { await node.libp2p.services.pubsub.publish(VIEWER_COUNT_TOPIC, bytes) }
  // Signed by the attacker's key, claiming to be the first relay.
  await publish(encodeEnvelope(await signViewerCount(fake(first.peerId), identity.privateKey, first.peerId)))
  // Not signed at all.
  await publish(new TextEncoder().encode(JSON.stringify({ v: 1, key: first.peerId, payload: JSON.stringify(fake(first.peerId)), sig: '' })))
  // Well signed, by a key that is no relay of the room in the directory.
  const stranger = await generateKeyPair('Ed25519')
  const strangerId = peerIdFromPrivateKey(stranger).toString()
  await publish(encodeEnvelope(await signViewerCount(fake(strangerId), stranger, strangerId)))

  const rejected = await waitFor('the relay to count the three refusals', () => {
    const r = second.status().viewerCountRejected
    return (r.invalid ?? 0) >= 2 && (r['unknown-relay'] ?? 0) >= 1 ? r : undefined
  }, 15_000)
  assert.equal(rejected.invalid, 2)
  assert.equal(rejected['unknown-relay'], 1)
  // A further interval: nothing of the 100 fake viewers is in the count.
  await new Promise(resolve => setTimeout(resolve, 6_000))
  assert.deepEqual(second.status().rooms[ROOM]?.viewers, { local: 0, network: 1 })
  const metrics = await (await fetch(relayUrl(second.url, '/metrics'))).text()
  assert.match(metrics, /^hivecast_relay_viewer_counts_rejected_total\{reason="invalid"\} 2$/m)
})
