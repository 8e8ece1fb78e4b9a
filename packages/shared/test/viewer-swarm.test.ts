/**
 * The viewer swarm's relay side and wire format: real libp2p nodes on loopback ask a relay node for a
 * room's viewers and see each other (never themselves), a request for a room the relay does not carry
 * or a malformed one is dropped and counted, the relay runs a circuit-relay-v2 server, and the message
 * parsers refuse what is not the documented shape.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { lpStream } from '@libp2p/utils'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeSwarmMessage, parseHave, parseViewersAnswer, parseViewersRequest, rawCid, VIEWERS_PROTOCOL } from '../src/index.ts'
import { createP2PNode, loadOrCreateIdentity, serveViewerDirectory, VIEWER_ASK_INTERVAL_MS } from '../src/node.ts'
import type { P2PNode, ViewerDirectory } from '../src/node.ts'

async function ask (viewer: P2PNode, relay: string, message: Uint8Array): Promise<string[] | undefined> {
  const signal = AbortSignal.timeout(5_000)
  const stream = await viewer.libp2p.dialProtocol(multiaddr(relay), VIEWERS_PROTOCOL, { signal })
  const lp = lpStream(stream)
  await lp.write(message, { signal })
  try {
    return parseViewersAnswer((await lp.read({ signal })).subarray())
  } catch {
    return undefined
  }
}

describe('viewer swarm', () => {
  let dir: string
  let relay: P2PNode
  let directory: ViewerDirectory
  const viewers: P2PNode[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivecast-swarm-'))
    relay = await createP2PNode({ identity: await loadOrCreateIdentity(join(dir, 'relay')), dataDir: join(dir, 'relay'), listen: ['/ip4/127.0.0.1/tcp/0/ws'], viewers: true })
    directory = await serveViewerDirectory(relay, room => room === 'janson')
    for (const name of ['a', 'b']) {
      viewers.push(await createP2PNode({ identity: await loadOrCreateIdentity(join(dir, name)), dataDir: join(dir, name), listen: [] }))
    }
  })
  after(async () => {
    await Promise.all([relay, ...viewers].map(async node => { await node.stop() }))
    await rm(dir, { recursive: true, force: true })
  })

  it('lists the other viewers of the room, over the relay\'s WebSocket address', async () => {
    const address = relay.libp2p.getMultiaddrs().map(String).find(a => a.includes('/ws/'))
    assert.ok(address !== undefined, 'the relay listens on WebSockets')
    const [a, b] = viewers as [P2PNode, P2PNode]
    assert.deepEqual(await ask(a, address, encodeSwarmMessage({ room: 'janson' })), [])
    assert.deepEqual(await ask(b, address, encodeSwarmMessage({ room: 'janson' })), [a.libp2p.peerId.toString()])
    // Asked again sooner than the interval, a viewer would get no peers.
    await new Promise(resolve => setTimeout(resolve, VIEWER_ASK_INTERVAL_MS))
    assert.deepEqual(await ask(a, address, encodeSwarmMessage({ room: 'janson' })), [b.libp2p.peerId.toString()])
    assert.deepEqual(directory.viewers(), { janson: 2 })
    assert.equal(directory.rejected(), 0)
    // Viewers reserve a slot on this to be reachable for WebRTC signalling.
    assert.ok(relay.libp2p.getProtocols().includes(RELAY_V2_HOP_CODEC), 'the relay runs a circuit relay server')
  })

  it('drops requests for other rooms and malformed ones, and counts them', async () => {
    const address = relay.libp2p.getMultiaddrs().map(String).find(a => a.includes('/ws/'))!
    const before = directory.rejected()
    assert.equal(await ask(viewers[0]!, address, encodeSwarmMessage({ room: 'other-room' })), undefined)
    assert.equal(await ask(viewers[0]!, address, new TextEncoder().encode('{"room": 7')), undefined)
    assert.equal(directory.rejected(), before + 2)
  })

  it('parses only the documented message shapes', async () => {
    const cid = (await rawCid(new Uint8Array([1, 2, 3]))).toString()
    const json = (value: unknown): Uint8Array => encodeSwarmMessage(value)
    assert.deepEqual(parseViewersRequest(json({ room: 'janson' })), { room: 'janson' })
    assert.deepEqual(parseViewersRequest(json({ room: 'janson', received: { relays: 10, peers: 5 } })), { room: 'janson', received: { relays: 10, peers: 5 } })
    assert.deepEqual(parseViewersRequest(json({ room: 'janson', received: { relays: -1, peers: 1e300 } })), { room: 'janson' })
    assert.equal(parseViewersRequest(json({ room: 'Not A Slug' })), undefined)
    assert.equal(parseViewersRequest(new Uint8Array([0xff, 0xfe])), undefined)
    assert.deepEqual(parseHave(json({ have: [cid] })), [cid])
    assert.equal(parseHave(json({ have: ['not-a-cid'] })), undefined)
    assert.equal(parseHave(json({ have: Array(129).fill(cid) })), undefined)
    assert.equal(parseHave(json({ have: cid })), undefined)
    assert.equal(parseViewersAnswer(json({ peers: ['../../etc'] })), undefined)
    assert.equal(parseViewersAnswer(json({ peers: Array(33).fill(viewers[0]!.libp2p.peerId.toString()) })), undefined)
  })
})
