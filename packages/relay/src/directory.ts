/**
 * The relay directory: this relay publishes a record about itself (signed with its own key) on the
 * directory topic every few seconds and keeps the newest verified record of every other relay, so
 * `GET /directory.json` lists the relays alive right now. A relay that stops publishing ages out after
 * DIRECTORY_TTL_MS; one that shuts down cleanly says so with a final `leaving` record.
 *
 * Trust. A record proves only that its signer holds a key: anyone can mint keys. So the directory is
 * bounded (MAX_ENTRIES signers kept, first come; newcomers are refused while it is full until entries
 * expire), each signer gets one record per MIN_RECORD_GAP_MS, and oversized messages are refused; every
 * refusal is counted. What a record claims earns nothing by itself: `origin: true` gives fetch turns
 * only once the relay has proved it serves the room (see relay.ts), and its addresses are dialed only
 * within the relay's dial scope (see peer-link.ts).
 */
import { DIRECTORY_INTERVAL_MS, DIRECTORY_TOPIC, DIRECTORY_TTL_MS, encodeEnvelope, signDirectoryRecord, verifyDirectoryEnvelope } from '@hivecast/shared'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { DirectoryRecord, SignedEnvelope } from '@hivecast/shared'
import type { Identity, P2PNode } from '@hivecast/shared/node'
import type { TopicValidatorFn } from '@libp2p/gossipsub'
import type { Logger } from '@hivecast/shared'

/** Why a directory message was not taken; counted and shown in /status and /metrics. */
export type DirectoryRejectReason = 'invalid' | 'stale' | 'from-the-future' | 'replayed' | 'oversized' | 'rate-limited' | 'full'

export interface DirectoryEntry {
  record: DirectoryRecord
  /** The signed envelope as received, so a reader can check the signature itself. */
  envelope: SignedEnvelope
}

export interface DirectoryOptions {
  /** This relay's record as of now, without the fields the directory fills in. */
  describe: () => Omit<DirectoryRecord, 'kind' | 'peerId' | 'timestamp' | 'leaving'>
  /** Called with every other live relay's record as it arrives (to dial relays of the same rooms). */
  onRecord: (record: DirectoryRecord) => void
  log: Logger
}

/** A record this far ahead of the local clock is refused: clocks differ, but not by this much. */
const MAX_CLOCK_SKEW_MS = 30_000
/** Other relays' records kept at most: bounds memory and `/directory.json` against signers minted in bulk. */
export const MAX_ENTRIES = 128
/** A directory message larger than this is refused unread (a full honest record is well under 4 KB). */
export const MAX_RECORD_BYTES = 4_096
/** One record per signer per this long: honest relays publish every DIRECTORY_INTERVAL_MS. */
const MIN_RECORD_GAP_MS = DIRECTORY_INTERVAL_MS / 2

export class Directory {
  readonly #node: P2PNode
  readonly #identity: Identity
  readonly #options: DirectoryOptions
  readonly #entries = new Map<string, DirectoryEntry>()
  readonly #rejected = new Map<DirectoryRejectReason, number>()
  #own: DirectoryEntry | undefined
  /** The sorted live list, rebuilt only when an entry changes or expires, not per request. */
  #listed: { entries: DirectoryEntry[], until: number } | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (node: P2PNode, identity: Identity, options: DirectoryOptions) {
    this.#node = node
    this.#identity = identity
    this.#options = options
  }

  start (): void {
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.topicValidators.set(DIRECTORY_TOPIC, this.#validate)
    pubsub.subscribe(DIRECTORY_TOPIC)
    void this.#announce(false)
    this.#timer = setInterval(() => { void this.#announce(false) }, DIRECTORY_INTERVAL_MS)
    this.#timer.unref()
  }

  /** Publishes this relay's record now, between the regular ones (something others must know changed). */
  async republish (): Promise<void> {
    await this.#announce(false)
  }

  /** Publishes the final `leaving` record and stops announcing. */
  async leave (): Promise<void> {
    clearInterval(this.#timer)
    await this.#announce(true)
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.unsubscribe(DIRECTORY_TOPIC)
    pubsub.topicValidators.delete(DIRECTORY_TOPIC)
  }

  /** Live relays, this one included: newest record per relay, younger than the TTL, not leaving. */
  list (now = Date.now()): DirectoryEntry[] {
    if (this.#listed !== undefined && now < this.#listed.until) return this.#listed.entries
    const live = [...this.#entries.values()].filter(e => !e.record.leaving && now - e.record.timestamp < DIRECTORY_TTL_MS)
    if (this.#own !== undefined && !this.#own.record.leaving) live.push(this.#own)
    live.sort((a, b) => a.record.url.localeCompare(b.record.url))
    const until = Math.min(...live.map(e => e.record.timestamp + DIRECTORY_TTL_MS))
    this.#listed = { entries: live, until }
    return live
  }

  rejected (): Partial<Record<DirectoryRejectReason, number>> {
    return Object.fromEntries(this.#rejected)
  }

  async #announce (leaving: boolean): Promise<void> {
    const record: DirectoryRecord = {
      kind: 'relay',
      peerId: this.#identity.id,
      ...this.#options.describe(),
      timestamp: Date.now(),
      leaving
    }
    try {
      const envelope = await signDirectoryRecord(record, this.#identity.privateKey, this.#identity.id)
      this.#own = { record, envelope }
      this.#listed = undefined
      await this.#node.libp2p.services.pubsub.publish(DIRECTORY_TOPIC, encodeEnvelope(envelope))
    } catch (err) {
      // No other relay subscribed yet is the usual case for a lone relay; anything else is worth a line.
      if (!/NoPeersSubscribedToTopic|no peers/i.test(`${(err as Error).name} ${(err as Error).message}`)) {
        this.#options.log.warn(`directory: could not publish this relay's record: ${(err as Error).message}`)
      }
    }
    this.#forgetExpired()
  }

  #forgetExpired (): void {
    const horizon = Date.now() - DIRECTORY_TTL_MS
    for (const [id, entry] of this.#entries) {
      if (entry.record.timestamp < horizon) {
        this.#entries.delete(id)
        this.#listed = undefined
      }
    }
  }

  #reject (reason: DirectoryRejectReason, detail: string): TopicValidatorResult {
    const count = (this.#rejected.get(reason) ?? 0) + 1
    this.#rejected.set(reason, count)
    if (count === 1 && reason === 'invalid') this.#options.log.warn(`directory: rejected a record: ${detail}`)
    return reason === 'invalid' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
  }

  readonly #validate: TopicValidatorFn = async (peer, message) => {
    if (message.data.byteLength > MAX_RECORD_BYTES) return this.#reject('oversized', `${message.data.byteLength} bytes from ${peer.toString()}`)
    const verified = await verifyDirectoryEnvelope(message.data)
    if (!verified.ok) return this.#reject('invalid', `${verified.reason} (from ${peer.toString()})`)
    const { record, envelope } = verified.value
    const now = Date.now()
    if (record.timestamp > now + MAX_CLOCK_SKEW_MS) return this.#reject('from-the-future', record.peerId)
    if (now - record.timestamp >= DIRECTORY_TTL_MS) return this.#reject('stale', record.peerId)
    if (record.peerId === this.#identity.id) return TopicValidatorResult.Ignore
    const known = this.#entries.get(record.peerId)
    if (known !== undefined && known.record.timestamp >= record.timestamp) return this.#reject('replayed', record.peerId)
    if (known !== undefined && record.timestamp - known.record.timestamp < MIN_RECORD_GAP_MS && !record.leaving) return this.#reject('rate-limited', record.peerId)
    if (known === undefined && this.#entries.size >= MAX_ENTRIES) {
      this.#forgetExpired()
      if (this.#entries.size >= MAX_ENTRIES) return this.#reject('full', record.peerId)
    }
    this.#entries.set(record.peerId, { record, envelope })
    this.#listed = undefined
    if (known === undefined && !record.leaving) this.#options.log.info(`directory: relay ${record.url} (${record.peerId}) joined`)
    if (record.leaving) this.#options.log.info(`directory: relay ${record.url} (${record.peerId}) left`)
    else this.#options.onRecord(record)
    return TopicValidatorResult.Accept
  }
}
