/**
 * Chromium opens the site's watch page and plays the room live through the Hivecast player: the video
 * advances, every segment it used was verified against its CID, and relays (never the origin) served them.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { eventually } from '@hivecast/devnet'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'

interface SegmentStat { cid: string, source: string, bytes: number, verified: boolean }
interface Stats { state: string, segmentsVerified: number, segmentsRejected: number, bytesBySource: Record<string, number>, segments: SegmentStat[] }

const devnet = await devnetForTest('browser-playback', { relays: 2, renditions: '360p', site: true })
const browser = await launchChromium()
after(async () => { await browser.close() })

test('the watch page plays the room for 10 s from verified, relay-served segments', async () => {
  const page = await browser.newPage()
  const problems: string[] = []
  // Chromium logs every failed load as a console error without its URL; the response event names it.
  // A relay that does not hold a segment or playlist yet answers 404 and the player asks the next relay:
  // that is routine under load (CI saw one), so those are counted, and anything else fails the test.
  const relayMisses: string[] = []
  page.on('console', msg => { if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(msg.text()) })
  page.on('pageerror', err => { problems.push(err.message) })
  page.on('response', res => {
    if (res.status() < 400) return
    const fromRelay = devnet.relays.some(r => res.url().startsWith(r.url))
    if (res.status() === 404 && fromRelay) relayMisses.push(res.url())
    else problems.push(`${res.status()} for ${res.url()}`)
  })
  await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)

  const stats = async (): Promise<Stats> => await page.evaluate(() => (window as unknown as { hivecastPlayer: { stats(): Stats } }).hivecastPlayer.stats())
  const currentTime = async (): Promise<number> => await page.evaluate(() => document.querySelector('video')!.currentTime)
  const start = await eventually('playback to start', async () => await currentTime() > 0.5 ? await currentTime() : undefined, 40_000)
  await new Promise(resolve => setTimeout(resolve, 11_000))
  const end = await currentTime()
  await page.screenshot({ path: `${RESULTS_DIR}watch-page.png` })
  // A CI run on a loaded machine played under 8 s (the screen showed 8.27 s of stream at the end). A
  // stream a few segments old starts playing with ~1 s buffered (seen with busy loops beside a fresh
  // devnet: a 0.3 s stall), so each slow fetch early on costs play time; a 3 s loss was not reproduced.
  assert.ok(end - start >= 7, `currentTime advanced by ${(end - start).toFixed(2)} s in 11 s`)
  assert.equal(await page.evaluate(() => document.querySelector('video')!.error), null, 'the video element has no error')

  const s = await stats()
  assert.notEqual(s.state, 'error')
  assert.ok(s.segments.length >= 8, `only ${s.segments.length} segments loaded`)
  assert.equal(s.segmentsRejected, 0)
  const relayUrls = devnet.relays.map(r => r.url)
  for (const segment of s.segments) {
    assert.equal(segment.verified, true, `segment ${segment.cid} was used unverified`)
    assert.ok(relayUrls.some(url => segment.source.startsWith(url)), `segment ${segment.cid} came from ${segment.source}, not a relay`)
    assert.ok(!segment.source.startsWith(devnet.origin.url))
  }
  assert.equal(s.segmentsVerified, s.segments.length)
  assert.deepEqual(problems, [], 'no console errors and no failed loads but relays\' 404s')
  assert.ok(relayMisses.length <= 3, `relays answered 404 ${relayMisses.length} times: ${relayMisses.join(', ')}`)
})

// After a slow start or a stall hls.js plays on from where it was; the player plays a viewer who is
// following live a little faster until it is back near the edge (live-rewind.ts keepLive). The
// playhead is set back here by hand, as a long stall would leave it: no rewind button, so the viewer
// did not ask to be behind.
test('a viewer left far behind the live edge without asking is played faster until back near it', async () => {
  const page = await browser.newPage()
  await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)
  const stat = async (): Promise<{ latencyMs: number | null, catchUps: number, rate: number }> => await page.evaluate(() => {
    const stats = (window as unknown as { hivecastPlayer: { stats(): { latencyMs: number | null, catchUps: number } } }).hivecastPlayer.stats()
    return { latencyMs: stats.latencyMs, catchUps: stats.catchUps, rate: document.querySelector('video')!.playbackRate }
  })
  const currentTime = async (): Promise<number> => await page.evaluate(() => document.querySelector('video')!.currentTime)
  await eventually('playback past 12 s', async () => await currentTime() > 12 ? true : undefined, 60_000)
  const edge = await eventually('a latency reading', async () => (await stat()).latencyMs ?? undefined, 10_000)
  assert.equal((await stat()).rate, 1, 'normal speed at the live edge')
  const moved = await page.evaluate(() => { const video = document.querySelector('video')!; const from = video.currentTime; video.currentTime = from - 12; return from - video.currentTime })
  assert.ok(moved > 11, `the playhead went ${moved.toFixed(1)} s back`)
  const faster = await eventually('playback sped up', async () => { const now = await stat(); return now.rate > 1 && now.latencyMs !== null ? now : undefined }, 10_000)
  await new Promise(resolve => setTimeout(resolve, 10_000))
  const later = await stat()
  console.log(`latency ${edge} ms at the edge; set 12 s back; ${faster.latencyMs} ms when playback sped up to ${faster.rate}x; ${later.latencyMs} ms 10 s later`)
  assert.equal(later.catchUps, 1)
  assert.ok(later.latencyMs !== null && later.latencyMs <= faster.latencyMs! - 1_500, `10 s at ${faster.rate}x won back ${faster.latencyMs! - (later.latencyMs ?? 0)} ms`)
  await page.close()
})
