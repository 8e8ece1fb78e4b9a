/**
 * The Helia + libp2p node that origins and relays run: TCP (plus WebSockets when asked) on the given
 * addresses, Noise, Yamux, identify, gossipsub and bitswap, blocks on disk. Built with the light
 * constructors so nothing dials out by default: no public bootstrap list, no mDNS, no UPnP, no DHT.
 * A relay that serves browser viewers (`viewers: true`) also runs a circuit-relay-v2 server, the
 * signalling path for WebRTC between viewers, and accepts many connections from one IP.
 */
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight } from 'helia'
import type { Identity } from './identity.ts'
import type { Metrics } from '@libp2p/interface'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { GossipSub } from '@libp2p/gossipsub'
import type { RPC } from '@libp2p/gossipsub/message'
import type { Identify } from '@libp2p/identify'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

export interface P2PNodeOptions {
  identity: Identity
  dataDir: string
  /** Listen multiaddrs, e.g. `/ip4/127.0.0.1/tcp/9090` or `/ip4/127.0.0.1/tcp/9091/ws`. */
  listen: string[]
  /** Addresses to advertise instead of the listen ones (a NAT's or container host's public address). */
  announce?: string[] | undefined
  /** Multiaddrs (with /p2p/<id>) to dial at start and keep connected. */
  peers?: string[]
  /** Let gossipsub publish with nobody subscribed yet (the origin before its first relay). */
  allowPublishToZeroTopicPeers?: boolean
  /**
   * Serve browser viewers: a circuit-relay-v2 server for their WebRTC signalling, and connection limits
   * for many viewers behind one IP (a venue's NAT). Relays set it; origins do not.
   */
  viewers?: boolean
  /** Counts what the node moves: libp2p connection bytes and bitswap blocks (the relay's /metrics). */
  metrics?: Metrics
  /**
   * Certificate and key for `/tls/ws` listen addresses: a page served over https may open only secure
   * WebSockets. Read once at start (a renewed certificate reaches the WebSocket at the next start).
   */
  tls?: { cert: Buffer, key: Buffer }
}

export interface P2PServices extends Record<string, unknown> {
  pubsub: GossipSub
  identify: Identify
  /** Present on nodes started with `viewers: true`. */
  circuitRelay?: CircuitRelayService
}

export type P2PNode = HeliaWithLibp2p<P2PServices>

/** Each node's block store on disk, for deletes that must not go through helia (see deleteBlock). */
const diskBlockstores = new WeakMap<P2PNode, FsBlockstore>()

/**
 * Circuit relay limits for viewers: a relayed connection only carries the WebRTC offer, answer and ICE
 * candidates (a few KiB), then the viewers talk directly, so each is small and short-lived.
 */
const VIEWER_RELAY = {
  hopTimeout: 10_000,
  maxInboundHopStreams: 256,
  maxOutboundStopStreams: 256,
  reservations: {
    maxReservations: 4096,
    reservationTtl: 30 * 60_000,
    reservationClearInterval: 60_000,
    applyDefaultLimit: true,
    defaultDurationLimit: 60_000,
    defaultDataLimit: BigInt(64 * 1024)
  }
}
/** Many viewers share an IP: more connections, opened faster, than libp2p's defaults (300, 5 per s per host). */
const VIEWER_CONNECTIONS = { maxConnections: 2000, inboundConnectionThreshold: 200, maxIncomingPendingConnections: 200 }

export async function createP2PNode (options: P2PNodeOptions): Promise<P2PNode> {
  const blockstore = new FsBlockstore(join(options.dataDir, 'blocks'))
  const helia = createHeliaLight({
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    blockstore,
    datastore: new FsDatastore(join(options.dataDir, 'datastore'))
  })
  const node = withBitswap(withLibp2pLight(helia, {
    privateKey: options.identity.privateKey,
    addresses: { listen: options.listen, ...(options.announce === undefined || options.announce.length === 0 ? {} : { announce: options.announce }) },
    transports: [tcp(), webSockets(options.tls === undefined ? {} : { https: { cert: options.tls.cert, key: options.tls.key } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(options.viewers === true ? { connectionManager: VIEWER_CONNECTIONS } : {}),
    ...(options.metrics === undefined ? {} : { metrics: () => options.metrics! }),
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: options.allowPublishToZeroTopicPeers ?? false,
        // Viewers and relays often share one IP (NAT, loopback in tests); the default colocation
        // penalty would starve them (see ARCHITECTURE.md).
        scoreParams: { IPColocationFactorWeight: 0 },
        // A wider mesh than the default 6 (4-12): a room's announcements reach every relay in one or
        // two hops even when hundreds of peers are connected to each.
        D: 8,
        Dlo: 6,
        Dhi: 16,
        fastMsgIdFn: gossipMessageKey
      }),
      ...(options.viewers === true ? { circuitRelay: circuitRelayServer(VIEWER_RELAY) } : {})
    }
  }))
  diskBlockstores.set(node, blockstore)
  await node.start()
  for (const peer of options.peers ?? []) {
    await node.libp2p.dial(multiaddr(peer)).catch((err: Error) => {
      throw new Error(`cannot reach peer ${peer}: ${err.message}. Check the address and that the peer is running.`)
    })
  }
  return node
}

/**
 * What gossipsub tells copies of one message apart by before it checks their signatures: without it,
 * it checks the signature of every copy, and a relay hears each announcement from up to D peers
 * (gossipsub's signature checks were ~8 % of a following relay's busy CPU, most of them on copies).
 * The publisher and its sequence number are what gossipsub's own message id is made of under
 * StrictSign, so no two messages it keeps apart share a key. A key is remembered only for a copy
 * whose signature checked out: a forged copy that came first does not hide the real one.
 */
export function gossipMessageKey (message: RPC.Message): string {
  // Without these the message fails StrictSign anyway; '' is never remembered.
  if (message.from === undefined || message.seqno === undefined) return ''
  return `${Buffer.from(message.from).toString('base64')}/${Buffer.from(message.seqno).toString('base64')}`
}

/**
 * Reads a whole block, from the local store or (when missing) over bitswap from connected peers.
 * Helia 7 yields a block as chunks, and a read with no provider waits forever: `signal` is required.
 * `offline: true` reads only the local store (throws when the block is missing), so a gateway serving
 * what it holds can never be made to fetch for a stranger. `providers` (connected peers' multiaddrs
 * with /p2p/) asks only those peers, in a bitswap session, and fails fast when none has the block.
 */
export async function getBlock (node: P2PNode, cid: CID, options: { signal: AbortSignal, offline?: boolean, providers?: Multiaddr[] }): Promise<Uint8Array> {
  const { providers, ...getOptions } = options
  const session = providers === undefined ? undefined : node.blockstore.createSession(cid, { providers, signal: options.signal })
  const chunks: Uint8Array[] = []
  try {
    for await (const chunk of (session ?? node.blockstore).get(cid, getOptions)) chunks.push(chunk)
  } finally {
    session?.close()
  }
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/**
 * Deletes a block from the node's disk store (a no-op when it is absent). Helia's `blockstore.delete`
 * first cancels re-providing through libp2p's content routers; the light node has none, so that throws
 * `No content routers available` and deletes nothing.
 */
export async function deleteBlock (node: P2PNode, cid: CID): Promise<void> {
  const store = diskBlockstores.get(node)
  if (store === undefined) throw new Error('deleteBlock needs a node made by createP2PNode')
  await store.delete(cid)
}
