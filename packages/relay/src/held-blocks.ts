/**
 * The blocks a room holds for its stored segments, counted per segment that shares them (an fMP4
 * init section is shared by every segment of an origin run), and deleted from the blockstore when the
 * last holder lets go — unless a pinned recording holds the block too.
 */
import { deleteBlock } from '@hivecast/shared/node'
import { CID } from 'multiformats/cid'
import type { P2PNode } from '@hivecast/shared/node'

export class HeldBlocks {
  readonly #node: P2PNode
  readonly #isPinned: (cid: CID) => boolean
  /** Canonical CID string -> how many stored segments hold the block. */
  readonly #counts = new Map<string, number>()

  constructor (node: P2PNode, isPinned: (cid: CID) => boolean = () => false) {
    this.#node = node
    this.#isPinned = isPinned
  }

  /** True when a stored segment of the room holds `cid` (a CID or its canonical string). */
  has (cid: CID | string): boolean {
    return this.#counts.has(cid.toString())
  }

  /** One more segment holds each of these blocks. */
  hold (keys: readonly string[]): void {
    for (const key of keys) this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1)
  }

  /** One segment lets go of each of these blocks; a block nobody holds any more is deleted. */
  async release (keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const count = (this.#counts.get(key) ?? 1) - 1
      if (count > 0) {
        this.#counts.set(key, count)
        continue
      }
      this.#counts.delete(key)
      const cid = CID.parse(key)
      if (!this.#isPinned(cid)) await deleteBlock(this.#node, cid)
    }
  }

  /** Deletes a fetched block that failed its check, unless a segment holds the same block. */
  async discard (cid: CID): Promise<void> {
    if (!this.has(cid)) await deleteBlock(this.#node, cid)
  }
}
