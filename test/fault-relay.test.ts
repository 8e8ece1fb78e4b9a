/**
 * A slow relay: the page lists it first, but it holds every segment for 3 s (a named fake in front of
 * a real relay, test/src/slow-relay.ts). The viewer must move to the fast relay listed second — most
 * segments after the first few come from it — and keep playing without long stalls.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { eventually } from '@hivecast/devnet'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import { startSlowRelay } from './src/slow-relay.ts'
import { openWatchPage } from './src/watch-page.ts'

const DELAY_MS = 3000
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

const devnet = await devnetForTest('fault-relay', { relays: 2, renditions: '240p', site: true })
const browser = await launchChromium()
after(async () => { await browser.close() })

// The slow relay answers within the player's 4 s timeout, so only ranking relays by how fast they
// deliver (relay-pool.ts) moves the viewer away from it.
test('a viewer moves away from a slow relay listed first and plays on from the fast one', async () => {
  const slow = await startSlowRelay(devnet.relays[0]!.url, DELAY_MS)
  after(async () => { await slow.close() })
  const fast = devnet.relays[1]!.url
  const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room, { relays: [slow.url, fast], key: devnet.origin.key })
  try {
    const start = await eventually('playback to start', async () => { const t = await viewer.currentTime(); return t > 1 ? t : undefined }, 45_000)
    await sleep(20_000)
    const advanced = await viewer.currentTime() - start
    const stats = await viewer.stats()
    const stalledMs = await viewer.stalledMs()
    await viewer.page.screenshot({ path: `${RESULTS_DIR}slow-relay.png` })
    const later = stats.segments.filter(s => s.verified).slice(3)
    const fromFast = later.filter(s => s.source === fast).length
    console.log(`slow relay served ${slow.segmentsServed} segments; ${fromFast} of the ${later.length} after the first 3 came from the fast relay; stalled ${Math.round(stalledMs)} ms; played ${advanced.toFixed(1)} s in 20 s`)
    assert.ok(later.length >= 12, `only ${later.length} segments after the first 3`)
    assert.ok(fromFast >= later.length * 0.8, `${fromFast} of ${later.length} segments after the first 3 came from the fast relay`)
    assert.ok(advanced >= 16, `played ${advanced.toFixed(1)} s in 20 s`)
    assert.ok(stalledMs < 4000, `stalled ${Math.round(stalledMs)} ms in 20 s`)
    assert.equal(stats.segmentsRejected, 0)
    assert.deepEqual(viewer.problems, [])
  } finally {
    await viewer.page.close()
  }
})
