/**
 * Announces the parts the StreamSegmenter cuts: each part is stored as one raw block, numbered with the
 * media sequence number its segment will be announced under (reserved from the SegmentPublisher when
 * the segment's first part is cut), signed with the room key under the parts' domain and published on
 * the room's parts topic. Each rendition is a queue, so its parts go out in order.
 */
import { encodeEnvelope, parsePartAnnouncement, rawCid, signPartAnnouncement } from '@hivecast/shared'
import type { PartAnnouncement } from '@hivecast/shared'
import { deleteBlock } from '@hivecast/shared/node'
import type { Identity, P2PNode } from '@hivecast/shared/node'
import type { CID } from 'multiformats/cid'
import type { CutPart } from './part-cutter.ts'

export interface PublishedPart {
  rendition: string
  seq: number
  part: number
  cid: string
  size: number
  /** When the bytes that closed the part were read from ffmpeg's file, ms since the epoch. */
  seenAt: number
  /** When the gossip publish returned, ms since the epoch. */
  publishedAt: number
}

/** Milliseconds from reading a part's closing bytes to its announcement going out, over the last parts. */
export interface PartLatency {
  p50: number
  p99: number
  samples: number
}

/** Latencies kept for PartLatency. */
const LATENCY_SAMPLES = 1000
/**
 * How long a part's block stays in the origin's blockstore: relays fetch it within a second or two, and
 * the segment (kept for recordings) holds the same bytes, so parts would otherwise double the disk used.
 */
const PART_KEEP_MS = 30_000

export interface PartPublisherOptions {
  node: P2PNode
  identity: Identity
  room: string
  /** The room's parts topic (`roomPartsTopic`). */
  topic: string
  /** The origin run's id, as in its segment announcements. */
  session: string
  /** The sequence number the segment at `file` is (or will be) announced under. */
  seqFor: (rendition: string, file: string) => Promise<number>
  log: (line: string) => void
  onPublished: (part: PublishedPart, bytes: Uint8Array) => void
}

export class PartPublisher {
  readonly #options: PartPublisherOptions
  readonly #queues = new Map<string, Promise<void>>()
  readonly #latencies: number[] = []
  /** Part blocks stored, oldest first, deleted PART_KEEP_MS after they were announced. */
  readonly #stored: Array<{ cid: CID, at: number }> = []
  /** Parts announced. */
  published = 0
  /** Parts that could not be stored or announced (logged). */
  dropped = 0
  /** Parts stored and signed whose gossip publish failed (no relay of the room takes parts yet, or none is up). */
  publishErrors = 0

  constructor (options: PartPublisherOptions) {
    this.#options = options
  }

  enqueue (rendition: string, file: string, parts: readonly CutPart[], seenAt: number): void {
    // Asked now, not in the queue: the segment takes the number reserved for it when it is published.
    const seq = this.#options.seqFor(rendition, file)
    seq.catch(() => {})
    const queue = this.#queues.get(rendition) ?? Promise.resolve()
    this.#queues.set(rendition, queue.then(async () => {
      for (const part of parts) await this.#publish(rendition, await seq, part, seenAt)
    }).catch((err: Error) => {
      this.dropped++
      this.#options.log(`${rendition}: a part of ${file} was not published: ${err.message}`)
    }))
  }

  /** The publish latency over the last parts; null before the first. */
  latency (): PartLatency | null {
    if (this.#latencies.length === 0) return null
    const sorted = [...this.#latencies].sort((a, b) => a - b)
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
    return { p50: at(0.5), p99: at(0.99), samples: sorted.length }
  }

  async #forgetOld (): Promise<void> {
    const horizon = Date.now() - PART_KEEP_MS
    while (this.#stored.length > 0 && this.#stored[0]!.at < horizon) {
      const { cid } = this.#stored.shift()!
      await deleteBlock(this.#options.node, cid).catch((err: Error) => { this.#options.log(`cannot delete part block ${cid.toString()}: ${err.message}`) })
    }
  }

  /** Resolves when the parts of `rendition` enqueued so far are published or dropped. */
  async settled (rendition: string): Promise<void> {
    await this.#queues.get(rendition)
  }

  /** Resolves when everything enqueued so far is published or dropped. */
  async drain (): Promise<void> {
    await Promise.all(this.#queues.values())
  }

  async #publish (rendition: string, seq: number, part: CutPart, seenAt: number): Promise<void> {
    const { node, identity, room, topic, session } = this.#options
    const cid = await rawCid(part.bytes)
    const announcement: PartAnnouncement = {
      kind: 'part',
      room,
      rendition,
      session,
      seq,
      part: part.index,
      cid: cid.toString(),
      size: part.bytes.length,
      duration: part.duration,
      independent: part.independent,
      last: part.last
    }
    const checked = parsePartAnnouncement(announcement)
    if (!checked.ok) throw new Error(`it would make an invalid part announcement (${checked.reason})`)
    await node.blockstore.put(cid, part.bytes)
    // A segment cut into one part has the segment's own block, which recordings keep.
    if (!(part.index === 0 && part.last)) this.#stored.push({ cid, at: Date.now() })
    await this.#forgetOld()
    const envelope = await signPartAnnouncement(announcement, identity.privateKey, identity.id)
    try {
      await node.libp2p.services.pubsub.publish(topic, encodeEnvelope(envelope))
    } catch {
      this.publishErrors++
    }
    const publishedAt = Date.now()
    this.published++
    this.#latencies.push(publishedAt - seenAt)
    if (this.#latencies.length > LATENCY_SAMPLES) this.#latencies.shift()
    this.#options.onPublished({ rendition, seq, part: part.index, cid: announcement.cid, size: announcement.size, seenAt, publishedAt }, part.bytes)
  }
}
