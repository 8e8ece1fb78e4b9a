/**
 * A malicious peer floods the room topic: thousands of messages of random bytes, of JSON that is not an
 * envelope, of announcements signed by the wrong key, and of the origin's key claimed with a forged
 * signature. The relay must reject and count them, keep following the real origin (its playlist keeps
 * advancing with verifiable segments) and a viewer in Chromium must keep playing.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { encodeEnvelope, rawCid, roomTopic, signAnnouncement, verifyRawBlock } from '@hivecast/shared'
import type { SegmentAnnouncement } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { eventually, waitForGossipPeer } from '@hivecast/devnet'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import { relayPlaylist } from './src/live-playlist.ts'
import { openWatchPage } from './src/watch-page.ts'

const FLOOD_MESSAGES = 4000
const FLOOD_SECONDS = 12

const devnet = await devnetForTest('flood-gossip', { relays: 1, renditions: '240p', site: true })
const relay = devnet.relays[0]!
const browser = await launchChromium()
after(async () => { await browser.close() })

interface RelayStatus { rooms: Record<string, { rejected: Record<string, number> }> }

async function rejectedByReason (): Promise<Record<string, number>> {
  const status = await (await fetch(`${relay.url}/status`)).json() as RelayStatus
  return status.rooms[devnet.room]?.rejected ?? {}
}

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

test('a junk flood on the room topic is rejected and counted; the relay keeps following and the viewer keeps playing', async () => {
  const dataDir = join(tmpdir(), `hivecast-flooder-${process.pid}`)
  const flooder = await loadOrCreateIdentity(dataDir)
  const node = await createP2PNode({ identity: flooder, dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], peers: [relay.multiaddr] })
  after(async () => {
    await node.stop()
    await rm(dataDir, { recursive: true, force: true })
  })
  const topic = roomTopic(devnet.room)
  node.libp2p.services.pubsub.subscribe(topic)
  await waitForGossipPeer(node, relay.multiaddr.split('/p2p/')[1]!, topic)

  const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room)
  const start = await eventually('playback to start', async () => { const t = await viewer.currentTime(); return t > 1 ? t : undefined }, 45_000)
  const listedBefore = (await relayPlaylist(relay.url, devnet.room, '240p')).at(-1)!.seq
  const rejectedBefore = sum(await rejectedByReason())

  const bytes = new TextEncoder().encode('not the origin\'s video')
  const cid = (await rawCid(bytes)).toString()
  const forged: SegmentAnnouncement = {
    kind: 'segment',
    room: devnet.room,
    rendition: { name: '240p', bandwidth: 500_000, width: 426, height: 240, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 },
    seq: 1_000_000,
    cid,
    size: bytes.length,
    duration: 1,
    pdt: Date.now(),
    discontinuity: false,
    end: false
  }
  const wrongKey = encodeEnvelope(await signAnnouncement(forged, flooder.privateKey, flooder.id))
  const claimedKey = encodeEnvelope(await signAnnouncement({ ...forged, seq: 1_000_001 }, flooder.privateKey, devnet.origin.key))
  // Gossipsub tells messages apart by sender and sequence number, so repeated bytes still arrive.
  const junk = (i: number): Uint8Array => {
    switch (i % 4) {
      case 0: return randomBytes(1 + (i % 3000))
      case 1: return new TextEncoder().encode(JSON.stringify({ v: 1, junk: i, payload: 'x'.repeat(i % 500) }))
      case 2: return wrongKey
      default: return claimedKey
    }
  }
  let published = 0
  const floodStart = Date.now()
  for (let i = 0; i < FLOOD_MESSAGES; i++) {
    // The relay may graylist the flooder and stop answering it; publishing then fails, which is fine.
    await node.libp2p.services.pubsub.publish(topic, junk(i)).then(() => { published++ }, () => {})
    // Spread over FLOOD_SECONDS so the viewer is watching while it lasts.
    const due = floodStart + (i + 1) * FLOOD_SECONDS * 1000 / FLOOD_MESSAGES
    if (due > Date.now()) await sleep(due - Date.now())
  }
  await sleep(2000)

  const rejected = await rejectedByReason()
  const newlyRejected = sum(rejected) - rejectedBefore
  const playedDuringFlood = await viewer.currentTime() - start
  const stalledMs = await viewer.stalledMs()
  const stats = await viewer.stats()
  await viewer.page.screenshot({ path: `${RESULTS_DIR}flood-gossip.png` })
  console.log(`published ${published} junk messages in ${((Date.now() - floodStart) / 1000).toFixed(1)} s; the relay rejected ${newlyRejected} (${JSON.stringify(rejected)}); the viewer played ${playedDuringFlood.toFixed(1)} s, stalled ${Math.round(stalledMs)} ms`)

  // Gossipsub may graylist the flooder after enough invalid messages and stop delivering (and so
  // counting) the rest; what reached the validator must be counted, with each kind of junk seen.
  assert.ok(newlyRejected >= 100, `only ${newlyRejected} rejections counted for ${published} junk messages`)
  for (const reason of ['wrong-key', 'bad-signature']) assert.ok((rejected[reason] ?? 0) > 0, `no ${reason} rejection counted: ${JSON.stringify(rejected)}`)

  const listed = await relayPlaylist(relay.url, devnet.room, '240p')
  assert.ok(listed.at(-1)!.seq >= listedBefore + FLOOD_SECONDS - 2, `the relay's playlist went from seq ${listedBefore} to ${listed.at(-1)!.seq} during a ${FLOOD_SECONDS} s flood`)
  assert.ok(!listed.some(segment => segment.cid === cid), 'the forged CID is listed')
  for (const segment of listed.slice(-3)) {
    const res = await fetch(`${relay.url}/ipfs/${segment.cid}?format=raw`)
    assert.equal(res.status, 200)
    assert.ok(await verifyRawBlock(segment.cid, new Uint8Array(await res.arrayBuffer())), `${segment.cid} does not match its CID`)
  }
  assert.equal((await fetch(`${relay.url}/healthz`)).status, 200)

  assert.ok(playedDuringFlood >= FLOOD_SECONDS - 2, `the viewer played ${playedDuringFlood.toFixed(1)} s during a ${FLOOD_SECONDS + 2} s flood`)
  assert.equal(stats.segmentsRejected, 0)
  assert.ok(stalledMs < 3000, `the viewer stalled ${Math.round(stalledMs)} ms`)
  assert.deepEqual(viewer.problems, [])
})
