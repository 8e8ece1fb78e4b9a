/**
 * How the relay fetches a segment's block. Relays linked to the origin form a tree per CID (the
 * segment push, see `segment-pushes.ts`): the origin offers the block to the first relay of the CID's
 * order, and each relay to the ones below it, so the origin sends each segment about once. A relay in
 * the tree first waits for its parent's offer (a first hop, for as long as the origin itself keeps
 * its offer open); without one (a parent gone, an older origin), it falls back to taking turns over
 * bitswap: the first in the order asks the origin, each other one asks only its relay peers, and
 * asks the origin only if none of them has the block within a few seconds. The origin is asked alone
 * (a want to everyone has every holder send the block). A pushed block ends the fetch whenever it
 * arrives.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { PUSH_TIMEOUT_MS, livePushDepth, livePushParent, pushOrder } from '@hivecast/shared/node'
import { pushNetwork } from './push-network.ts'
import type { PushNetwork } from './push-network.ts'
import type { P2PNode } from '@hivecast/shared/node'
import type { PushWait, SegmentPushes } from './segment-pushes.ts'
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
/**
 * Relay peers asked per try, the next ones on each try: every peer that holds the block sends it, so
 * a want to all of 50 relays brought ~25 copies at once, filled the relay's downlink and made the next
 * segment late everywhere (seen in the simulation with slow relays).
 */
const PEERS_PER_TRY = 3
/** How long a relay whose turn is not first keeps asking relay peers before it asks the origin. */
const PEERS_BUDGET_MS = 2_500
/** How long one bitswap want may go unanswered before it is asked again. */
const WANT_RETRY_MS = 2_000
/**
 * The same for a want to the origin alone: it is renewed only once the origin would have given up on
 * its own offer. A want renewed sooner on a full uplink had the origin queue the block again behind
 * the copy still on its way (the lab's capped origin sent up to 2.7 copies, most of them bitswap).
 */
const ORIGIN_WANT_RETRY_MS = PUSH_TIMEOUT_MS
/**
 * How long a first-hop relay waits for the origin's offer when the origin offered it a block within
 * ORIGIN_PUSHING_MS (each relay is a first hop for its share of the segments, so it soon knows): the
 * origin offers the block elsewhere once its offer is PUSH_TIMEOUT_MS old, so a relay that asks sooner
 * only makes a full uplink send the block twice. Only the origin's own offers say so: relays push to
 * each other whatever the origin does, and an origin that does not push would cost every first hop
 * the whole wait.
 */
const ORIGIN_OFFER_WAIT_MS = PUSH_TIMEOUT_MS
const ORIGIN_PUSHING_MS = 10 * 60_000
/**
 * How long a relay waits for its parent's offer per hop between it and the origin, at least: a parent
 * offers a block once it holds it, so a relay two hops down waits twice as long. An offer only has to
 * start within this; its bytes then get the push's own timeout.
 */
export const PUSH_HOP_MS = 400
/**
 * The wait per hop follows how late offers came of late: HOP_WAIT_FACTOR times the moving average of
 * the delay per hop, at most MAX_HOP_WAIT_MS. On a full uplink an offer waits behind the bytes already
 * queued on the connection; a relay that gave up on it and asked the origin over bitswap made the
 * origin send the block twice, which filled the uplink further (the lab's origin capped at 2.5x the
 * ladder sent 2.5 copies, most of them bitswap).
 */
const HOP_WAIT_FACTOR = 3
const MAX_HOP_WAIT_MS = 2_000
/** Weight of the newest offer's delay per hop in that moving average. */
const HOP_DELAY_WEIGHT = 0.2
/** Live ancestors a relay in the tree asks, one at a time, when its parent's offer did not come. */
const ANCESTORS_ASKED = 3
/** How often a relay waiting for its parent's offer checks that the parent is still connected. */
export const PARENT_CHECK_MS = 50

export type BlockFetcher = (cid: CID, signal: AbortSignal) => Promise<Uint8Array>

export interface RelayPeers {
  /** Connected relays of our rooms, as dialable multiaddrs with /p2p/. */
  providers: Multiaddr[]
  /** Peer ids of the relays linked to the origin, this one included when it is. */
  originLinked: string[]
  /** Those of them that pass no blocks on (leaves of the push tree), this one included when it is. */
  leaves: ReadonlySet<string>
  /**
   * The rooms' origins this relay is connected to, dialable with /p2p/: the last resort is a want to
   * them alone (without any, a want to everyone connected).
   */
  origins: Multiaddr[]
  /** Their peer ids. */
  originIds: string[]
}

/** Waits `ms`, or less when `signal` aborts (never throws: the caller checks the signal). */
async function wait (ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {})
}

/** This relay's turn for `cid` among the origin-linked relays: 0 goes to the origin first. */
export function rank (cid: string, self: string, { originLinked, leaves }: Pick<RelayPeers, 'originLinked' | 'leaves'>): number {
  if (!originLinked.includes(self)) return 0
  return pushOrder(cid, originLinked, leaves).indexOf(self)
}

/**
 * The block fetcher. With `pushes`, a relay in the tree waits for its parent's offer before it asks
 * anyone, and every block it gets is offered on to its children.
 */
export function createBlockFetcher (node: P2PNode | PushNetwork, relayPeers: () => RelayPeers, pushes?: SegmentPushes): BlockFetcher {
  const net = pushNetwork(node)
  const self = net.self
  /** Moving average of this relay's own first-turn fetches, ms: what a peer's first turn takes too. */
  let firstTurnMs = SLOT_MS
  /** Moving average of how long an offer took to come, per hop between this relay and the origin, ms. */
  let hopDelayMs = PUSH_HOP_MS / HOP_WAIT_FACTOR
  const hopWaitMs = (): number => Math.min(MAX_HOP_WAIT_MS, Math.max(PUSH_HOP_MS, Math.round(hopDelayMs * HOP_WAIT_FACTOR)))
  /**
   * Learns how late the offer for `cid` came, for a fetch that started at `started`, `depth` hops below
   * the origin. After a fallback the offer may still be on its way: it is looked for once the longest
   * wait has passed (no offer at all, as from an origin that pushes nothing, teaches nothing).
   */
  const noteOfferDelay = (cid: CID, started: number, depth: number, pushed: boolean): void => {
    const note = (): void => {
      const offeredAt = pushes?.firstOfferAt(cid)
      if (offeredAt !== undefined) hopDelayMs += HOP_DELAY_WEIGHT * (Math.max(0, offeredAt - started) / depth - hopDelayMs)
    }
    if (pushed) note()
    else setTimeout(note, depth * MAX_HOP_WAIT_MS).unref()
  }
  const byTurn = async (cid: CID, turn: number, waited: boolean, signal: AbortSignal): Promise<Uint8Array> => {
    if (turn > 0) {
      // Announcements reach relays at different moments, and a busy relay fetches slowly: keep asking
      // relay peers for a while rather than going to the origin at the first "don't have". A relay
      // that already waited for its parent's offer has waited its turn.
      const slot = Math.min(MAX_SLOT_MS, Math.max(SLOT_MS, Math.round(firstTurnMs * 2)))
      const turnWait = waited ? 0 : turn * slot
      const deadline = Date.now() + turnWait + PEERS_BUDGET_MS
      await wait(turnWait, signal)
      // Each relay starts at its own place in the list: the list is in the same order everywhere.
      for (let tried = Math.floor(Math.random() * 1024); !signal.aborted && Date.now() < deadline; tried += PEERS_PER_TRY) {
        const { providers } = relayPeers()
        if (providers.length === 0) break
        const first = tried % providers.length
        const asked = [...providers, ...providers].slice(first, first + Math.min(PEERS_PER_TRY, providers.length))
        try {
          const timeout = AbortSignal.timeout(Math.min(PEERS_TIMEOUT_MS, Math.max(1, deadline - Date.now())))
          return await net.getBlock(cid, { signal: AbortSignal.any([signal, timeout]), providers: asked })
        } catch {
          // The relay whose turn came first is still fetching (or gone): give it another slot.
          await wait(slot, signal)
        }
      }
    }
    // A want can get lost in the races between sessions ending and wants starting (seen under load):
    // ask afresh every few seconds rather than wait on one want until the budget is gone. The origin
    // is asked alone: a want to everyone has every holder send the block at once.
    const started = Date.now()
    for (;;) {
      const { origins } = relayPeers()
      const toOrigin = origins.length > 0
      try {
        const timeout = AbortSignal.timeout(toOrigin ? ORIGIN_WANT_RETRY_MS : WANT_RETRY_MS)
        const bytes = await net.getBlock(cid, { signal: AbortSignal.any([signal, timeout]), ...toOrigin ? { providers: origins } : {} })
        if (turn === 0) firstTurnMs += SLOT_WEIGHT * (Date.now() - started - firstTurnMs)
        return bytes
      } catch (err) {
        if (signal.aborted) throw err
      }
    }
  }
  const fetchOnce = async (cid: CID, signal: AbortSignal): Promise<Uint8Array> => {
    const tree = relayPeers()
    if (pushes !== undefined && await net.blocks.has(cid)) {
      // Here already (a segment joined from its LL-HLS parts): passed on to children that lack it.
      const bytes = await net.getBlock(cid, { signal })
      pushes.forward(cid, bytes, self, tree.originLinked, tree.leaves)
      return bytes
    }
    const turn = rank(cid.toString(), self, tree)
    if (pushes === undefined) return await byTurn(cid, turn, false, signal)
    const push = pushes.expect(cid)
    try {
      const inTree = tree.originLinked.includes(self)
      const started = Date.now()
      // The tree's order only for a relay in it: a relay off the origin never waits for an offer.
      const order = inTree ? pushOrder(cid.toString(), tree.originLinked, tree.leaves) : undefined
      const pushed = order === undefined ? undefined : await fromTree(cid, push, order, turn, signal)
      // A relay in the tree skips its turn's slot: it waited for an offer instead, or its parent is gone.
      const bytes = pushed ?? await raceFetch(push.block, async fetchSignal => await byTurn(cid, turn, inTree, fetchSignal), signal)
      if (order !== undefined) noteOfferDelay(cid, started, livePushDepth(order, turn, relay => relay === self || net.connected(relay)), pushed !== undefined)
      const now = relayPeers()
      pushes.forward(cid, bytes, self, now.originLinked, now.leaves)
      return bytes
    } finally {
      push.release()
    }
  }
  /**
   * The block from the tree: the offer of this relay's parent, the nearest ancestor it is connected
   * to (a dead relay's children are fed by its parent, see `forward`). A parent that goes down while
   * this relay waits may have taken the block without passing it on, and a slow tree may not have
   * offered it in time: then the live ancestors are asked, nearest first, one at a time, each of which
   * holds the block once it has passed it on. Undefined when none of that worked: the caller falls
   * back to taking turns.
   */
  const fromTree = async (cid: CID, push: PushWait, order: readonly string[], turn: number, signal: AbortSignal): Promise<Uint8Array | undefined> => {
    const live = (relay: string): boolean => relay === self || net.connected(relay)
    // A first hop of an origin that pushes, before any offer of this block came (a declined one does not come again).
    const origins = relayPeers().originIds
    const firstHop = livePushParent(order, turn, live) === undefined && pushes !== undefined && pushes.firstOfferAt(cid) === undefined && pushes.offeredWithin(ORIGIN_PUSHING_MS, origins)
    const deadline = Date.now() + Math.max(livePushDepth(order, turn, live) * hopWaitMs(), firstHop ? ORIGIN_OFFER_WAIT_MS : 0)
    for (;;) {
      const parent = livePushParent(order, turn, live)
      const stop = new AbortController()
      const waitSignal = AbortSignal.any([signal, stop.signal])
      const pushed = await push.within(Math.max(0, deadline - Date.now()), parent === undefined ? waitSignal : AbortSignal.any([waitSignal, whenDown(net, parent, waitSignal)]))
      stop.abort()
      if (pushed !== undefined || signal.aborted) return pushed
      const pulled = await fromAncestors(cid, push, order, turn, live, signal)
      // A parent that died early: its replacement may still offer the block within the wait.
      if (pulled !== undefined || signal.aborted || parent === undefined || net.connected(parent) || Date.now() >= deadline) return pulled
    }
  }
  const fromAncestors = async (cid: CID, push: PushWait, order: readonly string[], turn: number, live: (relay: string) => boolean, signal: AbortSignal): Promise<Uint8Array | undefined> => {
    const { providers } = relayPeers()
    let asked = 0
    for (let ancestor = livePushParent(order, turn, live); ancestor !== undefined && asked < ANCESTORS_ASKED; ancestor = livePushParent(order, order.indexOf(ancestor), live)) {
      const address = providers.find(a => a.getComponents().some(c => c.name === 'p2p' && c.value === ancestor))
      if (address === undefined) continue
      asked++
      try {
        return await raceFetch(push.block, async fetchSignal => await net.getBlock(cid, { signal: AbortSignal.any([fetchSignal, AbortSignal.timeout(PEERS_TIMEOUT_MS)]), providers: [address] }), signal)
      } catch {
        if (signal.aborted) return undefined
      }
    }
    return undefined
  }
  // Segments of one origin run share their init section: fetch a block once however many wait for it
  // (concurrent bitswap wants for one CID were seen to hold the later ones back by about a second).
  const inFlight = new Map<string, Promise<Uint8Array>>()
  return async (cid, signal) => {
    const key = cid.toString()
    const running = inFlight.get(key)
    if (running !== undefined) return await untilAborted(running, signal)
    const fetching = fetchOnce(cid, signal).finally(() => { inFlight.delete(key) })
    inFlight.set(key, fetching)
    return await fetching
  }
}

/** Aborts once this relay holds no connection to `peer` (checked every PARENT_CHECK_MS); stops checking when `until` aborts. */
function whenDown (net: PushNetwork, peer: string, until: AbortSignal): AbortSignal {
  const down = new AbortController()
  const timer = setInterval(() => { if (!net.connected(peer)) down.abort() }, PARENT_CHECK_MS)
  until.addEventListener('abort', () => { clearInterval(timer) }, { once: true })
  down.signal.addEventListener('abort', () => { clearInterval(timer) }, { once: true })
  return down.signal
}

/** `promise`, or a rejection once `signal` aborts (the promise itself goes on for its own caller). */
async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const abort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', abort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', abort) })
  })
}

/**
 * Whichever comes first: a pushed block, or the fetch. The fetch is aborted only when the push won:
 * aborting a finished want would cancel it for the other fetches of the same block (an init section
 * wanted by several segments at once).
 */
async function raceFetch (pushed: Promise<Uint8Array>, fetch: (signal: AbortSignal) => Promise<Uint8Array>, signal: AbortSignal): Promise<Uint8Array> {
  const lost = new AbortController()
  return await Promise.race([
    pushed.then(bytes => {
      lost.abort()
      return bytes
    }),
    fetch(AbortSignal.any([signal, lost.signal]))
  ])
}
