/**
 * Hot standby, seen by a viewer: a primary origin and a standby (started with the primary's key) feed
 * two relays; the site lists both origins' keys for the room. The primary is killed (SIGKILL) while a
 * viewer in Chromium watches: the relays follow the standby and the viewer keeps playing segments
 * signed by the standby, with every entry still checked against the room's keys.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { eventually } from '@hivecast/devnet'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import { openWatchPage } from './src/watch-page.ts'

const WATCH_AFTER_KILL_MS = 20_000

const devnet = await devnetForTest('fault-standby', { relays: 2, renditions: '240p', site: true, standby: true })
const browser = await launchChromium()
after(async () => { await browser.close() })

interface RoomStatus { following: string, switches: number }
async function roomStatus (relayUrl: string): Promise<RoomStatus> {
  const status = await (await fetch(`${relayUrl}/status`)).json() as { rooms: Record<string, RoomStatus> }
  return status.rooms[devnet.room]!
}

test('the primary origin is killed: the viewer keeps playing from the standby, still checking signatures', async () => {
  const standby = devnet.standby!
  const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room)
  await eventually('playback to start', async () => { const t = await viewer.currentTime(); return t > 1 ? t : undefined }, 45_000)
  // Hot: the standby has heard the primary's numbers and numbers its own segments after them.
  const primaryLast = await eventually('a primary segment in the origin status', async () => {
    const s = await (await fetch(`${devnet.origin.url}/status`)).json() as { recent: Array<{ seq: number }> }
    return s.recent.at(-1)?.seq
  })
  await eventually('the standby to number after the primary', async () => {
    const s = await (await fetch(`${standby.url}/status`)).json() as { recent: Array<{ seq: number }> }
    return (s.recent.at(-1)?.seq ?? 0) > primaryLast ? true : undefined
  }, 30_000)
  const before = await viewer.stats()
  const killedAt = await viewer.currentTime()
  await devnet.origin.process.kill()

  for (const relay of devnet.relays) {
    await eventually(`${relay.url} to follow the standby`, async () => (await roomStatus(relay.url)).following === standby.key ? true : undefined, 15_000)
  }
  await new Promise(resolve => setTimeout(resolve, WATCH_AFTER_KILL_MS))
  const advanced = await viewer.currentTime() - killedAt
  const stats = await viewer.stats()
  const stalledMs = await viewer.stalledMs()
  await viewer.page.screenshot({ path: `${RESULTS_DIR}standby-switch.png` })
  console.log(`after the primary was killed the viewer played ${advanced.toFixed(1)} s in ${WATCH_AFTER_KILL_MS / 1000} s, stalled ${Math.round(stalledMs)} ms, verified ${stats.segmentsVerified - before.segmentsVerified} more segments`)

  assert.ok(advanced >= WATCH_AFTER_KILL_MS / 1000 - 5, `played ${advanced.toFixed(1)} s in the ${WATCH_AFTER_KILL_MS / 1000} s after the kill`)
  assert.ok(stats.segmentsVerified - before.segmentsVerified >= 10, `${stats.segmentsVerified - before.segmentsVerified} segments verified after the kill`)
  assert.equal(stats.segmentsRejected, 0)
  assert.notEqual(stats.state, 'error')
  for (const relay of devnet.relays) assert.equal((await roomStatus(relay.url)).switches, 1)
  assert.deepEqual(viewer.problems, [])
})
