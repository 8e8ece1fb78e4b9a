/**
 * Attack: a peer races a room message with a forged copy. Gossipsub drops a copy of a message it has
 * seen by its key (`gossipMessageKey`: publisher and sequence number) before it checks the copy's
 * signature, so a forged copy under the real message's key must never count as seen: the real message
 * that comes after it is delivered. The attacker is a plain libp2p node writing gossipsub frames it
 * built itself; the victim is a node as origins and relays run it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { createP2PNode, gossipMessageKey, loadOrCreateIdentity } from '@hivecast/shared/node'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import type { PrivateKey } from '@libp2p/interface'

const TOPIC = 'hivecast/test/gossip-copies'
const SIGN_PREFIX = new TextEncoder().encode('libp2p-pubsub:')

/** A message signed by `key` as gossipsub signs it (StrictSign); `data` may then be swapped for a forgery. */
async function signedMessage (key: PrivateKey, seqno: bigint, data: string): Promise<RPC.Message> {
  const seq = new Uint8Array(8)
  new DataView(seq.buffer).setBigUint64(0, seqno)
  const unsigned: RPC.Message = { from: peerIdFromPrivateKey(key).toMultihash().bytes, data: new TextEncoder().encode(data), seqno: seq, topic: TOPIC }
  const encoded = RPC.Message.encode(unsigned)
  const signed = new Uint8Array(SIGN_PREFIX.length + encoded.length)
  signed.set(SIGN_PREFIX)
  signed.set(encoded, SIGN_PREFIX.length)
  return { ...unsigned, signature: await key.sign(signed) }
}

const dir = await mkdtemp(join(tmpdir(), 'hivecast-gossip-copies-'))
const victim = await createP2PNode({ identity: await loadOrCreateIdentity(join(dir, 'victim')), dataDir: join(dir, 'victim'), listen: ['/ip4/127.0.0.1/tcp/0'] })
const attacker = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
after(async () => {
  await attacker.stop()
  await victim.stop()
  await rm(dir, { recursive: true, force: true })
})

test('a forged copy sent first does not hide the real message; copies of one message are delivered once, distinct messages each', async () => {
  const delivered: string[] = []
  victim.libp2p.services.pubsub.addEventListener('message', event => {
    if (event.detail.topic === TOPIC) delivered.push(new TextDecoder().decode(event.detail.data))
  })
  victim.libp2p.services.pubsub.subscribe(TOPIC)

  const publisher = await generateKeyPair('Ed25519')
  const real = await signedMessage(publisher, 1000n, 'the real announcement')
  const forged: RPC.Message = { ...real, data: new TextEncoder().encode('a forged announcement') }
  const next = await signedMessage(publisher, 1001n, 'the next announcement')
  assert.equal(gossipMessageKey(forged), gossipMessageKey(real), 'the forgery carries the real message\'s key')
  assert.notEqual(gossipMessageKey(next), gossipMessageKey(real))

  const stream = await attacker.dialProtocol(victim.libp2p.getMultiaddrs()[0]!, '/meshsub/1.1.0')
  const lp = lpStream(stream)
  const send = async (messages: RPC.Message[]): Promise<void> => {
    await lp.write(RPC.encode({ subscriptions: [{ subscribe: true, topic: TOPIC }], messages, control: undefined }))
  }
  await send([forged])
  await send([real])
  await send([real])
  await send([next])
  for (const deadline = Date.now() + 10_000; !delivered.includes('the next announcement') && Date.now() < deadline;) await sleep(20)
  assert.deepEqual(delivered, ['the real announcement', 'the next announcement'])
})
