/**
 * The AV1 rendition in Debian Chromium: a devnet whose origin encodes 240p H.264 and 360p AV1 (fMP4),
 * the watch page's quality menu offers "360p AV1", and choosing it plays AV1 — every segment and the
 * init section fetched by CID from the relay, checked against it before hls.js saw a byte.
 */
import assert from 'node:assert/strict'
import { createWriteStream, mkdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { eventually, startDevnet } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import type { Devnet } from '@hivecast/devnet'
import type { Browser } from 'playwright-core'
import type { PlayerStats } from '../src/index.ts'

const RESULTS_DIR = fileURLToPath(new URL('../../../test-results/', import.meta.url))
mkdirSync(RESULTS_DIR, { recursive: true })

function fail (message: string): never {
  throw new Error(message)
}

describe('the AV1 rendition in Chromium', () => {
  let devnet: Devnet | undefined
  let browser: Browser | undefined
  const log = createWriteStream(`${RESULTS_DIR}av1-browser.log`)
  /** Segments the relay could not fetch in time and listed as gaps (seen under load in CI). */
  const gaps: string[] = []

  before(async () => {
    devnet = await startDevnet({
      relays: 1,
      renditions: '240p,av1-360p',
      site: true,
      log: line => {
        if (line.includes('listed as a gap')) gaps.push(line)
        log.write(`${new Date().toISOString()} ${line}\n`)
      }
    })
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await devnet?.stop()
    log.end()
  })

  it('offers "360p AV1" beside 240p, and plays it from verified segments and init section', async t => {
    const net = devnet ?? fail('the devnet did not start')
    const relay = net.relays[0]!.url
    const page = await (browser ?? fail('Chromium did not start')).newPage()
    const problems: string[] = []
    page.on('pageerror', err => { problems.push(err.message) })
    page.on('console', message => { log.write(`${new Date().toISOString()} [page] ${message.type()}: ${message.text()}\n`) })
    // The relay's master playlist lists a rendition once it holds a segment of it, and hls.js reads the
    // master playlist once: open the page when the slower AV1 encoder has caught up, as a viewer would.
    await eventually('the relay to list both renditions', async () => {
      const master = await (await fetch(`${relay}/hls/${net.room}/master.m3u8`)).text()
      return master.includes('av1-360p.m3u8') && master.includes('240p.m3u8') ? true : undefined
    }, 60_000)
    await page.goto(`${net.site!.url}watch.html?room=${net.room}&p2p=off`)
    const stats = async (): Promise<PlayerStats> => await page.evaluate(() => (window as unknown as { hivecastPlayer: { stats: () => PlayerStats } }).hivecastPlayer.stats())
    const currentTime = async (): Promise<number> => await page.evaluate(() => document.querySelector('video')?.currentTime ?? 0)
    try {
      await eventually('playback to start', async () => { const t = await currentTime(); return t > 1 ? t : undefined }, 60_000)
    } catch (err) {
      // Say what the player was doing, so a red run can be read without rerunning it.
      const s = await stats().catch(() => undefined)
      const player = s === undefined ? 'the page did not answer' : `the player is ${s.state} at ${s.rendition}, ${s.segments.length} segments loaded, ${s.segmentsRejected} rejected`
      throw new Error(`${(err as Error).message}; ${player}; gaps: ${gaps.join('; ') || 'none'}`)
    }
    t.diagnostic(`auto started on ${(await stats()).rendition}`)

    const quality = page.locator('select[aria-label="Quality"]')
    // The first option is "Auto (<what it plays now>)". The menu follows the player on a 1 s tick,
    // which a loaded machine delays (CI once read the menu before its first tick).
    const offered = async (): Promise<string[]> => (await quality.locator('option').allTextContents()).slice(1)
    await eventually('the quality menu to list the renditions', async () => (await offered()).length > 0 ? true : undefined, 15_000).catch(() => undefined)
    assert.deepEqual(await offered(), ['360p AV1', '240p'])
    await quality.selectOption({ label: '360p AV1' })
    await eventually('the AV1 rendition on screen', async () => {
      const [s, width] = await Promise.all([stats(), page.evaluate(() => document.querySelector('video')?.videoWidth ?? 0)])
      return s.rendition === '360p AV1' && width === 640 ? true : undefined
    }, 60_000)
    const switchedAt = await currentTime()
    // This test shares 2 cores between SVT-AV1, x264, a relay and Chromium: give playback time. When
    // the relay had to list a segment as a gap, hls.js was seen to stall at it (CI, once): that is
    // gap handling, not AV1, so then the test says so and checks only the decoding and verification.
    try {
      // At least a second more: on this machine under load the origin encodes below real time (18-20 fps seen).
      await eventually('AV1 playback to go on', async () => await currentTime() >= switchedAt + 1 ? true : undefined, 45_000)
    } catch (err) {
      if (gaps.length === 0) throw err
      t.diagnostic(`playback did not go on past a gap the relay listed (${gaps.join('; ')}): not checked`)
    }
    await page.screenshot({ path: `${RESULTS_DIR}av1-watch-page.png` })

    const playlist = await (await fetch(`${relay}/hls/${net.room}/av1-360p.m3u8`)).text()
    const init = /#EXT-X-MAP:URI="\/ipfs\/([a-z0-9]+)\?filename=init\.mp4"/.exec(playlist)?.[1] ?? fail(`no init section in the relay's AV1 playlist:\n${playlist}`)
    const av1Segments = new Set([...playlist.matchAll(/\/ipfs\/([a-z0-9]+)\?filename=\d+\.m4s/g)].map(m => m[1]))
    const s = await stats()
    assert.equal(s.segmentsRejected, 0)
    assert.ok(s.segments.every(segment => segment.verified && segment.source === relay), 'every segment verified, from the relay')
    assert.ok(s.segments.some(segment => segment.cid === init), 'the init section was fetched by CID and verified')
    assert.ok(s.segments.filter(segment => av1Segments.has(segment.cid)).length >= 3, 'AV1 segments were played')
    assert.ok(!['error', 'offline'].includes(s.state), `the player ended ${s.state}`)
    assert.deepEqual(problems, [])
    await page.close()
  })
})
