/** A Chromium viewer on the site's watch page, with what fault tests read from it. */
import { playerStalls, watchPlayerPage } from '@hivecast/devnet/player-page'
import type { Browser, Page } from 'playwright-core'

export interface SegmentStat { cid: string, source: string, bytes: number, verified: boolean }
export interface ViewerStats { state: string, segmentsVerified: number, segmentsRejected: number, bytesBySource: Record<string, number>, segments: SegmentStat[] }

export interface Viewer {
  page: Page
  currentTime: () => Promise<number>
  stats: () => Promise<ViewerStats>
  /** Milliseconds the video spent `waiting` after it first played: the stalls a person would see. */
  stalledMs: () => Promise<number>
  /** Page errors (uncaught exceptions) seen so far. */
  problems: string[]
}

/** Opens `watch.html?room=<room>`; with `config`, the page's config.json says that instead of the devnet's. */
export async function openWatchPage (browser: Browser, siteUrl: string, room: string, config?: { relays: string[], key: string }): Promise<Viewer> {
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', err => { problems.push(err.message) })
  await watchPlayerPage(page)
  if (config !== undefined) {
    const json = { relays: config.relays, rooms: [{ slug: room, title: 'Test room', key: config.key }] }
    await page.route('**/config.json', async route => { await route.fulfill({ json }) })
  }
  await page.goto(`${siteUrl}watch.html?room=${room}`)
  return {
    page,
    problems,
    currentTime: async () => await page.evaluate(() => document.querySelector('video')?.currentTime ?? 0),
    stalledMs: async () => (await playerStalls(page)).ms,
    stats: async () => await page.evaluate(() => (window as unknown as { hivecastPlayer: { stats: () => ViewerStats } }).hivecastPlayer.stats())
  }
}
