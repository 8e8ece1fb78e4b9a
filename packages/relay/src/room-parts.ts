/**
 * A room's LL-HLS parts at the relay. Part announcements come on the room's parts topic (signed by a
 * room key under the parts' own domain); only the followed origin's are taken. Each part's block is
 * fetched like a segment's (pushed down the tree or by bitswap), checked against its announced size and
 * CID, and only then held and listed; one that fails is counted and never listed or served. Parts are
 * kept for the newest KEPT_SEGMENTS segments of each rendition, then let go (their segment stays).
 *
 * A segment's parts joined are its bytes: once all of them are held, the relay stores the joined block
 * under its own CID, so the segment, announced next under that CID, is already here and is neither
 * pushed nor fetched again (the tree would otherwise carry every byte twice).
 */
import { rawCid, roomPartsTopic, verifyPartEnvelope } from '@hivecast/shared'
import { getBlock } from '@hivecast/shared/node'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { CID } from 'multiformats/cid'
import type { Logger, PartAnnouncement, Room, SignedEnvelope } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import type { TopicValidatorFn } from '@libp2p/gossipsub'
import type { BlockFetcher } from './block-fetcher.ts'
import type { HeldBlocks } from './held-blocks.ts'
import { fetchVerified } from './segment-fetch.ts'

/** Segments of a rendition whose parts are kept: the in-progress one and the three before it. */
export const KEPT_SEGMENTS = 4
/** How long a segment's fetch waits for its parts still on their way to join into it. */
const JOIN_WAIT_MS = 2000

export interface PartRecord {
  announcement: PartAnnouncement
  envelope: SignedEnvelope
  state: 'pending' | 'stored' | 'failed'
}

export interface RoomPartsOptions {
  fetchBlock: BlockFetcher
  fetchTimeoutMs: number
  held: HeldBlocks
  /** The room key whose segments are listed now: other origins' parts are dropped. */
  following: () => string
  /** A part was held (or failed): blocked playlist reloads look again. */
  onChange: () => void
  /** Counts a refused part by why (the room's `rejected` counts). */
  reject: (reason: 'unusable-part' | 'invalid-part', detail: string) => void
  stopping: AbortSignal
  log: Logger
}

export class RoomParts {
  readonly topic: string
  readonly #node: P2PNode
  readonly #room: Room
  readonly #options: RoomPartsOptions
  /** Per rendition, per segment seq, its parts by index. */
  readonly #renditions = new Map<string, Map<number, PartRecord[]>>()
  /** Per rendition, the longest part seen: the playlist's PART-TARGET. */
  readonly #target = new Map<string, number>()
  /** Per `<rendition>/<seq>`, the segment block joined from its parts (held while the parts are kept). */
  readonly #joined = new Map<string, string>()
  /** Per `<rendition>/<seq>`, fetches waiting for the segment to be joined; woken with or without it. */
  readonly #joinWaiters = new Map<string, Array<() => void>>()
  /**
   * Parts held; parts whose block could not be had or did not match its announcement (never listed);
   * segments joined from their parts.
   */
  readonly counts = { held: 0, failed: 0, joined: 0 }

  constructor (node: P2PNode, room: Room, options: RoomPartsOptions) {
    this.#node = node
    this.#room = room
    this.#options = options
    this.topic = roomPartsTopic(room.slug)
  }

  start (): void {
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.topicValidators.set(this.topic, this.#validate)
    pubsub.subscribe(this.topic)
  }

  stop (): void {
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
    for (const wakers of this.#joinWaiters.values()) for (const wake of wakers) wake()
    this.#joinWaiters.clear()
  }

  /** The longest part of `rendition` seen, seconds; undefined before its first part. */
  target (rendition: string): number | undefined {
    return this.#target.get(rendition)
  }

  /** The held parts of segment `seq`, in order from its first up to the first not held yet. */
  held (rendition: string, seq: number): PartRecord[] {
    const parts = this.#renditions.get(rendition)?.get(seq) ?? []
    const held: PartRecord[] = []
    for (let i = 0; i < parts.length && parts[i]?.state === 'stored'; i++) held.push(parts[i]!)
    return held
  }

  /**
   * Resolves once segment `seq` is joined from its parts, or at once when it cannot be: its first part
   * is not known (this relay came in later), or one failed. While parts are still to be announced it
   * waits at most JOIN_WAIT_MS; once every part up to the last is announced and none failed, it waits
   * for them (each fetch ends within `fetchTimeoutMs`). A segment fetched beside parts still on their
   * way came down the tree twice (its offer, declined during the wait, does not come again, so the
   * fetch went to the origin): 15 % of segments in the network lab with parts on.
   */
  async joined (rendition: string, seq: number): Promise<void> {
    const key = `${rendition}/${seq}`
    const deadline = Date.now() + this.#options.fetchTimeoutMs
    for (let first = true; ; first = false) {
      const parts = this.#renditions.get(rendition)?.get(seq)
      if (this.#joined.has(key) || parts?.[0] === undefined || parts.some(p => p?.state === 'failed')) return
      // Part arrays are sparse while announcements come out of order. Once none is pending, only the
      // join itself is left (it wakes us), or it failed.
      const onTheirWay = parts.at(-1)?.announcement.last === true && parts.filter(p => p !== undefined).length === parts.length &&
        parts.some(p => p.state === 'pending')
      const left = deadline - Date.now()
      if ((!first && !onTheirWay) || left <= 0 || this.#options.stopping.aborted) return
      await new Promise<void>(resolve => {
        const timer = setTimeout(wake, onTheirWay ? left : Math.min(JOIN_WAIT_MS, left))
        function wake (): void {
          clearTimeout(timer)
          resolve()
        }
        this.#joinWaiters.set(key, [...this.#joinWaiters.get(key) ?? [], wake])
      })
    }
  }

  #wake (rendition: string, seq: number): void {
    const key = `${rendition}/${seq}`
    for (const wake of this.#joinWaiters.get(key) ?? []) wake()
    this.#joinWaiters.delete(key)
  }

  readonly #validate: TopicValidatorFn = async (_peer, message) => {
    const result = await verifyPartEnvelope(message.data, this.#room.keys)
    if (!result.ok) {
      this.#options.reject('invalid-part', result.reason)
      return TopicValidatorResult.Reject
    }
    return this.take(result.value.announcement, result.value.envelope) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
  }

  /** Takes a verified part announcement; false for a repeat, a stale one, or another origin's (not forwarded). */
  take (announcement: PartAnnouncement, envelope: SignedEnvelope): boolean {
    if (this.#options.stopping.aborted || announcement.room !== this.#room.slug || envelope.key !== this.#options.following()) return false
    let segments = this.#renditions.get(announcement.rendition)
    if (segments === undefined) {
      segments = new Map()
      this.#renditions.set(announcement.rendition, segments)
    }
    const newest = Math.max(announcement.seq, ...segments.keys())
    if (announcement.seq <= newest - KEPT_SEGMENTS) return false
    const parts = segments.get(announcement.seq) ?? []
    const known = parts[announcement.part]
    if (known !== undefined) {
      if (known.announcement.cid !== announcement.cid) this.#options.reject('invalid-part', `part ${announcement.part} of seq ${announcement.seq} announced again with another CID`)
      return false
    }
    const record: PartRecord = { announcement, envelope, state: 'pending' }
    parts[announcement.part] = record
    segments.set(announcement.seq, parts)
    this.#target.set(announcement.rendition, Math.max(this.#target.get(announcement.rendition) ?? 0, announcement.duration))
    for (const [seq, old] of segments) if (seq <= newest - KEPT_SEGMENTS) this.#drop(segments, seq, old)
    this.#fetch(record).catch(err => this.#options.log.error(`room ${this.#room.slug}: fetch of part ${announcement.cid} crashed: ${(err as Error).message}`))
    return true
  }

  async #fetch (record: PartRecord): Promise<void> {
    const { rendition, seq, part, cid, size } = record.announcement
    const what = `${this.#room.slug}/${rendition} seq ${seq} part ${part} (${cid})`
    const signal = AbortSignal.any([AbortSignal.timeout(this.#options.fetchTimeoutMs), this.#options.stopping])
    const stored = await fetchVerified(CID.parse(cid), size, what, signal, { ...this.#options, log: this.#options.log })
    if (this.#options.stopping.aborted) return
    // Dropped meanwhile (its segment slid out): the block is let go at once.
    const kept = this.#renditions.get(rendition)?.get(seq)?.[part] === record
    if (stored && kept) {
      record.state = 'stored'
      this.#options.held.hold([cid])
      this.counts.held++
      await this.#join(rendition, seq).catch((err: Error) => {
        this.#options.log.warn(`${what}: joining its segment's parts failed: ${err.message}`)
        // The segment is fetched instead.
        this.#wake(rendition, seq)
      })
    } else {
      record.state = 'failed'
      this.#wake(rendition, seq)
      if (!stored) {
        this.counts.failed++
        this.#options.reject('unusable-part', `${what} could not be had or did not match its CID`)
      }
    }
    this.#options.onChange()
  }

  /** Stores segment `seq` joined from its parts once all of them, up to the last, are held. */
  async #join (rendition: string, seq: number): Promise<void> {
    const key = `${rendition}/${seq}`
    const parts = this.held(rendition, seq)
    if (this.#joined.has(key) || parts.at(-1)?.announcement.last !== true) return
    const signal = AbortSignal.any([AbortSignal.timeout(this.#options.fetchTimeoutMs), this.#options.stopping])
    const blocks = await Promise.all(parts.map(async p => await getBlock(this.#node, CID.parse(p.announcement.cid), { signal, offline: true })))
    const bytes = Buffer.concat(blocks)
    const cid = await rawCid(bytes)
    // Dropped or joined meanwhile.
    if (this.#joined.has(key) || this.#renditions.get(rendition)?.get(seq) === undefined) return
    await this.#node.blockstore.put(cid, bytes)
    this.#joined.set(key, cid.toString())
    this.#options.held.hold([cid.toString()])
    this.counts.joined++
    this.#wake(rendition, seq)
  }

  #drop (segments: Map<number, PartRecord[]>, seq: number, parts: readonly PartRecord[]): void {
    segments.delete(seq)
    const held = parts.flatMap(p => p?.state === 'stored' ? [p.announcement.cid] : [])
    const rendition = parts.find(p => p !== undefined)?.announcement.rendition
    if (rendition !== undefined) this.#wake(rendition, seq)
    const joined = rendition === undefined ? undefined : this.#joined.get(`${rendition}/${seq}`)
    if (joined !== undefined) {
      this.#joined.delete(`${rendition}/${seq}`)
      held.push(joined)
    }
    if (held.length > 0) this.#options.held.release(held).catch(err => this.#options.log.warn(`room ${this.#room.slug}: letting parts go failed: ${(err as Error).message}`))
  }
}
