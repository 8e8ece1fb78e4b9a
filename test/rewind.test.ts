/**
 * Rewind in Chromium: the watch page plays the room live; the viewer goes back 30 s (further than the
 * relay's live window of 30 one-second segments, so the player fetches signed history pages and plays
 * them verified), then 30 s more within what it now lists, and one click on the live button brings it
 * back to within a few seconds of the live edge.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { eventually } from '@hivecast/devnet'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import type { WindowHistoryJson } from '@hivecast/shared'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'

interface Stats { state: string, latencyMs: number | null, segmentsVerified: number, segmentsRejected: number }

const devnet = await devnetForTest('rewind', { relays: 1, renditions: '360p', site: true })
const browser = await launchChromium()
after(async () => { await browser.close() })

/** Seconds of the stream the relay holds (newest minus oldest program time it keeps), and bytes per entry of a page. */
async function held (): Promise<{ seconds: number, bytesPerEntry: number }> {
  const res = await fetch(relayUrl(devnet.relays[0]!.url, relayRoutes.windowHistory(devnet.room, '360p', 1e14, 500)))
  if (!res.ok) return { seconds: 0, bytesPerEntry: 0 }
  const text = await res.text()
  const entries = (JSON.parse(text) as WindowHistoryJson).renditions['360p'] ?? []
  const pdts = entries.map(e => (JSON.parse(e.envelope.payload) as { pdt: number }).pdt)
  return { seconds: pdts.length < 2 ? 0 : (Math.max(...pdts) - Math.min(...pdts)) / 1000, bytesPerEntry: Math.round(text.length / Math.max(1, entries.length)) }
}

test('rewinding 60 s plays verified history; one click on the live button returns to the live edge', async t => {
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', err => { problems.push(err.message) })
  const historyRequests: string[] = []
  page.on('request', request => { if (request.url().includes('window.json?rendition=')) historyRequests.push(request.url()) })
  await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)

  const stats = async (): Promise<Stats> => await page.evaluate(() => (window as unknown as { hivecastPlayer: { stats(): Stats } }).hivecastPlayer.stats())
  const currentTime = async (): Promise<number> => await page.evaluate(() => document.querySelector('video')!.currentTime)
  /** How far the program time on screen is behind the wall clock, in seconds. */
  const behind = async (): Promise<number | undefined> => {
    const ms = Number(await page.locator('time.hc-program-time').getAttribute('data-ms').catch(() => ''))
    return ms > 0 ? (Date.now() - ms) / 1000 : undefined
  }
  const keepsPlaying = async (what: string): Promise<void> => {
    const from = await currentTime()
    const verified = (await stats()).segmentsVerified
    await new Promise(resolve => setTimeout(resolve, 5_000))
    assert.ok(await currentTime() - from >= 3.5, `${what}: currentTime advanced ${(await currentTime() - from).toFixed(2)} s in 5 s`)
    assert.ok((await stats()).segmentsVerified > verified, `${what}: new segments verified`)
  }

  await eventually('live playback', async () => (await stats()).state === 'live' && await currentTime() > 0.5 ? true : undefined, 40_000)
  // The relay must hold more than 60 s before the live edge: its window lists only the newest 30.
  const stream = await eventually('75 s of stream on the relay', async () => { const now = await held(); return now.seconds >= 75 ? now : undefined }, 100_000)
  t.diagnostic(`a history page carries ${stream.bytesPerEntry} bytes per segment`)
  await keepsPlaying('live')
  const live = (await behind())!
  assert.ok(live < 15, `live at first: ${live.toFixed(1)} s behind`)
  assert.equal(historyRequests.length, 0, 'no history is fetched while the viewer stays live')

  // −30 s: past the live window (30 s listed, played from 3 s before its end), so the older signed
  // announcements are fetched and hls.js starts again inside the longer playlist.
  const back30 = page.getByRole('button', { name: 'Back 30 seconds' })
  let clicked = Date.now()
  await back30.click()
  const once = await eventually('the picture 30 s further back', async () => {
    const now = await behind()
    return (await stats()).state === 'live' && now !== undefined && now - live > 24 ? now : undefined
  }, 30_000)
  t.diagnostic(`-30 s past the window: playing ${(once - live).toFixed(1)} s further back ${Date.now() - clicked} ms after the click, ${historyRequests.length} history request(s)`)
  assert.ok(historyRequests.length > 0, 'the player asked the relay for window history')
  await keepsPlaying('rewound 30 s')

  // −30 s again: within what the player now lists (it fetched a margin), a seek.
  const requests = historyRequests.length
  clicked = Date.now()
  await back30.click()
  const rewound = await eventually('the picture 60 s back', async () => {
    const now = await behind()
    return now !== undefined && now - once > 24 ? now : undefined
  }, 20_000)
  t.diagnostic(`-30 s within the listed stretch: ${(rewound - live).toFixed(1)} s back in all, ${Date.now() - clicked} ms after the click`)
  assert.ok(rewound - live > 52 && rewound - live < 72, `rewound by ${(rewound - live).toFixed(1)} s, wanted about 60`)
  assert.equal(historyRequests.length, requests, 'no history fetched for a rewind within the listed stretch')
  await keepsPlaying('rewound 60 s')
  await page.screenshot({ path: `${RESULTS_DIR}rewind.png` })

  // One click on the live button.
  clicked = Date.now()
  await page.getByRole('button', { name: /^Go to live/ }).click()
  const back = await eventually('the live edge again', async () => {
    const now = await behind()
    return now !== undefined && now < live + 5 ? now : undefined
  }, 10_000)
  t.diagnostic(`live again: ${back.toFixed(1)} s behind (${live.toFixed(1)} at first) ${Date.now() - clicked} ms after the click`)
  assert.ok(back < 15, `${back.toFixed(1)} s behind after going live`)
  await keepsPlaying('live again')
  const final = await stats()
  assert.equal(final.segmentsRejected, 0)
  assert.deepEqual(problems, [], 'no page errors')
})
