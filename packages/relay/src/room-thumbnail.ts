/**
 * A room's newest thumbnail: taken when its signed announcement is newer than the one held, fetched as
 * one raw block of at most MAX_THUMBNAIL_BYTES, checked to be that block and a JPEG, kept in memory
 * for HTTP (`/rooms/<room>/thumbnail.jpg`) and in the blockstore for peers; the previous one is dropped.
 */
import { MAX_THUMBNAIL_BYTES, verifyRawBlock } from '@hivecast/shared'
import { CID } from 'multiformats/cid'
import type { SignedEnvelope, VerifiedThumbnail } from '@hivecast/shared'
import type { BlockFetcher } from './block-fetcher.ts'
import type { HeldBlocks } from './held-blocks.ts'

/** The newest room thumbnail this relay holds. */
export interface RoomThumbnail {
  cid: string
  /** When the origin took it, ms since the epoch. */
  at: number
  width: number
  height: number
  bytes: Uint8Array
  envelope: SignedEnvelope
}

export interface RoomThumbnailOptions {
  fetchBlock: BlockFetcher
  fetchTimeoutMs: number
  /** The room's segment blocks: a thumbnail block a segment shares is never deleted. */
  held: HeldBlocks
  /** Aborted when the room is no longer followed. */
  stopping: AbortSignal
  /** A thumbnail that could not be taken, and why (counted as `unusable-thumbnail`). */
  onUnusable: (detail: string) => void
}

export class RoomThumbnailKeeper {
  readonly #options: RoomThumbnailOptions
  #current: RoomThumbnail | undefined
  /** The thumbnail being fetched, so repeats of its announcement are not fetched again. */
  #fetching: string | undefined

  constructor (options: RoomThumbnailOptions) {
    this.#options = options
  }

  /** The newest thumbnail fetched and checked, or undefined before the first. */
  current (): RoomThumbnail | undefined {
    return this.#current
  }

  /** Takes a verified thumbnail announcement in the background; false for an old or repeated one (not passed on). */
  take ({ announcement, envelope }: VerifiedThumbnail): boolean {
    const { stopping, fetchBlock, fetchTimeoutMs, held } = this.#options
    if (stopping.aborted) return false
    if (this.#current !== undefined && announcement.at <= this.#current.at) return false
    if (this.#fetching === announcement.cid) return false
    this.#fetching = announcement.cid
    const cid = CID.parse(announcement.cid)
    void (async () => {
      const bytes = await fetchBlock(cid, AbortSignal.any([AbortSignal.timeout(fetchTimeoutMs), stopping]))
      // Served as image/jpeg: it must be one (SOI marker), besides small and the block it claims to be.
      const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff
      if (bytes.length > MAX_THUMBNAIL_BYTES || !jpeg || !(await verifyRawBlock(cid, bytes))) {
        await held.discard(cid)
        throw new Error(`it is ${bytes.length} bytes (at most ${MAX_THUMBNAIL_BYTES} allowed)${jpeg ? '' : ', not a JPEG'}`)
      }
      // A newer one may have been taken while this one was fetched.
      if (this.#current !== undefined && announcement.at <= this.#current.at) return
      const previous = this.#current
      this.#current = { cid: announcement.cid, at: announcement.at, width: announcement.width, height: announcement.height, bytes, envelope }
      if (previous !== undefined && previous.cid !== announcement.cid) await held.discard(CID.parse(previous.cid))
    })().catch((err: Error) => {
      if (!stopping.aborted) this.#options.onUnusable(`thumbnail ${announcement.cid} not taken: ${err.message}`)
    }).finally(() => {
      if (this.#fetching === announcement.cid) this.#fetching = undefined
    })
    return true
  }
}
