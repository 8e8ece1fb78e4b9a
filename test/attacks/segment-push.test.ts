/**
 * Attack on the segment push: a peer connected to the relays offers garbage under every announced
 * CID the moment it is announced, ahead of the honest push. Relays must check each pushed block
 * against its CID before storing or passing on a byte, refuse the sender from then on (counted), and
 * still hold the right bytes of every segment.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { relayRoutes, relayUrl, verifyRawBlock } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity, pushBlock, pushOrder } from '@hivecast/shared/node'
import { startRelay } from '@hivecast/relay'
import { CID } from 'multiformats/cid'
import { OriginFixture, removeDir, tempDir, waitFor } from '../../packages/relay/test/origin-fixture.ts'
import type { Relay } from '@hivecast/relay'

const ROOM = 'pushed'
const SEGMENTS = 6
const SIZE = 50_000

const dir = await tempDir('attack-segment-push')
const stoppers: Array<() => Promise<void>> = []
after(async () => {
  for (const stop of stoppers.reverse()) await stop().catch(() => {})
  await removeDir(dir)
})

const origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
stoppers.push(async () => { await origin.stop() })
const relays: Relay[] = []
for (const name of ['a', 'b']) {
  const relay = await startRelay({ origins: [origin.address], rooms: [ROOM], dataDir: join(dir, name), http: { host: '127.0.0.1', port: 0 }, log: () => {} })
  stoppers.push(async () => { await relay.stop() })
  relays.push(relay)
  await origin.waitForSubscriber(relay.peerId)
}
const attackerIdentity = await loadOrCreateIdentity(join(dir, 'attacker'))
const attacker = await createP2PNode({ identity: attackerIdentity, dataDir: join(dir, 'attacker'), listen: ['/ip4/127.0.0.1/tcp/0'] })
stoppers.push(async () => { await attacker.stop() })
for (const relay of relays) await attacker.libp2p.dial(relay.node.libp2p.getMultiaddrs()[0]!)

test('garbage pushed ahead of every segment is refused, its sender shut out, and the relays hold the right bytes', async () => {
  const taken: boolean[] = []
  for (let seq = 1; seq <= SEGMENTS; seq++) {
    const segment = await origin.publishSegment(seq, SIZE)
    const cid = CID.parse(segment.cid)
    // The attacker's offer: the announced CID and size, other bytes.
    for (const relay of relays) {
      taken.push(await pushBlock(attacker, relay.node.libp2p.peerId, cid, new Uint8Array(randomBytes(SIZE)), { signal: AbortSignal.timeout(5000) }).then(outcome => outcome !== 'declined', () => false))
    }
    // The honest push, as the origin makes it: to the first relay of the CID's order.
    const first = pushOrder(segment.cid, relays.map(r => r.peerId))[0]!
    await pushBlock(origin.node, peerIdFromString(first), cid, segment.bytes, { signal: AbortSignal.timeout(5000) }).catch(() => false)
    await new Promise(resolve => setTimeout(resolve, 500))
  }

  for (const relay of relays) {
    await waitFor(`relay ${relay.peerId} to hold all ${SEGMENTS} segments`, async () => {
      const status = relay.status()
      return Object.values(status.rooms[ROOM]!.renditions).every(r => r.held >= SEGMENTS) ? true : undefined
    }, 30_000)
    const { push } = relay.status()
    assert.ok(push.rejected >= 1, `relay ${relay.peerId} rejected ${push.rejected} pushed blocks`)
    const window = await (await fetch(relayUrl(relay.url, relayRoutes.window(ROOM)))).json() as { renditions: Record<string, Array<{ envelope: { payload: string } }>> }
    for (const entries of Object.values(window.renditions)) {
      for (const entry of entries) {
        const { cid } = JSON.parse(entry.envelope.payload) as { cid: string }
        const bytes = new Uint8Array(await (await fetch(relayUrl(relay.url, relayRoutes.block(cid)))).arrayBuffer())
        assert.ok(await verifyRawBlock(cid, bytes), `relay ${relay.peerId} serves the announced bytes of ${cid}`)
      }
    }
  }
  // Each relay took the attacker's first offer (it could not know), found the bytes wrong and refused
  // every later one.
  assert.ok(taken.slice(0, 2).some(t => t), 'a first garbage offer was taken, to be checked')
  assert.deepEqual(taken.slice(relays.length * 2), new Array(taken.length - relays.length * 2).fill(false), 'later offers from the refused sender are declined')
})
