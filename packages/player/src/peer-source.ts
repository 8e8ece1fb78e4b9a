/**
 * Loads the viewer swarm on demand (a dynamic import: its own chunk), so a player with `p2p: 'off'`,
 * or one still starting, downloads none of it.
 */
import type { PeerSource, PeerSourceOptions } from './peer-source-contract.ts'

/** Loads the swarm chunk and starts it; rejects when no relay offers a way in for browsers. */
export async function loadPeerSource (options: PeerSourceOptions): Promise<PeerSource> {
  const { startPeerSwarm } = await import('./peer-swarm.ts')
  return await startPeerSwarm(options)
}
