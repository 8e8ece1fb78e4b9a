/**
 * The relay's part of the segment push (see `@hivecast/shared`'s segment-push): it takes offered
 * blocks it is fetching right now, checks each against its CID before storing it, and offers every
 * block it has verified (pushed or fetched) to its children in the tree.
 *
 * An offer is taken only for a block a fetch is waiting for (or starts waiting for within
 * OFFER_WAIT_MS: the origin's offer can overtake its own gossip announcement), one sender at a time.
 * A peer that sends bytes which do not match the CID is refused for BAN_MS and counted: it is dropped
 * from this relay's tree, and the fetch falls back to asking peers.
 *
 * A relay whose uplink cannot keep up becomes a leaf of the tree for LEAF_HOLD_MS: when SLOW_PUSHES
 * of its last RECENT_PUSHES pushes took longer than `slowPushMs` (its --max-upload budget ran dry, or
 * its link is slow), it stops passing blocks on and says so (in its directory record and in its
 * answers to offers), and every node puts it at the end of the order, where the tree has no
 * children. Then it tries again. A slow child can make one push slow too, rarely several.
 *
 * At most a third of the tree's relays are leaves (at least one may be): when every relay's pushes look
 * slow (a starved machine, or thin uplinks everywhere), a tree of leaves would pass nothing on and the
 * origin would send every relay its copy; the relays that came last stay in the tree, slow as they are.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { verifyRawBlock } from '@hivecast/shared'
import { PUSH_TIMEOUT_MS, RELAY_PUSH_FANOUT, livePushChildren, pushOrder } from '@hivecast/shared/node'
import { pushNetwork } from './push-network.ts'
import type { PushNetwork } from './push-network.ts'
import type { Logger } from '@hivecast/shared'
import type { P2PNode, PushOffer, PushOutcome, PushReceiver } from '@hivecast/shared/node'
import type { CID } from 'multiformats/cid'
import type { UploadThrottle } from './upload-throttle.ts'

/** How long an offer may wait for this relay to start fetching its block. */
const OFFER_WAIT_MS = 500
/** How long a peer that pushed a wrong block is refused. */
const BAN_MS = 10 * 60_000
/** Forwarded offers in flight at most: a stalled child must not pile up copies of blocks in memory. */
const MAX_FORWARDS_IN_FLIGHT = 16
/** CIDs whose first offer time is kept: a few segments of every rendition. */
const OFFER_TIMES_KEPT = 256
/** Senders whose newest offer time is kept (relays and origins are a few dozen; the rest is churn). */
const SENDERS_KEPT = 256
/** Slow pushes among the last RECENT_PUSHES that make this relay a leaf. */
const SLOW_PUSHES = 2
const RECENT_PUSHES = 4
/** The share of the tree's relays that may be leaves at once. */
const MAX_LEAF_SHARE = 1 / 3
/** How long a relay whose pushes were slow stays a leaf before it passes blocks on again. */
export const LEAF_HOLD_MS = 60_000
/** The upload a relay must sustain per push to pass blocks on: 8 Mbit/s, a 1080p ladder twice over. */
const MIN_PUSH_BYTES_PER_SECOND = 1_000_000
/** What any push may take on top of its bytes at that rate (an answer, a busy moment). */
const PUSH_SLACK_MS = 250

/** Longest a push of `bytes` may take, from the child's "send it" to the end, before it counts as slow. */
export function slowPushMs (bytes: number): number {
  return PUSH_SLACK_MS + bytes / MIN_PUSH_BYTES_PER_SECOND * 1000
}

export interface PushCounts {
  /** Offers taken and verified. */
  received: number
  /** Offers declined: held already, not fetching it, another sender first, or a refused peer. */
  declined: number
  /** Blocks that did not match their CID (or size): the sender is refused for 10 minutes. */
  rejected: number
  /** Offers this relay made to its children, and how many of them took the block. */
  offered: number
  sent: number
  /** Offers to a child that could not be reached: its children were offered the block instead. */
  unreachable: number
  /** Pushes slower than `slowPushMs`, and how often they made this relay a leaf. */
  slow: number
  demoted: number
  /** Times slow pushes would have made this relay a leaf with a third of the tree leaves already. */
  keptInTree: number
}

/** The push tree as this relay sees it: relays linked to the origin (this one included), and how many of the others are leaves. */
export interface TreeSize {
  relays: number
  leaves: number
}

/** Whether one more leaf keeps the tree's leaves within MAX_LEAF_SHARE (one leaf is always allowed). */
export function leafAllowed ({ relays, leaves }: TreeSize): boolean {
  return leaves + 1 <= Math.max(1, Math.floor(relays * MAX_LEAF_SHARE))
}

/** A fetch waiting for an offered block. */
interface Waiting {
  /**
   * Resolves when the first offer was taken, with that offer's outcome (the block, or undefined);
   * boxed, since a promise resolved with a promise would wait for it.
   */
  started: Promise<{ outcome: Promise<Uint8Array | undefined> }>
  /** Resolves with the block whenever an offer delivers it. */
  block: Promise<Uint8Array>
  onStarted: (attempt: { outcome: Promise<Uint8Array | undefined> }) => void
  onBlock: (bytes: Uint8Array) => void
  receiving: boolean
  /** Fetches waiting for this CID (an init section may be wanted by two segments at once). */
  holders: number
}

export interface PushWait {
  /**
   * The pushed block when an offer is taken within `startMs` and its bytes arrive and check out
   * within PUSH_TIMEOUT_MS; undefined otherwise (the caller fetches instead).
   */
  within: (startMs: number, signal: AbortSignal) => Promise<Uint8Array | undefined>
  /** Resolves with the block whenever a pushed one arrives; never rejects. */
  block: Promise<Uint8Array>
  release: () => void
}

export class SegmentPushes {
  readonly #net: PushNetwork
  readonly #log: Logger
  /** Children offered a block per verified block: 0 takes part in the tree only as a leaf. */
  readonly #fanout: number
  readonly #throttle: UploadThrottle | undefined
  readonly #onLeaf: () => void
  readonly #tree: () => TreeSize
  readonly #waiting = new Map<string, Waiting>()
  /** Offers that came before the fetch: resolved when `expect` is called for their CID. */
  readonly #early = new Map<string, Array<() => void>>()
  readonly #banned = new Map<string, number>()
  /** When the first offer for each recent CID came, taken or not: how late offers are (`firstOfferAt`). */
  readonly #firstOffers = new Map<string, number>()
  /** When the newest offer came from each sender, oldest first; bounded like `#firstOffers` (any peer may offer). */
  readonly #lastOfferFrom = new Map<string, number>()
  #forwarding = 0
  /** Whether each of the last RECENT_PUSHES pushes was slow, and until when this relay is a leaf. */
  #recent: boolean[] = []
  #leafUntil = 0
  readonly counts: PushCounts = { received: 0, declined: 0, rejected: 0, offered: 0, sent: 0, unreachable: 0, slow: 0, demoted: 0, keptInTree: 0 }

  /**
   * `throttle`: the relay's upload budget (--max-upload), shared with HTTP responses; `onLeaf`: called
   * when slow pushes made this relay a leaf (to tell the others at once, not at the next record);
   * `tree`: the push tree's size now, read when slow pushes would make this relay a leaf.
   */
  constructor (network: P2PNode | PushNetwork, options: { fanout: number, throttle?: UploadThrottle, onLeaf?: () => void, tree: () => TreeSize, log: Logger }) {
    this.#net = pushNetwork(network)
    this.#fanout = options.fanout
    this.#throttle = options.throttle
    this.#onLeaf = options.onLeaf ?? (() => {})
    this.#tree = options.tree
    this.#log = options.log
  }

  async start (): Promise<void> {
    await this.#net.transport.serve(async (offer, from) => await this.#decide(offer, from), () => this.leaf())
  }

  /** True while this relay passes no blocks on: set so (--push-fanout 0), or its pushes were slow. */
  leaf (now = Date.now()): boolean {
    return this.#fanout === 0 || now < this.#leafUntil
  }

  /** A fetch of `cid` starts: offers for it are taken until `release`. */
  expect (cid: CID): PushWait {
    const key = cid.toString()
    let waiting = this.#waiting.get(key)
    if (waiting === undefined) {
      let onStarted = (_: { outcome: Promise<Uint8Array | undefined> }): void => {}
      let onBlock = (_: Uint8Array): void => {}
      const started = new Promise<{ outcome: Promise<Uint8Array | undefined> }>(resolve => { onStarted = resolve })
      const block = new Promise<Uint8Array>(resolve => { onBlock = resolve })
      waiting = { started, block, onStarted, onBlock, receiving: false, holders: 0 }
      this.#waiting.set(key, waiting)
    }
    waiting.holders++
    for (const wake of this.#early.get(key) ?? []) wake()
    this.#early.delete(key)
    const entry = waiting
    let released = false
    return {
      block: entry.block,
      within: async (startMs, signal) => {
        const attempt = await race(entry.started, startMs, signal)
        return attempt === undefined ? undefined : await race(attempt.outcome, PUSH_TIMEOUT_MS, signal)
      },
      release: () => {
        if (released) return
        released = true
        if (--entry.holders === 0 && this.#waiting.get(key) === entry) this.#waiting.delete(key)
      }
    }
  }

  /**
   * Offers a verified block to this relay's children for `cid` among `linked` (the relays linked to
   * the origin, this one included; `leaves` among them pass nothing on), skipping relays it holds no
   * connection to: their children are offered the block instead (`livePushChildren`). A child that
   * cannot be reached is treated the same way, so a relay that died after this one last looked costs
   * its subtree one failed offer, not a fallback. Fire and forget: a child that declines fetches the
   * block itself.
   */
  forward (cid: CID, bytes: Uint8Array, self: string, linked: readonly string[], leaves: ReadonlySet<string>): void {
    if (this.leaf() || !linked.includes(self)) return
    const order = pushOrder(cid.toString(), linked, leaves)
    const live = (relay: string): boolean => relay === self || this.#net.connected(relay)
    // A fan-out below the tree's leaves the later children to fetch; adopted grandchildren of a dead
    // child come on top of the tree's fan-out (the upload throttle still bounds the bytes).
    const children = livePushChildren(order, order.indexOf(self), live)
    this.#offerAll(this.#fanout < RELAY_PUSH_FANOUT ? children.slice(0, this.#fanout) : children, cid, bytes, order, live)
  }

  #offerAll (children: readonly string[], cid: CID, bytes: Uint8Array, order: readonly string[], live: (relay: string) => boolean): void {
    for (const child of children) {
      if (this.#forwarding >= MAX_FORWARDS_IN_FLIGHT) return
      this.#forwarding++
      this.counts.offered++
      this.#offer(child, cid, bytes)
        .then(outcome => { if (outcome !== 'declined') this.counts.sent++ })
        .catch((err: Error) => {
          this.#log.debug(`offering ${cid.toString()} to ${child} failed (offering it to its children): ${err.message}`)
          this.counts.unreachable++
          this.#offerAll(livePushChildren(order, order.indexOf(child), relay => relay !== child && live(relay)), cid, bytes, order, live)
        })
        .finally(() => { this.#forwarding-- })
    }
  }

  /** Offers the block to `child`; a push it took is timed from its "send it" (upload budget included). */
  async #offer (child: string, cid: CID, bytes: Uint8Array): Promise<PushOutcome> {
    const throttle = this.#throttle
    let sending = 0
    const signal = AbortSignal.timeout(PUSH_TIMEOUT_MS)
    const outcome = await this.#net.transport.push(child, cid, bytes, {
      signal,
      beforeSend: async () => {
        sending = Date.now()
        await throttle?.take(bytes.length)
      }
    }).catch((err: Error) => {
      // Bytes that did not get through in time are a slow push too, and so is an offer still unanswered
      // when the time ran out: on a full uplink the offer itself waits behind the queued bytes (the
      // lab's 2 Mbit/s relay timed out offer after offer and never became a leaf). An offer to a child
      // that is gone fails at once and says nothing about this relay's uplink.
      if (sending > 0 || signal.aborted) this.#timed(PUSH_TIMEOUT_MS, bytes.length)
      throw err
    })
    if (outcome !== 'declined') this.#timed(Date.now() - sending, bytes.length)
    return outcome
  }

  #timed (ms: number, bytes: number): void {
    const slow = ms > slowPushMs(bytes)
    this.#recent = [...this.#recent.slice(1 - RECENT_PUSHES), slow]
    if (!slow) return
    this.counts.slow++
    if (this.#recent.filter(Boolean).length < SLOW_PUSHES || this.leaf()) return
    this.#recent = []
    const tree = this.#tree()
    if (!leafAllowed(tree)) {
      this.counts.keptInTree++
      this.#log.debug(`passing segments on is slow (the last push ${ms} ms for ${bytes} bytes), but ${tree.leaves} of ${tree.relays} relays in the tree are leaves already: this one stays in it`)
      return
    }
    this.#leafUntil = Date.now() + LEAF_HOLD_MS
    this.counts.demoted++
    this.#log.warn(`passing segments on is too slow (${SLOW_PUSHES} of the last ${RECENT_PUSHES} pushes took over ${Math.round(slowPushMs(bytes))} ms, the last ${ms} ms for ${bytes} bytes): this relay is a leaf of the push tree for ${LEAF_HOLD_MS / 1000} s`)
    this.#onLeaf()
  }

  /** When the first offer for `cid` came (ms since the epoch), taken or declined; undefined if none did lately. */
  firstOfferAt (cid: CID): number | undefined {
    return this.#firstOffers.get(cid.toString())
  }

  /** Whether one of `senders` offered a block within the last `ms`: it pushes. */
  offeredWithin (ms: number, senders: readonly string[]): boolean {
    const now = Date.now()
    return senders.some(sender => now - (this.#lastOfferFrom.get(sender) ?? -Infinity) < ms)
  }

  async #decide (offer: PushOffer, sender: string): Promise<PushReceiver | undefined> {
    const key = offer.cid.toString()
    // Deleted first so that the map's order stays oldest offer first.
    this.#lastOfferFrom.delete(sender)
    this.#lastOfferFrom.set(sender, Date.now())
    if (this.#lastOfferFrom.size > SENDERS_KEPT) this.#lastOfferFrom.delete(this.#lastOfferFrom.keys().next().value!)
    if (!this.#firstOffers.has(key)) {
      this.#firstOffers.set(key, Date.now())
      // Oldest first: a map iterates in insertion order.
      if (this.#firstOffers.size > OFFER_TIMES_KEPT) this.#firstOffers.delete(this.#firstOffers.keys().next().value!)
    }
    const bannedUntil = this.#banned.get(sender)
    if (bannedUntil !== undefined && bannedUntil > Date.now()) return this.#decline()
    if (bannedUntil !== undefined) this.#banned.delete(sender)
    let waiting = this.#waiting.get(key)
    if (waiting === undefined && !(await this.#net.blocks.has(offer.cid))) {
      await this.#waitForFetch(key)
      waiting = this.#waiting.get(key)
    }
    if (waiting === undefined || waiting.receiving) return this.#decline()
    const entry = waiting
    entry.receiving = true
    let settle = (_: Uint8Array | undefined): void => {}
    entry.onStarted({ outcome: new Promise(resolve => { settle = resolve }) })
    const fail = (): void => {
      entry.receiving = false
      settle(undefined)
    }
    return {
      take: async bytes => {
        if (bytes.length !== offer.size || !(await verifyRawBlock(offer.cid, bytes))) {
          fail()
          this.counts.rejected++
          this.#banned.set(sender, Date.now() + BAN_MS)
          this.#log.warn(`peer ${sender} pushed bytes that are not block ${key}; refusing its pushes for ${BAN_MS / 60_000} min`)
          throw new Error('pushed block does not match its CID')
        }
        await this.#net.blocks.put(offer.cid, bytes)
        this.counts.received++
        settle(bytes)
        entry.onBlock(bytes)
      },
      abandon: fail
    }
  }

  #decline (): undefined {
    this.counts.declined++
    return undefined
  }

  async #waitForFetch (key: string): Promise<void> {
    const wakers = this.#early.get(key) ?? []
    this.#early.set(key, wakers)
    let wake = (): void => {}
    const woken = new Promise<void>(resolve => { wake = resolve })
    wakers.push(wake)
    const timer = new AbortController()
    await Promise.race([woken, sleep(OFFER_WAIT_MS, undefined, { signal: timer.signal }).catch(() => {})])
    timer.abort()
    const left = this.#early.get(key)?.filter(w => w !== wake)
    if (left === undefined) return
    if (left.length === 0) this.#early.delete(key)
    else this.#early.set(key, left)
  }
}

/** `promise`'s value, or undefined once `ms` passed or `signal` aborted. */
async function race<T> (promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T | undefined> {
  const timeout = AbortSignal.any([signal, AbortSignal.timeout(ms)])
  if (timeout.aborted) return undefined
  return await new Promise<T | undefined>(resolve => {
    const stop = (): void => { resolve(undefined) }
    timeout.addEventListener('abort', stop, { once: true })
    promise.then(value => {
      timeout.removeEventListener('abort', stop)
      resolve(value)
    }, stop)
  })
}
