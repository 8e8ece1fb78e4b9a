/**
 * Fetching one announced segment's blocks: its fMP4 init section first (once per origin run; later
 * segments find it held), then the segment, each tried twice and checked against the announced size
 * and hash. A segment that cannot be had is listed as a gap, and the log says why.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { RAW_CODEC, verifyRawBlock } from '@hivecast/shared'
import { CID } from 'multiformats/cid'
import type { Logger, SegmentAnnouncement } from '@hivecast/shared'
import type { BlockFetcher } from './block-fetcher.ts'
import type { HeldBlocks } from './held-blocks.ts'

const RETRY_DELAY_MS = 500

export interface SegmentFetchOptions {
  fetchBlock: BlockFetcher
  /** Budget for one segment, init section and retry included. */
  fetchTimeoutMs: number
  held: HeldBlocks
  log: Logger
}

/** Why a fetch stopped early: the relay stops, or the segment's origin went quiet (a standby switch). */
export interface FetchSignals {
  stopping: AbortSignal
  abandon: AbortSignal
}

/** The blocks a stored segment holds: its own and, for fMP4, its init section's. */
export function segmentBlocks (announcement: SegmentAnnouncement): string[] {
  const { cid, init } = announcement
  return init === undefined ? [cid] : [cid, init.cid]
}

/** Fetches and checks a segment's blocks; true when all are in the blockstore. `what` names it in logs. */
export async function fetchSegment (announcement: SegmentAnnouncement, what: string, signals: FetchSignals, options: SegmentFetchOptions): Promise<boolean> {
  const { cid: cidText, size, init } = announcement
  const cid = CID.parse(cidText)
  if (cid.code !== RAW_CODEC) {
    options.log.warn(`${what}: segments over 1 MiB (UnixFS DAGs) are not relayed yet; listed as a gap. Keep origin segments under 1 MiB.`)
    return false
  }
  const signal = AbortSignal.any([AbortSignal.timeout(options.fetchTimeoutMs), signals.stopping, signals.abandon])
  // An fMP4 segment plays only with its init section: the segment is a gap without it.
  const initCid = init === undefined ? undefined : CID.parse(init.cid)
  const initHeld = initCid === undefined || options.held.has(initCid) ||
    await fetchVerified(initCid, init!.size, `${what}: init section ${init!.cid}`, signal, options)
  const stored = initHeld && await fetchVerified(cid, size, what, signal, options)
  const missing = initHeld ? 'the block' : `its init section ${init!.cid}`
  if (!stored && signals.abandon.aborted) options.log.warn(`${what}: its origin went quiet before ${missing} was had; listed as a gap`)
  else if (!stored && !signals.stopping.aborted) options.log.warn(`${what}: ${missing} not fetched within ${options.fetchTimeoutMs} ms; listed as a gap`)
  return stored
}

/**
 * Fetches one announced block (two tries) and checks its size and hash; false when it could not be had.
 * A block that fails the check is deleted again, never held or served.
 */
export async function fetchVerified (cid: CID, size: number, what: string, signal: AbortSignal, options: SegmentFetchOptions): Promise<boolean> {
  for (let attempt = 1; attempt <= 2 && !signal.aborted; attempt++) {
    try {
      const bytes = await options.fetchBlock(cid, signal)
      // Bitswap already checked the hash; the size is the announcement's own claim, checked here.
      if (bytes.length !== size || !(await verifyRawBlock(cid, bytes))) {
        options.log.warn(`${what}: block is ${bytes.length} bytes but ${size} were announced; listed as a gap`)
        await options.held.discard(cid)
        return false
      }
      return true
    } catch (err) {
      if (signal.aborted) break
      options.log.debug(`${what}: fetch attempt ${attempt} failed: ${(err as Error).message}`)
      await sleep(RETRY_DELAY_MS, undefined, { signal }).catch(() => {})
    }
  }
  return false
}
