/**
 * The Hivecast player in its low-latency mode (the default) on real processes: the origin cuts each 1 s
 * segment into parts of 1/3 s as it is encoded, a relay lists them, and Chromium plays the watch page for
 * 60 s with two relays configured, the first a named fake that flips a byte in every part it serves and
 * holds no whole segment (a 404, which leaves it unmeasured and so first in the player's order: were it
 * to deliver one, the honest relay could prove faster and it would never be asked for a part, as happened
 * in a CI run). Playlists and the window it passes on untouched. Every part the player used was
 * verified against the CID the room key signed for it, the tampered ones were rejected and playback went
 * on, and the viewer stayed near the live edge.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { verifyPartEnvelope } from '@hivecast/shared'
import type { WindowJson } from '@hivecast/shared'
import { eventually, startRelayProxy, summarize } from '@hivecast/devnet'
import { playerLatencyMs } from '@hivecast/devnet/player-page'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import { openWatchPage } from './src/watch-page.ts'

const PLAY_S = 60
/**
 * How far behind the live edge the viewer may be (p50), by the program date time on screen: the issue's
 * p99 bound. The parts' hold-back is 3 part targets (1 s); the origin's and the relay's share about a
 * part each; measured here 1.6 s (2.5 s before hls.js was let catch up, and with another test running).
 */
const TARGET_MS = 2_500

const devnet = await devnetForTest('low-latency-player', { relays: 1, renditions: '240p', partDuration: 0.333, site: true })
const relay = devnet.relays[0]!
const browser = await launchChromium()

/** The CIDs of parts the room key signed, as the relay's window carried them. */
const partCids = new Set<string>()
async function learnParts (): Promise<void> {
  const window = await (await fetch(`${relay.url}/rooms/${devnet.room}/window.json`, { signal: AbortSignal.timeout(5_000) })).json() as WindowJson
  for (const list of Object.values(window.parts ?? {})) {
    for (const { envelope } of list) {
      const opened = await verifyPartEnvelope(envelope, [devnet.origin.key])
      if (opened.ok) partCids.add(opened.value.announcement.cid)
    }
  }
}

// A named fake: a relay that tampers with parts (a block whose CID the room key signed as a part) and
// holds no other block.
let tampered = 0
const tamperer = await startRelayProxy(relay.url, {
  alter: async answer => {
    const cid = /^\/ipfs\/([a-z0-9]+)$/.exec(answer.path)?.[1]
    if (cid === undefined || answer.status !== 200) return answer
    if (!partCids.has(cid)) await learnParts()
    if (!partCids.has(cid)) return { ...answer, status: 404, headers: { 'content-type': 'text/plain', 'cache-control': 'no-cache' }, body: new TextEncoder().encode('block not held here\n') }
    tampered++
    const body = answer.body.slice()
    body[body.length >> 1] = body[body.length >> 1]! ^ 0xff
    return { ...answer, body }
  }
})
after(async () => {
  await browser.close()
  await tamperer.close()
})

test(`the player plays parts near the live edge for ${PLAY_S} s, each verified; a tampered part is rejected and playback goes on`, async t => {
  const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room, { relays: [tamperer.url, relay.url], key: devnet.origin.key })
  const start = await eventually('playback to start', async () => { const time = await viewer.currentTime(); return time > 0.3 ? time : undefined }, 40_000)
  const latencies: number[] = []
  const started = Date.now()
  while (Date.now() - started < PLAY_S * 1000) {
    // The window holds the parts of about three segments: learnt every second, none is missed.
    await new Promise(resolve => setTimeout(resolve, 1_000))
    await learnParts()
    // The first 10 s are the player settling at the edge.
    const latency = await playerLatencyMs(viewer.page)
    if (latency !== null && Date.now() - started > 10_000) latencies.push(latency)
  }
  const end = await viewer.currentTime()
  await viewer.page.screenshot({ path: `${RESULTS_DIR}low-latency-player.png` })
  await learnParts()
  const stats = await viewer.stats()
  const parts = stats.segments.filter(s => partCids.has(s.cid))
  const rejected = stats.segments.filter(s => !s.verified)
  const latency = summarize(latencies)
  t.diagnostic(`played ${(end - start).toFixed(1)} s in ${PLAY_S} s; ${parts.length} parts and ${stats.segments.length - parts.length} whole segments loaded; ` +
    `${tampered} parts tampered, ${rejected.length} rejected; behind live p50 ${latency.p50} ms, max ${latency.max} ms; stalled ${await viewer.stalledMs()} ms`)
  assert.deepEqual(viewer.problems, [])
  assert.ok(end - start >= PLAY_S - 8, `playback went on: ${(end - start).toFixed(1)} s played in ${PLAY_S} s`)
  assert.ok(parts.length >= PLAY_S, `the player played parts, not only whole segments: ${parts.length} of ${stats.segments.length} loads`)
  assert.ok(parts.filter(p => p.verified).every(p => p.source.startsWith(relay.url)), 'every part used came from the honest relay')
  assert.ok(tampered >= 1 && rejected.length >= 1, `the tampering relay was asked for a part and the player rejected it (${tampered} tampered, ${rejected.length} rejected)`)
  assert.ok(rejected.every(r => partCids.has(r.cid) && r.source.startsWith(tamperer.url)), `only tampered parts were rejected: ${JSON.stringify(rejected)}`)
  assert.equal(stats.segmentsRejected, rejected.length)
  assert.ok(latency.n >= 10 && latency.p50 <= TARGET_MS, `the viewer stays within ${TARGET_MS} ms of the live edge: p50 ${latency.p50} ms over ${latency.n} samples`)
})
