/**
 * Glass-to-glass with LL-HLS parts and viewers sharing (issue 16): one origin cutting 1 s segments into
 * 1/3 s parts, one relay, `viewers` Chromium watch pages with peer-to-peer on, first in the player's
 * `lowest` latency mode (parts), then, on the same stream, in `smoothest` (whole segments): per mode the
 * latency behind live (wall clock minus the program date time on screen, every viewer every 2 s), the
 * share of segment bytes viewers got from each other, and stalls per viewer-minute.
 */
import { startDevnet, summarize } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import { playedBytesOf, playerLatencyMs, playerStalls, watchPlayerPage } from '@hivecast/devnet/player-page'
import type { Devnet, Summary } from '@hivecast/devnet'
import type { Browser, Page } from 'playwright-core'

export type LatencyMode = 'lowest' | 'smoothest'

export interface ModeResult {
  mode: LatencyMode
  viewers: number
  seconds: number
  /** Behind live, ms, over every viewer's samples. */
  latencyMs: Summary
  /** Segment bytes from other viewers / all segment bytes played, over the stretch. */
  peerShare: number
  stallsPerViewerMinute: number
}

export interface LowLatencyViewersResult {
  partSeconds: number
  modes: ModeResult[]
}

const PART_SECONDS = 0.333
const SAMPLE_MS = 2_000
/** Playback before measuring: viewers find each other and settle at their mode's distance from the edge. */
const SETTLE_MS = 15_000

interface ViewersOptions {
  viewers: number
  seconds: number
  /** The viewers' peer-to-peer (watch.html?p2p=off turns it off); on by default. */
  p2p?: 'on' | 'off'
}

async function measureMode (browser: Browser, devnet: Devnet, mode: LatencyMode, options: ViewersOptions): Promise<ModeResult> {
  const context = await browser.newContext()
  try {
    const pages: Page[] = []
    for (let i = 0; i < options.viewers; i++) {
      const page = await context.newPage()
      await watchPlayerPage(page)
      await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}&latency=${mode}&p2p=${options.p2p ?? 'on'}`)
      pages.push(page)
    }
    for (const page of pages) {
      await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, undefined, { timeout: 90_000, polling: 500 })
    }
    await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
    const bytes0 = await playedBytesOf(pages)
    const stalls0 = await Promise.all(pages.map(playerStalls))
    const latencies: number[] = []
    const deadline = Date.now() + options.seconds * 1000
    while (Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, SAMPLE_MS))
      for (const latency of await Promise.all(pages.map(playerLatencyMs))) if (latency !== null) latencies.push(latency)
    }
    const bytes = await playedBytesOf(pages)
    const stalls = (await Promise.all(pages.map(playerStalls))).reduce((n, s, i) => n + s.count - stalls0[i]!.count, 0)
    const all = bytes.all - bytes0.all
    return {
      mode,
      viewers: options.viewers,
      seconds: options.seconds,
      latencyMs: summarize(latencies),
      peerShare: all === 0 ? 0 : (bytes.peers - bytes0.peers) / all,
      stallsPerViewerMinute: stalls / options.viewers / (options.seconds / 60)
    }
  } finally {
    await context.close()
  }
}

export async function measureLowLatencyViewers (options: ViewersOptions): Promise<LowLatencyViewersResult> {
  const devnet = await startDevnet({ relays: 1, renditions: '240p', partDuration: PART_SECONDS, site: true, log: null })
  // Local ICE candidates as plain addresses, not mDNS names (no STUN/TURN anywhere: host candidates only).
  const browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns'])
  try {
    const modes: ModeResult[] = []
    for (const mode of ['lowest', 'smoothest'] as const) modes.push(await measureMode(browser, devnet, mode, options))
    return { partSeconds: PART_SECONDS, modes }
  } finally {
    await browser.close()
    await devnet.stop()
  }
}
