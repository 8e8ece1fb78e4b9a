/**
 * Listing lag: what an outside client watching the relays' playlists sees. The origin makes an interim
 * recording every few seconds and the relays pin each one (`--archive`), so the pinning runs beside the
 * live path as it does at a conference; the client polls every relay's media playlist and notes when
 * each segment first appears, against the moment the origin announced it. Also read from the relays'
 * logs: how many blocks each interim pin fetched and how long it took (a pin that re-walks the whole
 * session grows with its length).
 */
import { relayRoutes } from '@hivecast/shared'
import { startDevnet } from '@hivecast/devnet'
import { summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

interface OriginStatus {
  recent: Array<{ rendition: string, seq: number, cid: string, publishedAt: number }>
}

export interface ListingLagResult {
  relays: number
  seconds: number
  recordingInterval: number
  /** Origin announced -> listed in a relay's media playlist, ms, one sample per segment and relay. */
  lagMs: Summary
  /** Blocks fetched per interim recording pin, and its duration in ms; undefined when no pin finished in the run. */
  pinBlocks?: Summary
  pinMs?: Summary
}

const POLL_MS = 100
const PINNED = /recording \S+: pinned (\d+) (?:new )?blocks.* in (\d+) ms/

/** A playlist's text; empty while the relay lists nothing yet (404 or 503 before its first segment). */
async function playlistText (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  if (res.status === 404 || res.status === 503) return ''
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  return await res.text()
}

export async function measureListingLag (options: { relays: number, seconds: number, recordingInterval: number }): Promise<ListingLagResult> {
  const pins: Array<{ blocks: number, ms: number }> = []
  const log = (line: string): void => {
    const match = PINNED.exec(line)
    if (match !== null) pins.push({ blocks: Number(match[1]), ms: Number(match[2]) })
  }
  const rendition = '360p'
  const devnet = await startDevnet({ relays: options.relays, renditions: rendition, archive: true, recordingInterval: options.recordingInterval, log })
  try {
    const published = new Map<string, number>()
    /** `<relay index>/<cid>` -> first seen in that relay's playlist. */
    const listed = new Map<string, number>()
    const liveFrom = Date.now()
    const until = liveFrom + options.seconds * 1000
    while (Date.now() < until) {
      const started = Date.now()
      const [origin, ...playlists] = await Promise.all([
        fetch(`${devnet.origin.url}/status`, { signal: AbortSignal.timeout(5000) }).then(async res => await res.json() as OriginStatus),
        ...devnet.relays.map(async relay => await playlistText(`${relay.url}${relayRoutes.mediaPlaylist(devnet.room, rendition)}`))
      ])
      const seen = Date.now()
      for (const s of origin.recent) if (s.rendition === rendition) published.set(s.cid, s.publishedAt)
      for (const [index, playlist] of playlists.entries()) {
        for (const line of playlist.split('\n')) {
          const cid = /^\/ipfs\/([^?]+)/.exec(line)?.[1]
          if (cid !== undefined && !listed.has(`${index}/${cid}`)) listed.set(`${index}/${cid}`, seen)
        }
      }
      await new Promise(resolve => setTimeout(resolve, Math.max(0, POLL_MS - (Date.now() - started))))
    }
    const lags: number[] = []
    for (const [key, at] of listed) {
      const publishedAt = published.get(key.slice(key.indexOf('/') + 1))
      // Segments announced before the client started watching say nothing about the live path.
      if (publishedAt !== undefined && publishedAt >= liveFrom) lags.push(at - publishedAt)
    }
    return {
      relays: options.relays,
      seconds: options.seconds,
      recordingInterval: options.recordingInterval,
      lagMs: summarize(lags),
      pinBlocks: pins.length === 0 ? undefined : summarize(pins.map(p => p.blocks)),
      pinMs: pins.length === 0 ? undefined : summarize(pins.map(p => p.ms))
    }
  } finally {
    await devnet.stop()
  }
}
