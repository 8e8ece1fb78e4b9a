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
import type { CID } from 'multiformats/cid'

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
  /** Publish only once this settles: the segment's last part was cut (parts announce before their segment). */
  after?: Promise<void>
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
  /**
   * Called once a segment's block is stored, before it is numbered, recorded and announced: its bytes
   * can set out (the segment push) while the announcement is made.
   */
  onStored?: (cid: CID, bytes: Uint8Array) => void
  /** Called with each segment announced, its envelope and its bytes. */
  onPublished: (segment: PublishedSegment, envelope: SignedEnvelope, bytes: Uint8Array) => void
  /**
   * What a segment is, for its announcement: given the rendition's info so far, returns the info to
   * announce from now on (probed size, frame rate, codecs, measured bandwidth). Throws to drop it.
   * `init` is the fMP4 init section the segment needs, if any.
   */
  describe?: (segment: FinishedSegment, bytes: Uint8Array, info: RenditionInfo, init?: Uint8Array) => Promise<RenditionInfo>
}

/** Sequence numbers reserved for segments whose parts went out before them; more means those segments never came. */
const MAX_RESERVED = 256
/** ffmpeg's MPEG-TS segment files of a run, `run<n>-<index>.ts` (ladder-command.ts): numbered in that order. */
const RUN_SEGMENT = /^(.*run\d+-)(\d+)\.ts$/

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
  /** Numbers taken for segments ffmpeg is still writing, by file: their parts are announced under them. */
  readonly #reserved = new Map<string, Promise<number>>()
  /** Per rendition, the newest ffmpeg segment file numbered (reserved or published). */
  readonly #numbered = new Map<string, { prefix: string, index: number }>()
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

  /**
   * The number the segment ffmpeg is writing at `file` will be announced under, taken now: its parts
   * go out before it. The cutter sees a rendition's segments in the order ffmpeg writes them, which is
   * the order they are listed and published in, so numbers still rise with time.
   */
  seqFor (rendition: string, file: string): Promise<number> {
    const known = this.#reserved.get(file)
    if (known !== undefined) return known
    // Segments of the run before this one that nothing numbered yet (their parts were missed) take
    // their numbers first: a later segment must never be numbered below an earlier one.
    const name = RUN_SEGMENT.exec(file)
    const last = this.#numbered.get(rendition)
    if (name !== null && last !== undefined && last.prefix === name[1]) {
      const index = Number(name[2])
      // Numbered and gone from the reservations: announced already, too late for parts.
      if (index <= last.index) return Promise.reject(new Error(`${file} was announced already`))
      if (index - last.index <= MAX_RESERVED) for (let before = last.index + 1; before < index; before++) this.#reserve(rendition, `${name[1]}${before}.ts`)
    }
    return this.#reserve(rendition, file)
  }

  #reserve (rendition: string, file: string): Promise<number> {
    const seq = this.#options.state.take(rendition)
    this.#reserved.set(file, seq)
    this.#noteNumbered(rendition, file)
    for (const old of this.#reserved.keys()) {
      if (this.#reserved.size <= MAX_RESERVED) break
      this.#reserved.delete(old)
    }
    return seq
  }

  #noteNumbered (rendition: string, file: string): void {
    const name = RUN_SEGMENT.exec(file)
    if (name === null) return
    const last = this.#numbered.get(rendition)
    if (last === undefined || last.prefix !== name[1] || Number(name[2]) > last.index) this.#numbered.set(rendition, { prefix: name[1]!, index: Number(name[2]) })
  }

  enqueue (segment: FinishedSegment, flags: EnqueueFlags = {}): void {
    const queue = this.#queues.get(segment.rendition) ?? Promise.resolve()
    this.#queues.set(segment.rendition, queue.then(async () => {
      await flags.after
      await this.#publish(segment, flags)
    }).catch((err: Error) => {
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
    this.#options.onStored?.(cid, bytes)
    // The blockstore holds the bytes now; ffmpeg's copy is no longer needed.
    await unlink(segment.file).catch((err: Error) => log(`cannot delete ${segment.file}: ${err.message}`))
    // Saved with the number: a restart's timestamps start past every segment announced.
    state.noteEnd(draft.pdt + draft.duration * 1000)
    const reserved = this.#reserved.get(segment.file)
    this.#reserved.delete(segment.file)
    const seq = flags.seq !== undefined
      ? await state.atLeast(segment.rendition, flags.seq + 1).then(() => flags.seq!)
      : await (reserved ?? state.take(segment.rendition))
    this.#noteNumbered(segment.rendition, segment.file)
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
