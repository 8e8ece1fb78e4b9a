/**
 * What the segment push and the block fetcher need from the network, as one seam: libp2p and helia in
 * the relay (`libp2pPushNetwork`), a modelled network with per-link delay and bandwidth in the
 * many-relay simulation (bench/src/push-simulation), which runs this same relay code.
 */
import { getBlock, libp2pPushTransport } from '@hivecast/shared/node'
import type { P2PNode, PushTransport } from '@hivecast/shared/node'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

export interface PushNetwork {
  /** This relay's peer id. */
  self: string
  transport: PushTransport
  /** The relay's block store. */
  blocks: {
    has: (cid: CID) => boolean | Promise<boolean>
    put: (cid: CID, bytes: Uint8Array) => unknown
  }
  /** Whether this relay holds a connection to `peer`: a relay it cannot reach is treated as down. */
  connected: (peer: string) => boolean
  /** A block over bitswap, verified and stored: from `providers` only, or from anyone connected. */
  getBlock: (cid: CID, options: { signal: AbortSignal, providers?: Multiaddr[] }) => Promise<Uint8Array>
}

export function libp2pPushNetwork (node: P2PNode): PushNetwork {
  return {
    self: node.libp2p.peerId.toString(),
    transport: libp2pPushTransport(node),
    blocks: node.blockstore,
    connected: peer => node.libp2p.getConnections().some(c => c.remotePeer.toString() === peer),
    getBlock: async (cid, options) => await getBlock(node, cid, options)
  }
}

/** The seam for `node`, or `network` itself. */
export function pushNetwork (network: P2PNode | PushNetwork): PushNetwork {
  return 'libp2p' in network ? libp2pPushNetwork(network) : network
}
