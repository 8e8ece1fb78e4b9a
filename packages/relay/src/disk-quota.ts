/**
 * The disk quota: when the segments held by all rooms together exceed it, the oldest live segments are
 * deleted first until they fit. Pinned recordings are never deleted to make room for live data: if
 * only pinned data is left over the quota, the relay says so and keeps it.
 */
import type { HeldSegment, RoomFollower } from './room-follower.ts'
import type { Logger } from '@hivecast/shared'

/** Which segments go first: live ones only, oldest stored first (ties: lower sequence first). */
export function evictionOrder (segments: readonly HeldSegment[]): HeldSegment[] {
  return segments.filter(s => !s.pinned).sort((a, b) => a.storedAt - b.storedAt || a.seq - b.seq)
}

export class DiskQuota {
  readonly #quotaBytes: number | undefined
  readonly #followers: () => Iterable<RoomFollower>
  readonly #log: Logger
  evicted = 0
  #running: Promise<void> | undefined
  #again = false
  #warnedPinned = false

  constructor (quotaBytes: number | undefined, followers: () => Iterable<RoomFollower>, log: Logger) {
    this.#quotaBytes = quotaBytes
    this.#followers = followers
    this.#log = log
  }

  get quotaBytes (): number | undefined {
    return this.#quotaBytes
  }

  /** Bytes of all segments held, summed over their announced sizes. */
  heldBytes (): number {
    let total = 0
    for (const follower of this.#followers()) for (const s of follower.heldSegments()) total += s.size
    return total
  }

  /** Evicts until under the quota; one pass at a time, another after it when asked meanwhile. */
  enforce (): void {
    if (this.#quotaBytes === undefined) return
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#running = this.#evict().catch((err: Error) => { this.#log.error(`disk quota: eviction failed: ${err.message}`) })
      .finally(() => {
        this.#running = undefined
        if (this.#again) {
          this.#again = false
          this.enforce()
        }
      })
  }

  /** Resolves when no eviction pass is running. */
  async settled (): Promise<void> {
    while (this.#running !== undefined) await this.#running
  }

  async #evict (): Promise<void> {
    const quota = this.#quotaBytes!
    const followers = new Map([...this.#followers()].map(f => [f.room.slug, f]))
    const all = [...followers.values()].flatMap(f => f.heldSegments())
    let total = all.reduce((n, s) => n + s.size, 0)
    if (total <= quota) return
    for (const segment of evictionOrder(all)) {
      if (total <= quota) break
      if (await followers.get(segment.room)!.evict(segment.rendition, segment.seq)) {
        total -= segment.size
        this.evicted++
      }
    }
    if (total > quota && !this.#warnedPinned) {
      this.#warnedPinned = true
      this.#log.warn(`disk quota: pinned recordings alone take ${total} bytes, over the quota of ${quota}; they are kept. Raise --disk-quota.`)
    }
  }
}
