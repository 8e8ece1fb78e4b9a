/**
 * What a Chromium page playing a Hivecast room tells the benchmarks, tests and the network lab: the
 * bytes it played by source, its latency behind live, the stalls a person would see, and which of its
 * WebRTC bytes came through a TURN server. One place, so a figure with one name is measured one way.
 * Works on the site's watch page (`window.hivecastPlayer`) and on a page with a `<hivecast-player>`.
 */
import type { Page } from 'playwright-core'

/** Verified segment bytes a player handed to its decoder: from other viewers, and from every source. */
export interface PlayedBytes {
  peers: number
  all: number
}

/** Bytes received over WebRTC by how the connection was routed: directly (host or STUN) or by TURN. */
export interface PeerRouteBytes {
  direct: number
  turn: number
}

export interface Stalls {
  /** `waiting` events after the first `playing`. */
  count: number
  /** Time spent waiting after the first `playing`. */
  ms: number
}

interface PageMarks {
  hcStalls: number
  hcStalledMs: number
  hcStallStart: number | undefined
  hcPlayed: boolean
  hcRoutes: Array<{ direct: number, turn: number }>
}

/** How often each page re-reads its peer connections' stats (a closed connection keeps its last figures). */
const ROUTE_POLL_MS = 2_000

/**
 * Call before `page.goto`: counts stalls and keeps every RTCPeerConnection the page makes, so their
 * bytes can be split by route later.
 */
export async function watchPlayerPage (page: Page): Promise<void> {
  await page.addInitScript((pollMs: number) => {
    const w = window as unknown as PageMarks & { RTCPeerConnection?: typeof RTCPeerConnection }
    w.hcStalls = 0
    w.hcStalledMs = 0
    w.hcPlayed = false
    w.hcRoutes = []
    // Media events do not bubble; the capture phase on document sees them all.
    document.addEventListener('playing', () => {
      if (w.hcStallStart !== undefined) w.hcStalledMs += performance.now() - w.hcStallStart
      w.hcStallStart = undefined
      w.hcPlayed = true
    }, true)
    document.addEventListener('waiting', () => {
      if (!w.hcPlayed || w.hcStallStart !== undefined) return
      w.hcStalls++
      w.hcStallStart = performance.now()
    }, true)
    const Native = w.RTCPeerConnection
    if (Native === undefined) return
    const connections: RTCPeerConnection[] = []
    w.RTCPeerConnection = class extends Native {
      constructor (configuration?: RTCConfiguration) {
        super(configuration)
        connections.push(this)
        w.hcRoutes.push({ direct: 0, turn: 0 })
      }
    }
    setInterval(() => {
      connections.forEach((connection, index) => {
        connection.getStats().then(report => {
          const types = new Map<string, string>()
          report.forEach((entry: { id: string, type: string, candidateType?: string }) => {
            if (entry.type === 'local-candidate' || entry.type === 'remote-candidate') types.set(entry.id, entry.candidateType ?? '')
          })
          const route = { direct: 0, turn: 0 }
          report.forEach((entry: { type: string, bytesReceived?: number, localCandidateId?: string, remoteCandidateId?: string }) => {
            if (entry.type !== 'candidate-pair' || entry.bytesReceived === undefined) return
            const relayed = types.get(entry.localCandidateId ?? '') === 'relay' || types.get(entry.remoteCandidateId ?? '') === 'relay'
            route[relayed ? 'turn' : 'direct'] += entry.bytesReceived
          })
          if (route.direct + route.turn > 0) w.hcRoutes[index] = route
        }, () => {})
      })
    }, pollMs)
  }, ROUTE_POLL_MS)
}

export async function playedBytes (page: Page): Promise<PlayedBytes> {
  return await page.evaluate(() => {
    const player = (window as unknown as { hivecastPlayer?: { stats: () => { bytesBySource: Record<string, number> } } }).hivecastPlayer ??
      document.querySelector('hivecast-player') as unknown as { stats: () => { bytesBySource: Record<string, number> } } | null
    const bySource = player?.stats().bytesBySource ?? {}
    return { peers: bySource.peers ?? 0, all: Object.values(bySource).reduce((a, b) => a + b, 0) }
  })
}

/** One field of the player's `stats()` on the watch page or in `<hivecast-player>`; null before there is a player. */
async function playerStat (page: Page, field: string): Promise<unknown> {
  return await page.evaluate(name => {
    const player = (window as unknown as { hivecastPlayer?: { stats: () => Record<string, unknown> } }).hivecastPlayer ??
      document.querySelector('hivecast-player') as unknown as { stats: () => Record<string, unknown> } | null
    return player?.stats()[name] ?? null
  }, field)
}

/** The player's `latencyMs`: now minus the program-date-time of the frame on screen; null before one. */
export async function playerLatencyMs (page: Page): Promise<number | null> {
  const ms = await playerStat(page, 'latencyMs')
  return typeof ms === 'number' ? ms : null
}

/** The player's `bufferSeconds`: seconds buffered ahead of the playhead; null before there is a player. */
export async function playerBufferSeconds (page: Page): Promise<number | null> {
  const seconds = await playerStat(page, 'bufferSeconds')
  return typeof seconds === 'number' ? seconds : null
}

/** Times the player played faster to get its viewer back near the live edge. */
export async function playerCatchUps (page: Page): Promise<number> {
  const times = await playerStat(page, 'catchUps')
  return typeof times === 'number' ? times : 0
}

/** The player's viewer swarm: `on`, `off`, `starting` or `unavailable`, and how many viewers it is connected to. */
export async function playerSwarm (page: Page): Promise<{ p2p: string, peers: number }> {
  return await page.evaluate(() => {
    const player = (window as unknown as { hivecastPlayer?: { stats: () => { p2p: string, peers: { peers: number } } } }).hivecastPlayer ??
      document.querySelector('hivecast-player') as unknown as { stats: () => { p2p: string, peers: { peers: number } } } | null
    const stats = player?.stats()
    return { p2p: stats?.p2p ?? 'off', peers: stats?.peers.peers ?? 0 }
  })
}

/** Needs `watchPlayerPage` before the page loaded. */
export async function playerStalls (page: Page): Promise<Stalls> {
  return await page.evaluate(() => {
    const w = window as unknown as PageMarks
    return { count: w.hcStalls, ms: w.hcStalledMs + (w.hcStallStart === undefined ? 0 : performance.now() - w.hcStallStart) }
  })
}

/** Needs `watchPlayerPage` before the page loaded; figures are at most ROUTE_POLL_MS old. */
export async function peerRouteBytes (page: Page): Promise<PeerRouteBytes> {
  return await page.evaluate(() => (window as unknown as PageMarks).hcRoutes.reduce((sum, r) => ({ direct: sum.direct + r.direct, turn: sum.turn + r.turn }), { direct: 0, turn: 0 }))
}

/** Sums of `playedBytes` over pages. */
export async function playedBytesOf (pages: Page[]): Promise<PlayedBytes> {
  const each = await Promise.all(pages.map(playedBytes))
  return { peers: each.reduce((n, b) => n + b.peers, 0), all: each.reduce((n, b) => n + b.all, 0) }
}
