/**
 * The origin's part of the segment push (see `@hivecast/shared`'s segment-push): once a segment is
 * announced, its block is offered to the first relays of its CID's order among the relays subscribed
 * to the room, `fanout` of them; they pass it on down the tree. A relay that declines or cannot be
 * reached fetches the block over bitswap as before, so a failed offer costs nothing but the offer.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { PUSH_TIMEOUT_MS, pushBlock, pushOrder } from '@hivecast/shared/node'
import type { LogMethod } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import type { CID } from 'multiformats/cid'

export interface PushCounts {
  /** Offers made, and how many the relay took. */
  offered: number
  sent: number
  /** Offers that failed (relay unreachable, too slow). */
  failed: number
}

export class SegmentPusher {
  readonly #node: P2PNode
  readonly #topic: string
  /** The room's other origins: subscribed to the topic too, but not relays. */
  readonly #origins: ReadonlySet<string>
  readonly #fanout: number
  readonly #log: LogMethod
  readonly counts: PushCounts = { offered: 0, sent: 0, failed: 0 }

  constructor (node: P2PNode, options: { topic: string, roomKeys: readonly string[], fanout: number, log: LogMethod }) {
    this.#node = node
    this.#topic = options.topic
    this.#origins = new Set(options.roomKeys)
    this.#fanout = options.fanout
    this.#log = options.log
  }

  /** Offers an announced segment's block to the first-hop relays; fire and forget. */
  offer (cid: CID, bytes: Uint8Array): void {
    if (this.#fanout === 0) return
    const relays = this.#node.libp2p.services.pubsub.getSubscribers(this.#topic).map(String).filter(id => !this.#origins.has(id))
    for (const relay of pushOrder(cid.toString(), relays).slice(0, this.#fanout)) {
      this.counts.offered++
      pushBlock(this.#node, peerIdFromString(relay), cid, bytes, { signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) })
        .then(taken => { if (taken) this.counts.sent++ })
        .catch((err: Error) => {
          this.counts.failed++
          this.#log(`offering ${cid.toString()} to relay ${relay} failed (it fetches the segment itself): ${err.message}`)
        })
    }
  }
}
