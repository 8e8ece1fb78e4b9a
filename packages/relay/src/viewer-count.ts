/**
 * Network-wide viewer counts: every VIEWER_COUNT_INTERVAL_MS this relay publishes, per room, the hashes
 * of its live viewer tokens (or their sketch, when many) on VIEWER_COUNT_TOPIC, signed with its own key,
 * and keeps the newest verified count of every other relay of the room. A room's network-wide count
 * is the union of its own tokens and theirs, so a viewer who asks two relays counts once.
 *
 * Trust. A count proves only that its signer holds a key. So counts are taken only from relays in this
 * relay's directory that list the room (bounded, see directory.ts), one per relay and room per half
 * interval, none older than VIEWER_COUNT_TTL_MS or from the future; everything else is dropped and
 * counted. A listed relay can still claim viewers it never had: the network-wide figure is as honest
 * as the room's relays (security.md); the local one counts only tokens this relay saw itself.
 */
import { MAX_ENVELOPE_BYTES, MAX_LISTED_HASHES, VIEWER_COUNT_INTERVAL_MS, VIEWER_COUNT_TOPIC, VIEWER_COUNT_TTL_MS, encodeEnvelope, signViewerCount, verifyViewerCountEnvelope } from '@hivecast/shared'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger, ViewerCountMessage } from '@hivecast/shared'
import type { Identity, P2PNode } from '@hivecast/shared/node'
import type { TopicValidatorFn } from '@libp2p/gossipsub'
import { ViewerSketch } from './viewer-sketch.ts'
import type { ViewerTokens } from './viewer-tokens.ts'

/** Why another relay's count was not taken; shown in /status and /metrics. */
export type ViewerCountRejectReason = 'invalid' | 'oversized' | 'stale' | 'from-the-future' | 'replayed' | 'rate-limited' | 'unknown-relay' | 'bad-sketch'

export interface ViewerCountOptions {
  tokens: ViewerTokens
  /** The rooms this relay follows. */
  rooms: () => string[]
  /** True when `peerId` is a live relay of `room` in this relay's directory. */
  isRelayOf: (peerId: string, room: string) => boolean
  log: Logger
}

/** A room's viewers: tokens seen here, and the union over every relay of the room. */
export interface RoomViewers {
  local: number
  network: number
}

interface HeardCount {
  timestamp: number
  hashes?: readonly string[]
  sketch?: ViewerSketch
}

/** A count this far ahead of the local clock is refused: clocks differ, but not by this much. */
const MAX_CLOCK_SKEW_MS = 30_000

export class ViewerCount {
  readonly #node: P2PNode
  readonly #identity: Identity
  readonly #options: ViewerCountOptions
  /** room -> relay peer id -> its newest verified count. */
  readonly #heard = new Map<string, Map<string, HeardCount>>()
  readonly #rejected = new Map<ViewerCountRejectReason, number>()
  #timer: NodeJS.Timeout | undefined

  constructor (node: P2PNode, identity: Identity, options: ViewerCountOptions) {
    this.#node = node
    this.#identity = identity
    this.#options = options
  }

  start (): void {
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.topicValidators.set(VIEWER_COUNT_TOPIC, this.#validate)
    pubsub.subscribe(VIEWER_COUNT_TOPIC)
    this.#timer = setInterval(() => { void this.#publish() }, VIEWER_COUNT_INTERVAL_MS)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.unsubscribe(VIEWER_COUNT_TOPIC)
    pubsub.topicValidators.delete(VIEWER_COUNT_TOPIC)
  }

  /** The room's viewers now. */
  viewers (room: string, now = Date.now()): RoomViewers {
    const own = this.#options.tokens.hashes(room, now)
    const others = [...this.#heard.get(room) ?? []].filter(([peerId, count]) => now - count.timestamp < VIEWER_COUNT_TTL_MS && this.#options.isRelayOf(peerId, room)).map(([, count]) => count)
    if (others.every(count => count.hashes !== undefined)) {
      const union = new Set(own)
      for (const count of others) for (const hash of count.hashes ?? []) union.add(hash)
      return { local: own.length, network: union.size }
    }
    const sketch = ViewerSketch.of(own)
    for (const count of others) sketch.merge(count.sketch ?? ViewerSketch.of(count.hashes ?? []))
    return { local: own.length, network: Math.max(own.length, sketch.estimate()) }
  }

  rejected (): Partial<Record<ViewerCountRejectReason, number>> {
    return Object.fromEntries(this.#rejected)
  }

  async #publish (): Promise<void> {
    const now = Date.now()
    this.#options.tokens.sweep(now)
    this.#forgetExpired(now)
    for (const room of this.#options.rooms()) {
      const hashes = this.#options.tokens.hashes(room, now)
      const message: ViewerCountMessage = {
        kind: 'viewers',
        peerId: this.#identity.id,
        room,
        timestamp: now,
        ...hashes.length <= MAX_LISTED_HASHES ? { hashes } : { sketch: ViewerSketch.of(hashes).encode() }
      }
      try {
        const envelope = await signViewerCount(message, this.#identity.privateKey, this.#identity.id)
        await this.#node.libp2p.services.pubsub.publish(VIEWER_COUNT_TOPIC, encodeEnvelope(envelope))
      } catch (err) {
        // No other relay subscribed yet is the usual case for a lone relay; anything else is worth a line.
        if (!/NoPeersSubscribedToTopic|no peers/i.test(`${(err as Error).name} ${(err as Error).message}`)) {
          this.#options.log.warn(`viewer count: could not publish room ${room}'s count: ${(err as Error).message}`)
        }
      }
    }
  }

  #forgetExpired (now: number): void {
    for (const [room, counts] of this.#heard) {
      for (const [peerId, count] of counts) if (now - count.timestamp >= VIEWER_COUNT_TTL_MS) counts.delete(peerId)
      if (counts.size === 0) this.#heard.delete(room)
    }
  }

  #reject (reason: ViewerCountRejectReason, detail: string): TopicValidatorResult {
    const count = (this.#rejected.get(reason) ?? 0) + 1
    this.#rejected.set(reason, count)
    if (count === 1 && (reason === 'invalid' || reason === 'bad-sketch')) this.#options.log.warn(`viewer count: rejected a count: ${detail}`)
    return reason === 'invalid' || reason === 'bad-sketch' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
  }

  readonly #validate: TopicValidatorFn = async (peer, message) => {
    if (message.data.byteLength > MAX_ENVELOPE_BYTES) return this.#reject('oversized', `${message.data.byteLength} bytes from ${peer.toString()}`)
    const verified = await verifyViewerCountEnvelope(message.data)
    if (!verified.ok) return this.#reject('invalid', `${verified.reason} (from ${peer.toString()})`)
    const count = verified.value
    const now = Date.now()
    if (count.peerId === this.#identity.id) return TopicValidatorResult.Ignore
    if (count.timestamp > now + MAX_CLOCK_SKEW_MS) return this.#reject('from-the-future', count.peerId)
    if (now - count.timestamp >= VIEWER_COUNT_TTL_MS) return this.#reject('stale', count.peerId)
    if (!this.#options.rooms().includes(count.room) || !this.#options.isRelayOf(count.peerId, count.room)) return this.#reject('unknown-relay', `${count.peerId} for ${count.room}`)
    const known = this.#heard.get(count.room)?.get(count.peerId)
    if (known !== undefined && known.timestamp >= count.timestamp) return this.#reject('replayed', count.peerId)
    if (known !== undefined && count.timestamp - known.timestamp < VIEWER_COUNT_INTERVAL_MS / 2) return this.#reject('rate-limited', count.peerId)
    let heard: HeardCount = { timestamp: count.timestamp, hashes: count.hashes }
    if (count.sketch !== undefined) {
      const sketch = ViewerSketch.decode(count.sketch)
      if (sketch === undefined) return this.#reject('bad-sketch', `a register out of range from ${count.peerId}`)
      heard = { timestamp: count.timestamp, sketch }
    }
    let counts = this.#heard.get(count.room)
    if (counts === undefined) this.#heard.set(count.room, counts = new Map())
    counts.set(count.peerId, heard)
    return TopicValidatorResult.Accept
  }
}
