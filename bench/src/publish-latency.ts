/**
 * Publish latency: from the moment ffmpeg lists a finished segment (the origin's `finishedAt`) to the
 * moment the last relay has it stored and listed (`storedAt` in each relay's window). All processes
 * run on this machine, so one clock serves every timestamp.
 */
import { startDevnet } from '@hivecast/devnet'
import { summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

interface OriginStatus {
  recent: Array<{ rendition: string, seq: number, cid: string, size: number, finishedAt: number, publishedAt: number }>
}
interface RelayWindow {
  renditions: Record<string, Array<{ envelope: { payload: string }, storedAt: number | null }>>
}

export interface PublishLatencyResult {
  /** Segments that reached every relay (fewer than asked when the deadline passed first). */
  segments: number
  /** Segments asked for, and the seconds they had. */
  asked: number
  deadlineSeconds: number
  relays: number
  renditions: string
  /** Whether the origin and relays pushed segments down the tree (else relays fetched them by turns). */
  push: boolean
  /** Bytes the origin sent over libp2p per byte of the measured segments. */
  originUploadPerStreamByte: number
  /** ffmpeg finished -> stored on every relay, ms; null when no segment reached every relay in time. */
  endToEnd: Summary | null
  /** ffmpeg finished -> announced by the origin (read, hash, store, sign, publish), ms. */
  originPublish: Summary | null
}

async function json<T> (url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  return await res.json() as T
}

/**
 * `warmupSeconds`: run this long before measuring, so relays have found each other in the directory
 * (the tree is built from it) as they have in a running conference.
 */
export async function measurePublishLatency (options: { segments: number, relays: number, renditions: string, push?: boolean, warmupSeconds?: number }): Promise<PublishLatencyResult> {
  const push = options.push ?? true
  const devnet = await startDevnet({ relays: options.relays, renditions: options.renditions, push, countOriginUpload: true, log: null })
  try {
    const finished = new Map<string, { size: number, finishedAt: number, publishedAt: number }>()
    const stored = new Map<string, number[]>()
    await new Promise(resolve => setTimeout(resolve, (options.warmupSeconds ?? 0) * 1000))
    // Segments finished before every relay was up reach them by catch-up, not by the live path.
    const liveFrom = Date.now()
    const upload0 = devnet.originUpload!.downstreamBytes
    const complete = (): string[] => [...finished.keys()].filter(key =>
      finished.get(key)!.finishedAt >= liveFrom && stored.get(key)?.filter(t => t !== undefined).length === options.relays)
    const deadlineSeconds = options.segments * 4 + 30
    const deadline = Date.now() + deadlineSeconds * 1000
    // A way of fetching that cannot keep up is a result too: reported with what did arrive.
    while (complete().length < options.segments && Date.now() < deadline) {
      const origin = await json<OriginStatus>(`${devnet.origin.url}/status`)
      for (const s of origin.recent) finished.set(`${s.rendition}/${s.seq}`, s)
      for (const [index, relay] of devnet.relays.entries()) {
        const window = await json<RelayWindow>(`${relay.url}/rooms/${devnet.room}/window.json`)
        for (const [rendition, entries] of Object.entries(window.renditions)) {
          for (const entry of entries) {
            const key = `${rendition}/${(JSON.parse(entry.envelope.payload) as { seq: number }).seq}`
            // Listed before it is held: storedAt is null until the block is in the relay's store.
            if (entry.storedAt === null) continue
            const times = stored.get(key) ?? []
            times[index] = entry.storedAt
            stored.set(key, times)
          }
        }
      }
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const upload = devnet.originUpload!.downstreamBytes - upload0
    const streamBytes = [...finished.values()].filter(s => s.publishedAt >= liveFrom).reduce((n, s) => n + s.size, 0)
    const keys = complete().sort((a, b) => finished.get(a)!.finishedAt - finished.get(b)!.finishedAt).slice(0, options.segments)
    return {
      segments: keys.length,
      asked: options.segments,
      deadlineSeconds,
      relays: options.relays,
      renditions: options.renditions,
      push,
      originUploadPerStreamByte: upload / streamBytes,
      endToEnd: keys.length === 0 ? null : summarize(keys.map(key => Math.max(...stored.get(key)!) - finished.get(key)!.finishedAt)),
      originPublish: keys.length === 0 ? null : summarize(keys.map(key => finished.get(key)!.publishedAt - finished.get(key)!.finishedAt))
    }
  } finally {
    await devnet.stop()
  }
}
