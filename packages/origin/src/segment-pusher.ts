/**
 * The origin's part of the segment push (see `@hivecast/shared`'s segment-push): once a segment is
 * announced, its block is offered to the first relays of its CID's order, `fanout` of them; they pass
 * it on down the tree. The order is over every relay seen subscribed to the room within
 * DIRECTORY_TTL_MS, as relays order it over their directory: a relay that went away keeps its place
 * and is skipped, its children offered the block instead (`livePushChildren`), so the tree below
 * stays the same on every node. A relay that declines or cannot be reached fetches the block over
 * bitswap as before; in place of one that cannot be reached, the relay taking its place is offered it.
 * A relay that answers as a leaf (it passes nothing on: its uplink is slow) goes to the end of the
 * order for DIRECTORY_TTL_MS, as relays place it from its directory record, and the relay that now
 * comes first is offered the block too: the origin sends that segment twice, then once again.
 */
import { DIRECTORY_TTL_MS } from '@hivecast/shared'
import { PUSH_TIMEOUT_MS, libp2pPushTransport, livePushChildren, pushOrder } from '@hivecast/shared/node'
import type { LogMethod } from '@hivecast/shared'
import type { P2PNode, PushTransport } from '@hivecast/shared/node'
import type { CID } from 'multiformats/cid'

export interface PushCounts {
  /** Offers made, and how many the relay took. */
  offered: number
  sent: number
  /** Offers that failed (relay unreachable, too slow). */
  failed: number
}

/** Where the origin's offers go: libp2p and the room's gossip topic, or the simulation's model. */
export interface OriginPushNetwork {
  transport: PushTransport
  /** Relays subscribed to the room now (the room's other origins left out). */
  relays: () => string[]
}

/** The origin's push network over libp2p: relays are the topic's subscribers that are not room keys. */
export function libp2pOriginPushNetwork (node: P2PNode, topic: string, roomKeys: readonly string[]): OriginPushNetwork {
  const origins = new Set(roomKeys)
  return {
    transport: libp2pPushTransport(node),
    relays: () => node.libp2p.services.pubsub.getSubscribers(topic).map(String).filter(id => !origins.has(id))
  }
}

export class SegmentPusher {
  readonly #net: OriginPushNetwork
  readonly #fanout: number
  readonly #log: LogMethod
  /** Relays seen subscribed, and when last: the order keeps them for DIRECTORY_TTL_MS. */
  readonly #seen = new Map<string, number>()
  /** Relays that answered as leaves, and when: they stay at the end of the order for DIRECTORY_TTL_MS. */
  readonly #leaves = new Map<string, number>()
  readonly counts: PushCounts = { offered: 0, sent: 0, failed: 0 }

  constructor (network: OriginPushNetwork, options: { fanout: number, log: LogMethod }) {
    this.#net = network
    this.#fanout = options.fanout
    this.#log = options.log
  }

  /** Offers an announced segment's block to the first-hop relays; fire and forget. */
  offer (cid: CID, bytes: Uint8Array): void {
    if (this.#fanout === 0) return
    const now = Date.now()
    const up = new Set(this.#net.relays())
    for (const relay of up) this.#seen.set(relay, now)
    for (const seen of [this.#seen, this.#leaves]) {
      for (const [relay, at] of seen) if (now - at >= DIRECTORY_TTL_MS) seen.delete(relay)
    }
    this.#offerTo(this.#firstHops(cid, up, new Set()), cid, bytes, up, new Set())
  }

  /**
   * The tree's first hop, plus the next relays up to the fan-out setting (they also get offers from
   * their parents, and take only one), leaving out relays `offered` the block already.
   */
  #firstHops (cid: CID, up: Set<string>, offered: ReadonlySet<string>): string[] {
    const order = pushOrder(cid.toString(), [...this.#seen.keys()], new Set(this.#leaves.keys()))
    const live = (relay: string): boolean => up.has(relay)
    return [...new Set([...livePushChildren(order, -1, live), ...order.filter(live).slice(0, this.#fanout)])].filter(r => !offered.has(r))
  }

  #offerTo (relays: readonly string[], cid: CID, bytes: Uint8Array, up: Set<string>, offered: Set<string>): void {
    for (const relay of relays) offered.add(relay)
    for (const relay of relays) {
      this.counts.offered++
      this.#net.transport.push(relay, cid, bytes, { signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) })
        .then(outcome => {
          if (outcome !== 'declined') this.counts.sent++
          if (outcome !== 'taken-by-leaf') return
          const known = this.#leaves.has(relay)
          this.#leaves.set(relay, Date.now())
          if (!known) this.#offerTo(this.#firstHops(cid, up, offered), cid, bytes, up, offered)
        })
        .catch((err: Error) => {
          this.counts.failed++
          this.#log(`offering ${cid.toString()} to relay ${relay} failed (offering it to the relay in its place): ${err.message}`)
          // The first hop in its place (which feeds the rest of its place), unless already offered.
          up.delete(relay)
          this.#offerTo(this.#firstHops(cid, up, offered), cid, bytes, up, offered)
        })
    }
  }
}
