/**
 * The segment push (`/hivecast/segment-push/1.0.0`): a node that holds a verified segment block
 * offers it to the relays below it in a tree, instead of each relay asking for it (bitswap answers a
 * want sent before the block arrived with "don't have", and never sends the block later).
 *
 * The tree is the same on every node without any messages: for each CID, the relays linked to the
 * origin are ordered by a hash of CID and peer id (`pushOrder`); the origin offers the block to the
 * first `ORIGIN_PUSH_FANOUT`, and the relay at position p offers it to the positions below it
 * (`pushChildren`), `RELAY_PUSH_FANOUT` each. Which relay takes the block from the origin changes from
 * CID to CID, so no relay's upload carries the whole room. Nodes whose views differ only offer a block
 * twice (answered "have") or not at all (the relay falls back to fetching it).
 *
 * A relay whose uplink cannot carry the tree's fan-out (its pushes are slow, or it is set to pass
 * nothing on) is a leaf: `pushOrder` puts leaves after every other relay, where the tree has no
 * children, so no one waits on a slow relay. Relays learn who is a leaf from the signed directory
 * (`forwards: false`); the origin learns it from the answer to its offer.
 *
 * On the wire: the sender writes a length-prefixed JSON offer `{"cid","size"}`; the receiver answers
 * one byte, 1 (send it), 2 (send it; I am a leaf) or 0 (held, not wanted, or not from you); on 1 or 2
 * the sender writes the block as one length-prefixed message and closes. The receiver checks the
 * block against its CID before it stores or forwards a byte.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { MAX_RAW_BLOCK, tryParseCid } from './cid.ts'
import type { P2PNode } from './p2p-node.ts'
import type { PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export const SEGMENT_PUSH_PROTOCOL = '/hivecast/segment-push/1.0.0'
/** First-hop relays the origin offers each block to, by default: the origin's uplink carries one copy. */
export const ORIGIN_PUSH_FANOUT = 1
/** Relays each relay offers a block to: the tree's shape, the same on every node. */
export const RELAY_PUSH_FANOUT = 2
/** How long one offer may take, block included, before it is given up (the receiver fetches instead). */
export const PUSH_TIMEOUT_MS = 5_000

const OFFER_MAX_BYTES = 256
const NO = 0
const WANT = 1
const WANT_AS_LEAF = 2

/** How an offer ended: the block sent (to a relay that passes it on, or to a leaf), or declined. */
export type PushOutcome = 'taken' | 'taken-by-leaf' | 'declined'

export interface PushOffer {
  cid: CID
  size: number
}

/** FNV-1a over the text: cheap, and the same on every node. */
function hash (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

const NO_LEAVES: ReadonlySet<string> = new Set()

/**
 * The relays linked to the origin in their order for `cid`: position 0 takes it from the origin first.
 * `leaves` come last, so they sit where the tree has no children (as long as they are fewer than half).
 */
export function pushOrder (cid: string, relays: readonly string[], leaves: ReadonlySet<string> = NO_LEAVES): string[] {
  // Each relay's hash once, not per comparison: with 200 relays the sort dominated a relay's CPU.
  return [...new Set(relays)]
    .map(relay => ({ relay, leaf: leaves.has(relay) ? 1 : 0, key: hash(cid + relay) }))
    .sort((a, b) => a.leaf - b.leaf || a.key - b.key || a.relay.localeCompare(b.relay))
    .map(({ relay }) => relay)
}

/** The positions of `order` that the node at `position` offers a block to (position -1: the origin). */
export function pushChildren (order: readonly string[], position: number): string[] {
  if (position < 0) return order.slice(0, ORIGIN_PUSH_FANOUT)
  const first = ORIGIN_PUSH_FANOUT + position * RELAY_PUSH_FANOUT
  return order.slice(first, first + RELAY_PUSH_FANOUT)
}

/** The relay that offers a block to `position`; undefined for a first-hop relay (the origin offers it). */
export function pushParent (order: readonly string[], position: number): string | undefined {
  return position < ORIGIN_PUSH_FANOUT ? undefined : order[Math.floor((position - ORIGIN_PUSH_FANOUT) / RELAY_PUSH_FANOUT)]
}

/** How many offers a block passes before it reaches `position`: 1 for a first-hop relay. */
export function pushDepth (position: number): number {
  let depth = 1
  for (let p = position; p >= ORIGIN_PUSH_FANOUT; depth++) p = Math.floor((p - ORIGIN_PUSH_FANOUT) / RELAY_PUSH_FANOUT)
  return depth
}

/** Which relays a node believes up (connected, subscribed): a dead relay stays in the order, skipped. */
export type Liveness = (relay: string) => boolean

/** The relays a dead node's place passes to: its live children, a dead child's own children in its place. */
function adopted (order: readonly string[], position: number, live: Liveness): string[] {
  const children: string[] = []
  for (const child of pushChildren(order, position)) {
    if (live(child)) children.push(child)
    else children.push(...adopted(order, order.indexOf(child), live))
  }
  return children
}

/**
 * The relays the node at `position` offers a block to when some relays of `order` are down: a dead
 * relay's place goes to its own children (and so on down), so its subtree is fed by its nearest live
 * ancestor. The origin's share stays ORIGIN_PUSH_FANOUT: when a first-hop relay is dead, the first of
 * the relays that take its place feeds the others. The order itself does not change, so only the
 * dead relay's parent and children act differently and nodes whose views differ elsewhere agree.
 */
export function livePushChildren (order: readonly string[], position: number, live: Liveness): string[] {
  const firstHop = adopted(order, -1, live)
  if (position < 0) return firstHop.slice(0, ORIGIN_PUSH_FANOUT)
  const children = adopted(order, position, live)
  return order[position] === firstHop[0] ? [...children, ...firstHop.slice(ORIGIN_PUSH_FANOUT)] : children
}

/** The live relay that offers the block to `position` (see `livePushChildren`); undefined: the origin. */
export function livePushParent (order: readonly string[], position: number, live: Liveness): string | undefined {
  const firstHop = adopted(order, -1, live)
  const hop = firstHop.indexOf(order[position] ?? '')
  if (hop >= 0) return hop < ORIGIN_PUSH_FANOUT ? undefined : firstHop[0]
  for (let parent = pushParent(order, position); parent !== undefined; parent = pushParent(order, order.indexOf(parent))) {
    if (live(parent)) return parent
  }
  return undefined
}

/** Offers a block passes before it reaches `position` when dead relays are skipped. */
export function livePushDepth (order: readonly string[], position: number, live: Liveness): number {
  let depth = 1
  for (let parent = livePushParent(order, position, live); parent !== undefined; parent = livePushParent(order, order.indexOf(parent), live)) depth++
  return depth
}

/**
 * How a node offers blocks and answers offers: libp2p streams (`libp2pPushTransport`), or a modelled
 * network in the many-relay simulation (bench/src/push-simulation).
 */
export interface PushTransport {
  /** As `pushBlock`: how the offer ended; throws when the peer is unreachable. */
  push: (peer: string, cid: CID, bytes: Uint8Array, options: { signal: AbortSignal, beforeSend?: () => Promise<void> }) => Promise<PushOutcome>
  /** Answers offers with `decide`, as `servePushes`; `leaf` says whether this node passes blocks on. */
  serve: (decide: PushDecision, leaf: () => boolean) => Promise<void>
}

export function libp2pPushTransport (node: P2PNode): PushTransport {
  return {
    push: async (peer, cid, bytes, options) => await pushBlock(node, peerIdFromString(peer), cid, bytes, options),
    serve: async (decide, leaf) => { await servePushes(node, decide, leaf) }
  }
}

/**
 * Offers `bytes` (the block `cid` names) to `peer`. Resolves with how the offer ended; throws when the
 * peer cannot be reached or the offer times out. `beforeSend` runs once the peer wants the bytes (an
 * upload budget to wait for).
 */
export async function pushBlock (node: P2PNode, peer: PeerId, cid: CID, bytes: Uint8Array, options: { signal: AbortSignal, beforeSend?: () => Promise<void> }): Promise<PushOutcome> {
  const { signal } = options
  const stream = await node.libp2p.dialProtocol(peer, SEGMENT_PUSH_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: 1 })
    await lp.write(new TextEncoder().encode(JSON.stringify({ cid: cid.toString(), size: bytes.length })), { signal })
    const answer = (await lp.read({ signal })).subarray()[0]
    if (answer !== WANT && answer !== WANT_AS_LEAF) {
      await stream.close({ signal })
      return 'declined'
    }
    await options.beforeSend?.()
    await lp.write(bytes, { signal })
    await stream.close({ signal })
    return answer === WANT ? 'taken' : 'taken-by-leaf'
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** An offer a receiver took: `take` gets the block's bytes (unchecked), or `abandon` is called. */
export interface PushReceiver {
  /** Checks the bytes against the offer's CID and keeps them; throws when they do not match. */
  take: (bytes: Uint8Array) => Promise<void>
  /** The bytes never came (the sender went away or was too slow). */
  abandon: () => void
}

/** What a receiver does with an offer: `undefined` declines it. */
export type PushDecision = (offer: PushOffer, from: string) => Promise<PushReceiver | undefined>

/**
 * Answers offers with `decide`, saying so when this node is a `leaf`. A malformed offer, or a block
 * over MAX_RAW_BLOCK, ends the stream.
 */
export async function servePushes (node: P2PNode, decide: PushDecision, leaf: () => boolean = () => false): Promise<void> {
  await node.libp2p.handle(SEGMENT_PUSH_PROTOCOL, async (stream: Stream, connection) => {
    const signal = AbortSignal.timeout(PUSH_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: OFFER_MAX_BYTES })
    try {
      const offer = parseOffer((await lp.read({ signal })).subarray())
      if (offer === undefined) throw new Error('malformed push offer')
      const receiver = await decide(offer, connection.remotePeer.toString())
      await lp.write(Uint8Array.of(receiver === undefined ? NO : leaf() ? WANT_AS_LEAF : WANT), { signal })
      if (receiver === undefined) {
        await stream.close({ signal })
        return
      }
      let bytes: Uint8Array
      try {
        bytes = (await lpStream(lp.unwrap(), { maxDataLength: offer.size }).read({ signal })).subarray()
      } catch (err) {
        receiver.abandon()
        throw err
      }
      await receiver.take(bytes)
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { runOnLimitedConnection: false })
}

function parseOffer (bytes: Uint8Array): PushOffer | undefined {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return undefined
  }
  const { cid: cidText, size } = (value ?? {}) as { cid?: unknown, size?: unknown }
  if (typeof cidText !== 'string' || typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_RAW_BLOCK) return undefined
  const cid = tryParseCid(cidText)
  return cid === undefined ? undefined : { cid, size }
}
