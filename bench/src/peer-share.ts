/**
 * Peer share: of the segment bytes Chromium viewers of one room play, the share that came from other
 * viewers over WebRTC rather than from the relay. Viewers are `<hivecast-player>` elements on a host
 * page, all on one relay (its circuit relay signals the WebRTC connections). Sampled every few seconds
 * once every viewer plays and has a peer; each sample is the share of the bytes played in that stretch.
 */
import { createServer } from 'node:http'
import { startDevnet, summarize } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import { playedBytesOf } from '@hivecast/devnet/player-page'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import type { Summary } from '@hivecast/devnet'

export interface PeerShareResult {
  viewers: number
  /** Viewers connected to at least one other viewer when the measurement started. */
  connected: number
  seconds: number
  /** Share of segment bytes from other viewers, 0-1, per sample. */
  share: Summary
  /** Over the whole measured stretch. */
  overall: number
  bytesFromPeers: number
  bytesFromRelays: number
}

interface Stats { p2p: string, peers: { peers: number }, bytesBySource: Record<string, number> }

const SAMPLE_MS = 5_000

export async function measurePeerShare (options: { viewers: number, seconds: number }): Promise<PeerShareResult> {
  const devnet = await startDevnet({ relays: 1, renditions: '240p', site: true, log: null })
  const page = `<!doctype html><body><hivecast-player room="${devnet.room}" key="${devnet.origin.key}" relays="${devnet.relays.map(r => r.url).join(' ')}"></hivecast-player>
    <script type="module" src="${devnet.site!.url}hivecast-player.js"></script></body>`
  const host = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end(page) })
  await new Promise<void>(resolve => host.listen(0, '127.0.0.1', resolve))
  // Local ICE candidates as plain addresses, not mDNS names (no STUN/TURN anywhere: host candidates only).
  const browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns'])
  try {
    const pages: Page[] = []
    for (let i = 0; i < options.viewers; i++) {
      const viewer = await browser.newPage()
      await viewer.goto(`http://127.0.0.1:${(host.address() as AddressInfo).port}/`)
      pages.push(viewer)
    }
    for (const viewer of pages) {
      await viewer.waitForFunction(() => (document.querySelector('hivecast-player')?.shadowRoot?.querySelector('video')?.currentTime ?? 0) > 1, undefined, { timeout: 90_000, polling: 500 })
    }
    // Measured even when some viewer found no peer in time: the figure then shows it (and `connected`
    // says how many had one), rather than the whole benchmark run failing.
    const connectedBy = Date.now() + 60_000
    let connected = 0
    while (Date.now() < connectedBy) {
      connected = (await Promise.all(pages.map(async viewer => await viewer.evaluate(() => {
        const stats = (document.querySelector('hivecast-player') as unknown as { stats: () => Stats }).stats()
        return stats.p2p === 'on' && stats.peers.peers >= 1
      })))).filter(Boolean).length
      if (connected === pages.length) break
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const first = await playedBytesOf(pages)
    let previous = first
    const samples: number[] = []
    const deadline = Date.now() + options.seconds * 1000
    while (Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, Math.min(SAMPLE_MS, Math.max(0, deadline - Date.now()))))
      const now = await playedBytesOf(pages)
      if (now.all > previous.all) samples.push((now.peers - previous.peers) / (now.all - previous.all))
      previous = now
    }
    const peers = previous.peers - first.peers
    const all = previous.all - first.all
    return {
      viewers: options.viewers,
      connected,
      seconds: options.seconds,
      share: summarize(samples),
      overall: all === 0 ? 0 : peers / all,
      bytesFromPeers: peers,
      bytesFromRelays: all - peers
    }
  } finally {
    await browser.close()
    host.closeAllConnections()
    await new Promise(resolve => host.close(resolve))
    await devnet.stop()
  }
}
