/**
 * Room thumbnails: every few seconds the first frame of a just-published segment of the smallest
 * rendition (it starts with a keyframe, and is the cheapest to decode) becomes a 320 px JPEG, made by
 * a short ffmpeg run fed the segment's bytes. A separate step rather than an extra output of the
 * ladder's ffmpeg: a sparse output there (fps=1/10) makes ffmpeg hold every rendition's frames back
 * until the next thumbnail is due. Each JPEG is stored as one raw block and announced, signed, on the
 * room topic as a `thumbnail` announcement for the site's room list. The last few blocks are kept so
 * relays a little late can still fetch them; older ones are deleted.
 */
import { execa } from 'execa'
import { MAX_THUMBNAIL_BYTES, encodeEnvelope, parseAnnouncement, rawCid, signAnnouncement } from '@hivecast/shared'
import { deleteBlock } from '@hivecast/shared/node'
import type { SignedEnvelope, ThumbnailAnnouncement } from '@hivecast/shared'
import type { Identity, P2PNode } from '@hivecast/shared/node'
import type { CID } from 'multiformats/cid'

export interface ThumbnailPublisherOptions {
  node: P2PNode
  identity: Identity
  room: string
  topic: string
  ffmpeg: string
  /** Seconds between thumbnails. */
  everySeconds: number
  /** Thumbnail width in pixels; the height keeps the picture's aspect ratio. */
  width: number
  log: (line: string) => void
}

/** Thumbnail blocks kept on the origin: the newest and a few before it, for relays still fetching. */
const KEEP_BLOCKS = 3
const FFMPEG_TIMEOUT_MS = 10_000

/** Width and height from a JPEG's start-of-frame marker; undefined when it is not a JPEG. */
export function jpegSize (bytes: Uint8Array): { width: number, height: number } | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined
  let i = 2
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined
    const marker = bytes[i + 1]!
    // SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = (bytes[i + 5]! << 8) | bytes[i + 6]!
      const width = (bytes[i + 7]! << 8) | bytes[i + 8]!
      return width > 0 && height > 0 ? { width, height } : undefined
    }
    i += 2 + ((bytes[i + 2]! << 8) | bytes[i + 3]!)
  }
  return undefined
}

export class ThumbnailPublisher {
  readonly #options: ThumbnailPublisherOptions
  readonly #kept: CID[] = []
  #busy: Promise<void> | undefined
  #lastTakenAt = 0
  published = 0
  /** Thumbnails that could not be made or used (logged). */
  dropped = 0
  /** The newest thumbnail announced, and its envelope for relays that ask for the room's window. */
  latest: { announcement: ThumbnailAnnouncement, envelope: SignedEnvelope } | undefined

  constructor (options: ThumbnailPublisherOptions) {
    this.#options = options
  }

  /** Offers a published MPEG-TS segment; one is turned into a thumbnail when one is due. */
  offer (segment: Uint8Array): void {
    const now = Date.now()
    if (this.#busy !== undefined || now - this.#lastTakenAt < this.#options.everySeconds * 1000) return
    this.#lastTakenAt = now
    this.#busy = this.#take(segment, now).catch((err: Error) => {
      this.dropped++
      this.#options.log(`thumbnail not published: ${err.message}`)
    }).finally(() => { this.#busy = undefined })
  }

  /** Waits for a thumbnail being made. */
  async settled (): Promise<void> {
    await this.#busy
  }

  async #take (segment: Uint8Array, at: number): Promise<void> {
    const { node, identity, room, topic } = this.#options
    // Full-range JPEG straight from yuv420p: no deprecated yuvj conversion warning per thumbnail.
    const result = await execa(this.#options.ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'mpegts', '-i', 'pipe:0',
      '-frames:v', '1', '-vf', `scale=${this.#options.width}:-2:out_range=full`, '-c:v', 'mjpeg', '-pix_fmt', 'yuv420p', '-color_range', 'pc',
      '-strict', '-1', '-q:v', '5', '-f', 'image2pipe', 'pipe:1'], { input: segment, encoding: 'buffer', reject: false, timeout: FFMPEG_TIMEOUT_MS })
    const bytes = new Uint8Array(result.stdout)
    if (result.exitCode !== 0 || bytes.length === 0) throw new Error(`ffmpeg made no JPEG: ${new TextDecoder().decode(result.stderr).split('\n')[0] ?? `exit ${result.exitCode}`}`)
    if (bytes.length > MAX_THUMBNAIL_BYTES) throw new Error(`it is ${bytes.length} bytes, over the ${MAX_THUMBNAIL_BYTES} byte limit`)
    const size = jpegSize(bytes)
    if (size === undefined) throw new Error('ffmpeg wrote no JPEG with a frame size')
    const cid = await rawCid(bytes)
    const announcement: ThumbnailAnnouncement = { kind: 'thumbnail', room, cid: cid.toString(), at, ...size }
    const checked = parseAnnouncement(announcement)
    if (!checked.ok) throw new Error(`it would make an invalid announcement (${checked.reason})`)
    await node.blockstore.put(cid, bytes)
    this.#kept.push(cid)
    while (this.#kept.length > KEEP_BLOCKS) await deleteBlock(node, this.#kept.shift()!)
    const envelope = await signAnnouncement(announcement, identity.privateKey, identity.id)
    this.latest = { announcement, envelope }
    this.published++
    try {
      await node.libp2p.services.pubsub.publish(topic, encodeEnvelope(envelope))
    } catch (err) {
      this.#options.log(`thumbnail ${announcement.cid}: publishing failed: ${(err as Error).message}`)
    }
  }
}
