/**
 * The push stream between two real libp2p nodes: offers to one peer go on one kept stream (no new
 * stream, so no protocol negotiation, per offer), each block arrives whole and is checked, a receiver
 * that fails a block ends that stream and the next offer opens another, and a peer that speaks only
 * 1.0.0 (one offer per stream, no word after the block) is still offered blocks and takes them.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { rawCid, verifyRawBlock } from '@hivecast/shared'
import { createP2PNode, libp2pPushTransport, loadOrCreateIdentity } from '@hivecast/shared/node'
import { lpStream } from '@libp2p/utils'
import type { P2PNode, PushReceiver } from '@hivecast/shared/node'
import type { CID } from 'multiformats/cid'

const dir = await mkdtemp(join(tmpdir(), 'hivecast-push-streams-'))
const node = async (name: string): Promise<P2PNode> => await createP2PNode({ identity: await loadOrCreateIdentity(join(dir, name)), dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'] })
const sender = await node('sender')
const receiver = await node('receiver')
const oldReceiver = await node('old-receiver')
after(async () => {
  for (const n of [sender, receiver, oldReceiver]) await n.stop()
  await rm(dir, { recursive: true, force: true })
})

// Streams the sender opens, counted on the real node.
let dials = 0
const dialProtocol = sender.libp2p.dialProtocol.bind(sender.libp2p)
sender.libp2p.dialProtocol = async (...args: Parameters<typeof dialProtocol>) => {
  dials++
  return await dialProtocol(...args)
}

async function block (): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(200_000))
  return { cid: await rawCid(bytes), bytes }
}

const transport = libp2pPushTransport(sender)
/** What the receiver took, in order; `failNext` makes it fail the next block as a mismatch would. */
const taken: string[] = []
let failNext = false
await libp2pPushTransport(receiver).serve(async offer => ({
  take: async (bytes: Uint8Array): Promise<void> => {
    if (failNext || !(await verifyRawBlock(offer.cid, bytes))) {
      failNext = false
      throw new Error('not the block')
    }
    taken.push(offer.cid.toString())
  },
  abandon: () => {}
}) satisfies PushReceiver, () => false)

/**
 * Waits until the receiver took `count` blocks, and then for its word back to reach the sender (it comes
 * after the sender's push ended, and frees the stream): an offer made before that opens another stream.
 */
async function untilTaken (count: number): Promise<void> {
  for (let i = 0; i < 100 && taken.length < count; i++) await new Promise(resolve => setTimeout(resolve, 20))
  assert.equal(taken.length, count, `the receiver took ${taken.length} of ${count} blocks`)
  await new Promise(resolve => setTimeout(resolve, 500))
}

test('offers to one peer go on one kept stream; a failed block ends it and the next offer opens another', async () => {
  const peer = receiver.libp2p.peerId.toString()
  await sender.libp2p.dial(receiver.libp2p.getMultiaddrs()[0]!)
  const blocks = [await block(), await block(), await block(), await block()]
  for (const [i, { cid, bytes }] of blocks.slice(0, 3).entries()) {
    assert.equal(await transport.push(peer, cid, bytes, { signal: AbortSignal.timeout(5_000) }), 'taken')
    await untilTaken(i + 1)
  }
  assert.deepEqual(taken, blocks.slice(0, 3).map(b => b.cid.toString()))
  assert.equal(dials, 1, 'three offers, one after another, went on one stream')

  // The receiver fails the next block: the stream ends (the push itself ended when the block was
  // written, before the receiver's word), and the offer after it goes on a new stream.
  failNext = true
  await transport.push(peer, blocks[3]!.cid, blocks[3]!.bytes, { signal: AbortSignal.timeout(5_000) })
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(await transport.push(peer, blocks[3]!.cid, blocks[3]!.bytes, { signal: AbortSignal.timeout(5_000) }), 'taken')
  await untilTaken(4)
  assert.equal(dials, 2, 'the stream the failed block ended was not used again')
})

test('a peer that speaks only 1.0.0 is offered blocks one stream each, and takes them', async () => {
  // A receiver of before 1.1.0: one offer, "send it", the block, then it closes the stream.
  const got: Uint8Array[] = []
  await oldReceiver.libp2p.handle('/hivecast/segment-push/1.0.0', async stream => {
    const lp = lpStream(stream, { maxDataLength: 256 })
    const offer = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { size: number }
    await lp.write(Uint8Array.of(1))
    got.push((await lpStream(lp.unwrap(), { maxDataLength: offer.size }).read()).subarray())
    await stream.close()
  })
  const peer = oldReceiver.libp2p.peerId.toString()
  await sender.libp2p.dial(oldReceiver.libp2p.getMultiaddrs()[0]!)
  const blocks = [await block(), await block()]
  const dialsBefore = dials
  for (const { cid, bytes } of blocks) assert.equal(await transport.push(peer, cid, bytes, { signal: AbortSignal.timeout(5_000) }), 'taken')
  for (let i = 0; i < 100 && got.length < 2; i++) await new Promise(resolve => setTimeout(resolve, 20))
  assert.deepEqual(got.map((bytes, i) => Buffer.from(bytes).equals(blocks[i]!.bytes)), [true, true], 'both blocks arrived whole')
  assert.equal(dials - dialsBefore, 2, 'one stream per offer')
})
