import { eventually } from './eventually.ts'
import type { P2PNode } from '@hivecast/shared/node'

/**
 * Waits until `node` sees `peerId` subscribed to `topic` and holds an outbound gossipsub stream to it.
 * Seeing the subscription is not enough: it arrives on the peer's stream, and until ours is open
 * gossipsub drops what we publish to that peer without an error (`sendRpc` returns false).
 */
export async function waitForGossipPeer (node: P2PNode, peerId: string, topic: string, timeoutMs = 15_000): Promise<void> {
  const pubsub = node.libp2p.services.pubsub
  // The GossipSub class has this map; its public interface does not declare it.
  const outbound = (pubsub as unknown as { streamsOutbound?: ReadonlyMap<string, unknown> }).streamsOutbound
  if (outbound === undefined) throw new Error('@libp2p/gossipsub no longer has streamsOutbound: update waitForGossipPeer')
  await eventually(`${peerId} to subscribe to ${topic} with a gossipsub stream open to it`, () =>
    pubsub.getSubscribers(topic).some(p => p.toString() === peerId) && outbound.has(peerId) ? true : undefined, timeoutMs, 50)
}
