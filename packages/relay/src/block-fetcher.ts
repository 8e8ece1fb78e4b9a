/**
 * How the relay fetches a segment's block. Bitswap asks every connected peer at once, so relays that
 * all hold a connection to the origin would each get every segment from it. Instead the relays linked to
 * the origin take turns: for each CID they rank themselves the same way (a hash of CID and peer id), the
 * first asks everyone at once (the origin included), and each other one waits its slot, asks only its
 * relay peers, and goes to everyone only if none of them has the block within a few seconds. So the origin
 * sends each segment about once, and which relay takes it from the origin changes from CID to CID.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { getBlock } from '@hivecast/shared/node'
import type { P2PNode } from '@hivecast/shared/node'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

/**
 * Wait per rank before asking relay peers: about the time one relay needs to fetch a segment, so the
 * want reaches a peer that already holds it (a peer asked too early answers "don't have", and helia's
 * bitswap does not send the block when it arrives later). At least this; more when fetches are slower.
 */
export const SLOT_MS = 200
/** The slot never grows past this, whatever the fetches took: a late relay still goes to the origin. */
const MAX_SLOT_MS = 1_500
/** Weight of the newest first-turn fetch time in the moving average the slot follows. */
const SLOT_WEIGHT = 0.3
/** How long relay peers get to hand over the block, per try. */
const PEERS_TIMEOUT_MS = 1_000
/** How long a relay whose turn is not first keeps asking relay peers before it asks the origin. */
const PEERS_BUDGET_MS = 2_500
/** How long one bitswap want may go unanswered before it is asked again. */
const WANT_RETRY_MS = 2_000

export type BlockFetcher = (cid: CID, signal: AbortSignal) => Promise<Uint8Array>

export interface RelayPeers {
  /** Connected relays of our rooms, as dialable multiaddrs with /p2p/. */
  providers: Multiaddr[]
  /** Peer ids of the relays linked to the origin, this one included when it is. */
  originLinked: string[]
}

/** Waits `ms`, or less when `signal` aborts (never throws: the caller checks the signal). */
async function wait (ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {})
}

/** FNV-1a over the text: cheap, and the same on every relay. */
function hash (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/** This relay's turn for `cid` among the origin-linked relays: 0 goes to the origin first. */
export function rank (cid: string, self: string, originLinked: readonly string[]): number {
  if (!originLinked.includes(self)) return 0
  const order = [...originLinked].sort((a, b) => hash(cid + a) - hash(cid + b) || a.localeCompare(b))
  return order.indexOf(self)
}

export function createBlockFetcher (node: P2PNode, relayPeers: () => RelayPeers): BlockFetcher {
  const self = node.libp2p.peerId.toString()
  /** Moving average of this relay's own first-turn fetches, ms: what a peer's first turn takes too. */
  let firstTurnMs = SLOT_MS
  return async (cid, signal) => {
    const turn = rank(cid.toString(), self, relayPeers().originLinked)
    if (turn > 0) {
      // Announcements reach relays at different moments, and a busy relay fetches slowly: keep asking
      // relay peers for a while rather than going to the origin at the first "don't have".
      const slot = Math.min(MAX_SLOT_MS, Math.max(SLOT_MS, Math.round(firstTurnMs * 2)))
      const deadline = Date.now() + turn * slot + PEERS_BUDGET_MS
      await wait(turn * slot, signal)
      while (!signal.aborted && Date.now() < deadline) {
        const { providers } = relayPeers()
        if (providers.length === 0) break
        try {
          const timeout = AbortSignal.timeout(Math.min(PEERS_TIMEOUT_MS, Math.max(1, deadline - Date.now())))
          return await getBlock(node, cid, { signal: AbortSignal.any([signal, timeout]), providers })
        } catch {
          // The relay whose turn came first is still fetching (or gone): give it another slot.
          await wait(slot, signal)
        }
      }
    }
    // A want can get lost in the races between sessions ending and wants starting (seen under load):
    // ask afresh every few seconds rather than wait on one want until the budget is gone.
    const started = Date.now()
    for (;;) {
      try {
        const bytes = await getBlock(node, cid, { signal: AbortSignal.any([signal, AbortSignal.timeout(WANT_RETRY_MS)]) })
        if (turn === 0) firstTurnMs += SLOT_WEIGHT * (Date.now() - started - firstTurnMs)
        return bytes
      } catch (err) {
        if (signal.aborted) throw err
      }
    }
  }
}
