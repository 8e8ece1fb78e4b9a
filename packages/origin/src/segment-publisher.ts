/**
 * Turns a finished segment into an announcement: reads ffmpeg's file, stores it as one raw block,
 * takes the rendition's next sequence number, signs, and publishes on the room topic. Each rendition
 * is a queue, so its segments go out in the order ffmpeg finished them. An fMP4 segment's init section
 * is stored as a block of its own (once per ffmpeg run) and named in the announcement.
 */
import { randomBytes } from 'node:crypto'
import { readFile, unlink } from 'node:fs/promises'
import { MAX_INIT_BYTES, MAX_RAW_BLOCK, encodeEnvelope, parseAnnouncement, rawCid, signAnnouncement } from '@hivecast/shared'
import type { RenditionInfo, SegmentAnnouncement, SignedEnvelope } from '@hivecast/shared'
import type { Identity, P2PNode } from '@hivecast/shared/node'
import type { FinishedSegment } from './playlist-watcher.ts'
import type { SequenceState } from './sequence-state.ts'

export interface PublishedSegment {
  rendition: string
  seq: number
  cid: string
  size: number
  duration: number
  pdt: number
  /** When the origin saw ffmpeg list the segment, ms since the epoch. */
  finishedAt: number
  /** When the gossip publish returned, ms since the epoch. */
  publishedAt: number
  /** A segment of the slate (shown while no input arrives), not of the input. */
  slate: boolean
  /** Announced with `discontinuity` (a new encoder run, the slate on or off). */
  discontinuity: boolean
  /** The last segment of the session. */
  end: boolean
}

export interface EnqueueFlags {
  /** The last segment of the session. */
  end?: boolean
  /** This segment does not continue the one before it (the slate came on or went off). */
  discontinuity?: boolean
  /** A segment of the slate. */
  slate?: boolean
  /** Announce under this sequence number (a subtitle segment takes its video segment's), not the next. */
  seq?: number
}

export interface SegmentPublisherOptions {
  node: P2PNode
  identity: Identity
  room: string
  topic: string
  renditions: readonly RenditionInfo[]
  state: SequenceState
  log: (line: string) => void
  /** Called with each announcement before it goes out (the recording journal): a crash then loses nothing announced. */
  record: (announcement: SegmentAnnouncement) => Promise<void>
  /** Called with each segment announced, its envelope and its bytes. */
  onPublished: (segment: PublishedSegment, envelope: SignedEnvelope, bytes: Uint8Array) => void
  /**
   * What a segment is, for its announcement: given the rendition's info so far, returns the info to
   * announce from now on (probed size, frame rate, codecs, measured bandwidth). Throws to drop it.
   * `init` is the fMP4 init section the segment needs, if any.
   */
  describe?: (segment: FinishedSegment, bytes: Uint8Array, info: RenditionInfo, init?: Uint8Array) => Promise<RenditionInfo>
}

/** An init section as stored: its block CID and bytes. */
interface InitSection {
  cid: string
  bytes: Uint8Array
}

export class SegmentPublisher {
  readonly #options: SegmentPublisherOptions
  readonly #info = new Map<string, RenditionInfo>()
  readonly #queues = new Map<string, Promise<void>>()
  readonly #discontinuity = new Set<string>()
  /** Per rendition, the init section its latest segment used (ffmpeg writes one per run). */
  readonly #inits = new Map<string, InitSection>()
  /** This origin run's id, signed into every segment announcement so players can tell runs apart. */
  readonly session = randomBytes(12).toString('base64url')
  /** Segments that could not be stored or announced (logged). */
  dropped = 0
  /** Announcements stored and signed whose gossip publish failed (logged). */
  publishErrors = 0

  constructor (options: SegmentPublisherOptions) {
    this.#options = options
    for (const info of options.renditions) this.#info.set(info.name, info)
  }

  /** The info each rendition is announced with now, in ladder order. */
  renditions (): RenditionInfo[] {
    return [...this.#info.values()]
  }

  /** The next segment published for `rendition` carries `discontinuity: true` (ffmpeg restarted). */
  markDiscontinuity (rendition: string): void {
    this.#discontinuity.add(rendition)
  }

  enqueue (segment: FinishedSegment, flags: EnqueueFlags = {}): void {
    const queue = this.#queues.get(segment.rendition) ?? Promise.resolve()
    this.#queues.set(segment.rendition, queue.then(() => this.#publish(segment, flags)).catch((err: Error) => {
      this.dropped++
      this.#options.log(`${segment.rendition}: segment ${segment.file} not published: ${err.message}`)
    }))
  }

  /** Resolves when everything enqueued so far is published or dropped. */
  async drain (): Promise<void> {
    await Promise.all(this.#queues.values())
  }

  async #publish (segment: FinishedSegment, flags: EnqueueFlags): Promise<void> {
    const { node, identity, room, topic, state, log } = this.#options
    let info = this.#info.get(segment.rendition)
    if (info === undefined) throw new Error(`unknown rendition ${segment.rendition}`)
    const bytes = new Uint8Array(await readFile(segment.file))
    if (bytes.length > MAX_RAW_BLOCK) {
      await unlink(segment.file).catch(() => {})
      throw new Error(`it is ${bytes.length} bytes, over the ${MAX_RAW_BLOCK} byte raw block limit; lower the bitrate or --segment-duration`)
    }
    let init: InitSection | undefined
    try {
      init = segment.init === undefined ? undefined : await this.#initSection(segment.rendition, segment.init)
    } catch (err) {
      await unlink(segment.file).catch(() => {})
      throw err
    }
    if (this.#options.describe !== undefined) {
      try {
        info = await this.#options.describe(segment, bytes, info, init?.bytes)
      } catch (err) {
        await unlink(segment.file).catch(() => {})
        throw err
      }
      this.#info.set(segment.rendition, info)
    }
    const cid = await rawCid(bytes)
    const draft: SegmentAnnouncement = {
      kind: 'segment',
      room,
      rendition: info,
      seq: 0,
      cid: cid.toString(),
      size: bytes.length,
      duration: Math.round(segment.duration * 1000) / 1000,
      // ffmpeg's PDT when it wrote one, else the origin's clock at the segment's first frame.
      pdt: segment.pdt ?? Math.round(segment.finishedAt - segment.duration * 1000),
      discontinuity: flags.discontinuity === true || this.#discontinuity.has(segment.rendition),
      session: this.session,
      end: flags.end ?? false,
      ...init === undefined ? {} : { init: { cid: init.cid, size: init.bytes.length } }
    }
    const checked = parseAnnouncement(draft)
    if (!checked.ok) throw new Error(`it would make an invalid announcement (${checked.reason})`)
    await node.blockstore.put(cid, bytes)
    // The blockstore holds the bytes now; ffmpeg's copy is no longer needed.
    await unlink(segment.file).catch((err: Error) => log(`cannot delete ${segment.file}: ${err.message}`))
    // Saved with the number: a restart's timestamps start past every segment announced.
    state.noteEnd(draft.pdt + draft.duration * 1000)
    const seq = flags.seq === undefined ? await state.take(segment.rendition) : await state.atLeast(segment.rendition, flags.seq + 1).then(() => flags.seq!)
    const announcement: SegmentAnnouncement = { ...draft, seq }
    this.#discontinuity.delete(segment.rendition)
    await this.#options.record(announcement)
    const envelope = await signAnnouncement(announcement, identity.privateKey, identity.id)
    try {
      await node.libp2p.services.pubsub.publish(topic, encodeEnvelope(envelope))
    } catch (err) {
      this.publishErrors++
      log(`${segment.rendition}: publishing seq ${announcement.seq} failed: ${(err as Error).message}`)
    }
    this.#options.onPublished({
      rendition: segment.rendition,
      seq: announcement.seq,
      cid: announcement.cid,
      size: announcement.size,
      duration: announcement.duration,
      pdt: announcement.pdt,
      finishedAt: segment.finishedAt,
      publishedAt: Date.now(),
      slate: flags.slate ?? false,
      discontinuity: announcement.discontinuity,
      end: announcement.end
    }, envelope, bytes)
  }

  /** The init section at `file` (a few KiB, read with every segment), stored as a raw block when it is new. */
  async #initSection (rendition: string, file: string): Promise<InitSection> {
    const bytes = new Uint8Array(await readFile(file))
    const known = this.#inits.get(rendition)
    if (known !== undefined && Buffer.from(known.bytes).equals(bytes)) return known
    if (bytes.length === 0 || bytes.length > MAX_INIT_BYTES) throw new Error(`its init section ${file} is ${bytes.length} bytes, not 1 to ${MAX_INIT_BYTES}`)
    const cid = await rawCid(bytes)
    await this.#options.node.blockstore.put(cid, bytes)
    const section = { cid: cid.toString(), bytes }
    this.#inits.set(rendition, section)
    return section
  }
}
