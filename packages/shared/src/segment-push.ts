/**
 * The segment push (`/hivecast/segment-push/1.1.0`): a node that holds a verified segment block
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
 * the sender writes the block as one length-prefixed message, and the receiver, once it has checked the
 * block against its CID (before it stores or forwards a byte) and stored it, answers one byte, 1. The
 * stream then carries the sender's next offer to that peer: a sender keeps it open SENDER_IDLE_MS
 * (`PushStreams`). 1.0.0 is the same with one offer per stream and no byte after the block; it is
 * still answered and spoken to nodes that know only it.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { MAX_RAW_BLOCK, tryParseCid } from './cid.ts'
import type { P2PNode } from './p2p-node.ts'
import type { PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export const SEGMENT_PUSH_PROTOCOL = '/hivecast/segment-push/1.1.0'
/** One offer per stream, no word back after the block: still answered, for nodes of before 1.1.0. */
const SEGMENT_PUSH_PROTOCOL_1_0 = '/hivecast/segment-push/1.0.0'
const PUSH_PROTOCOLS = [SEGMENT_PUSH_PROTOCOL, SEGMENT_PUSH_PROTOCOL_1_0]
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
/** After the block (1.1.0): checked against its CID and stored. */
const TAKEN = 1
/** How long a sender keeps an unused push stream for the next offer to the same peer. */
const SENDER_IDLE_MS = 20_000
/** How long a receiver waits for the next offer on a stream: longer than SENDER_IDLE_MS, so the sender closes first. */
const RECEIVER_IDLE_MS = 60_000
/** Unused streams a sender keeps per peer (a relay offers a peer one block at a time, mostly). */
const IDLE_STREAMS_PER_PEER = 2

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
  push: (peer: string, cid: CID, bytes: Uint8Array, options: PushOptions) => Promise<PushOutcome>
  /** Answers offers with `decide`, as `servePushes`; `leaf` says whether this node passes blocks on. */
  serve: (decide: PushDecision, leaf: () => boolean) => Promise<void>
}

export function libp2pPushTransport (node: P2PNode): PushTransport {
  const streams = new PushStreams(node)
  return {
    push: async (peer, cid, bytes, options) => await streams.push(peerIdFromString(peer), cid, bytes, options),
    serve: async (decide, leaf) => { await servePushes(node, decide, leaf) }
  }
}

/**
 * Offers `bytes` (the block `cid` names) to `peer` on a stream of its own. Resolves with how the offer
 * ended; throws when the peer cannot be reached or the offer times out. `beforeSend` runs once the
 * peer wants the bytes (an upload budget to wait for).
 */
export async function pushBlock (node: P2PNode, peer: PeerId, cid: CID, bytes: Uint8Array, options: PushOptions): Promise<PushOutcome> {
  const stream = await node.libp2p.dialProtocol(peer, PUSH_PROTOCOLS, { signal: options.signal })
  const lp = lpStream(stream, { maxDataLength: 1 })
  try {
    const outcome = await send(lp, await ask(lp, cid, bytes.length, options.signal), bytes, options)
    await stream.close({ signal: options.signal })
    return outcome
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export interface PushOptions {
  signal: AbortSignal
  beforeSend?: () => Promise<void>
}

type AnswerStream = ReturnType<typeof lpStream<Stream>>

/** Writes the offer and reads the answer. */
async function ask (lp: AnswerStream, cid: CID, size: number, signal: AbortSignal): Promise<number | undefined> {
  await lp.write(new TextEncoder().encode(JSON.stringify({ cid: cid.toString(), size })), { signal })
  return (await lp.read({ signal })).subarray()[0]
}

/** Writes the block when the answer wants it. */
async function send (lp: AnswerStream, answer: number | undefined, bytes: Uint8Array, options: PushOptions): Promise<PushOutcome> {
  if (answer !== WANT && answer !== WANT_AS_LEAF) return 'declined'
  await options.beforeSend?.()
  await lp.write(bytes, { signal: options.signal })
  return answer === WANT ? 'taken' : 'taken-by-leaf'
}

/**
 * The push streams a node keeps open to its peers, so that an offer does not wait for a new stream's
 * protocol negotiation (a round trip at every hop of the tree: on the 8-relay bench, p50 27 ms with one
 * rendition, 78-151 ms with two). One offer at a time per stream; an offer to a peer whose streams are
 * busy opens another.
 */
class PushStreams {
  readonly #node: P2PNode
  readonly #idle = new Map<string, Array<{ stream: Stream, timer: NodeJS.Timeout }>>()

  constructor (node: P2PNode) {
    this.#node = node
  }

  async push (peer: PeerId, cid: CID, bytes: Uint8Array, options: PushOptions): Promise<PushOutcome> {
    const key = peer.toString()
    for (;;) {
      const kept = this.#take(key)
      const stream = kept ?? await this.#node.libp2p.dialProtocol(peer, PUSH_PROTOCOLS, { signal: options.signal })
      const lp = lpStream(stream, { maxDataLength: 1 })
      let answer: number | undefined
      try {
        answer = await ask(lp, cid, bytes.length, options.signal)
      } catch (err) {
        stream.abort(err as Error)
        if (kept === undefined || options.signal.aborted) throw err
        // A kept stream the receiver had closed (idle, or gone): the offer goes on the next one, or a new one.
        continue
      }
      return await this.#send(key, stream, lp, answer, bytes, options)
    }
  }

  async #send (key: string, stream: Stream, lp: AnswerStream, answer: number | undefined, bytes: Uint8Array, options: PushOptions): Promise<PushOutcome> {
    try {
      const outcome = await send(lp, answer, bytes, options)
      if (stream.protocol !== SEGMENT_PUSH_PROTOCOL) await stream.close({ signal: options.signal })
      else if (outcome === 'declined') this.#keep(key, lp.unwrap())
      else void this.#keepWhenTaken(key, stream, lp)
      return outcome
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  /**
   * Keeps the stream once the receiver says it took the block, which it reads the next offer after. The
   * push itself ended when the block was written, as it did when each push closed its stream.
   */
  async #keepWhenTaken (key: string, stream: Stream, lp: AnswerStream): Promise<void> {
    try {
      const word = (await lp.read({ signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) })).subarray()[0]
      if (word !== TAKEN) throw new Error(`the peer answered ${word} after the block`)
      this.#keep(key, lp.unwrap())
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** A kept stream to `key` that can carry an offer, if any. */
  #take (key: string): Stream | undefined {
    const idle = this.#idle.get(key)
    const kept = idle?.pop()
    if (idle?.length === 0) this.#idle.delete(key)
    if (kept === undefined) return undefined
    clearTimeout(kept.timer)
    return usable(kept.stream) ? kept.stream : this.#take(key)
  }

  /** Keeps `stream` for the next offer to `key`, closed after SENDER_IDLE_MS unused. */
  #keep (key: string, stream: Stream): void {
    const idle = this.#idle.get(key) ?? []
    if (idle.length >= IDLE_STREAMS_PER_PEER || !usable(stream)) {
      void stream.close().catch(err => { stream.abort(err as Error) })
      return
    }
    const kept = {
      stream,
      timer: setTimeout(() => {
        const left = (this.#idle.get(key) ?? []).filter(k => k !== kept)
        if (left.length === 0) this.#idle.delete(key)
        else this.#idle.set(key, left)
        void stream.close().catch(err => { stream.abort(err as Error) })
      }, SENDER_IDLE_MS).unref()
    }
    idle.push(kept)
    this.#idle.set(key, idle)
  }
}

function usable (stream: Stream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable'
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
 * Answers offers with `decide`, saying so when this node is a `leaf`: every offer on a stream until
 * the sender closes it or leaves it idle for RECEIVER_IDLE_MS. A malformed offer, a block over
 * MAX_RAW_BLOCK or one that does not match its CID ends the stream.
 */
export async function servePushes (node: P2PNode, decide: PushDecision, leaf: () => boolean = () => false): Promise<void> {
  await node.libp2p.handle(PUSH_PROTOCOLS, async (stream: Stream, connection) => {
    const from = connection.remotePeer.toString()
    // 1.0.0: one offer, no word back after the block (senders before 1.1.0 close after it).
    const streamed = stream.protocol === SEGMENT_PUSH_PROTOCOL
    try {
      let raw = stream
      for (let offers = 0; ; offers++) {
        const lp = lpStream(raw, { maxDataLength: OFFER_MAX_BYTES })
        let offerBytes: Uint8Array
        try {
          offerBytes = (await lp.read({ signal: AbortSignal.timeout(RECEIVER_IDLE_MS) })).subarray()
        } catch (err) {
          // The sender closed the stream, or left it idle, between offers: the stream's natural end.
          if (offers > 0 && (stream.remoteWriteStatus !== 'writable' || (err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError')) {
            await stream.close().catch(() => {})
            return
          }
          throw err
        }
        const signal = AbortSignal.timeout(PUSH_TIMEOUT_MS)
        const offer = parseOffer(offerBytes)
        if (offer === undefined) throw new Error('malformed push offer')
        const receiver = await decide(offer, from)
        await lp.write(Uint8Array.of(receiver === undefined ? NO : leaf() ? WANT_AS_LEAF : WANT), { signal })
        raw = lp.unwrap()
        if (receiver === undefined) continue
        const blockLp = lpStream(raw, { maxDataLength: offer.size })
        let bytes: Uint8Array
        try {
          bytes = (await blockLp.read({ signal })).subarray()
        } catch (err) {
          receiver.abandon()
          throw err
        }
        await receiver.take(bytes)
        if (streamed) await blockLp.write(Uint8Array.of(TAKEN), { signal })
        raw = blockLp.unwrap()
        if (!streamed) {
          await stream.close({ signal })
          return
        }
      }
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
