/**
 * The relay's side of `/hivecast/viewers/1.0.0` (see viewer-swarm.ts): viewers of a room ask a relay
 * they are connected to which other viewers of that room it knows, then open WebRTC connections to them
 * through the relay's circuit relay. A viewer is listed while it keeps asking and stays connected.
 */
import { lpStream } from '@libp2p/utils'
import { encodeSwarmMessage, MAX_SWARM_MESSAGE, MAX_VIEWER_PEERS, parseViewersRequest, VIEWERS_PROTOCOL } from './viewer-swarm.ts'
import type { ViewerReceived } from './viewer-swarm.ts'
import type { P2PNode } from './p2p-node.ts'

interface Listed {
  at: number
  received: ViewerReceived | undefined
}

/** Up to `count` of `items`, picked uniformly at random (a partial Fisher-Yates shuffle). */
function sample<T> (items: T[], count: number): T[] {
  const n = Math.min(count, items.length)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i))
    const picked = items[j]!
    items[j] = items[i]!
    items[i] = picked
  }
  return items.slice(0, n)
}

/** A viewer that has not asked for this long is no longer listed (viewers ask every few seconds). */
const LISTED_MS = 30_000
const TIMEOUT_MS = 5_000
/**
 * Peers one answer names: a random sample, so the list of who watches is never handed out whole, and
 * enough for a viewer to find a few neighbours (it asks again every few seconds and keeps whom it met).
 */
export const VIEWER_SAMPLE = 8
/** An asker answered sooner than this after its last answer gets no peers: a scraper gains nothing by asking fast. */
export const VIEWER_ASK_INTERVAL_MS = 2_000

export interface ViewerDirectory {
  /** Viewers listed per room right now. */
  viewers: () => Record<string, number>
  /**
   * Per room, the bytes the listed viewers say they received from relays and from each other (their
   * own word: a statistic for the status page, never used for a decision).
   */
  received: () => Record<string, ViewerReceived>
  /** Requests dropped: not a viewers request, or a room this relay does not carry. */
  rejected: () => number
}

/** Answers viewers requests for the rooms `carries` accepts. */
export async function serveViewerDirectory (node: P2PNode, carries: (room: string) => boolean): Promise<ViewerDirectory> {
  // room -> peer id -> when it last asked, and what it said it received
  const rooms = new Map<string, Map<string, Listed>>()
  let rejected = 0
  const listed = (room: string, now: number): Map<string, Listed> => {
    const seen = rooms.get(room) ?? new Map<string, Listed>()
    rooms.set(room, seen)
    const connected = new Set(node.libp2p.getPeers().map(String))
    for (const [peer, { at }] of seen) if (now - at > LISTED_MS || !connected.has(peer)) seen.delete(peer)
    return seen
  }
  await node.libp2p.handle(VIEWERS_PROTOCOL, async (stream, connection) => {
    const signal = AbortSignal.timeout(TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_SWARM_MESSAGE })
    try {
      const request = parseViewersRequest((await lp.read({ signal })).subarray())
      if (request === undefined || !carries(request.room)) {
        rejected++
        throw new Error('not a viewers request for a room this relay carries')
      }
      const asker = connection.remotePeer.toString()
      const now = Date.now()
      const seen = listed(request.room, now)
      const last = seen.get(asker)?.at
      const tooSoon = last !== undefined && now - last < VIEWER_ASK_INTERVAL_MS
      const peers = tooSoon ? [] : sample([...seen.keys()].filter(peer => peer !== asker), Math.min(VIEWER_SAMPLE, MAX_VIEWER_PEERS))
      // Re-inserted so the map's order stays oldest-asked first.
      seen.delete(asker)
      seen.set(asker, { at: now, received: request.received })
      await lp.write(encodeSwarmMessage({ peers }), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  })
  return {
    viewers: () => {
      const now = Date.now()
      return Object.fromEntries([...rooms.keys()].map(room => [room, listed(room, now).size]))
    },
    received: () => {
      const now = Date.now()
      return Object.fromEntries([...rooms.keys()].map(room => {
        const sum: ViewerReceived = { relays: 0, peers: 0 }
        for (const { received } of listed(room, now).values()) {
          sum.relays += received?.relays ?? 0
          sum.peers += received?.peers ?? 0
        }
        return [room, sum]
      }))
    },
    rejected: () => rejected
  }
}
