/**
 * A relay with a throttled uplink, on real processes: an origin (ffmpeg test pattern) and 4 relays,
 * one of them with `--max-upload 0.4` (Mbit/s, below what passing a 240p segment to two children in
 * time needs). Its pushes come out slow, it makes itself a leaf of the push tree and says so in its
 * directory record, and the others order it last, so no relay waits on it: every segment reaches
 * every other relay about as fast as when all are fast. Without leaves, the throttled relay sits
 * inside the tree for about half of the segments and its children get them seconds late.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import { eventually } from '@hivecast/devnet'
import { devnetForTest } from './src/devnet-fixture.ts'
import type { DirectoryJson } from '@hivecast/shared'

const RELAYS = 4
/** The throttled relay: not the first, which every other relay dials first. */
const THROTTLED = 3
const MEASURE_MS = 12_000
/** Published -> stored on a fast relay: a healthy tree takes ~100-300 ms on loopback; a throttled parent 1-2 s. */
const STORE_P90_MS = 1_000

const devnet = await devnetForTest('throttled-relay', {
  relays: RELAYS,
  renditions: '240p',
  relayArgs: Object.assign(new Array<string[]>(RELAYS).fill([]), { [THROTTLED]: ['--max-upload', '0.4'] })
})

interface RelayStatus { push: { sent: number, slow: number, demoted: number } }
interface OriginStatus { recent: Array<{ rendition: string, seq: number, publishedAt: number }> }
interface Window { renditions: Record<string, Array<{ envelope: { payload: string }, storedAt: number | null }>> }

async function json<T> (url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200, `${url} answered ${res.status}`)
  return await res.json() as T
}

test('a relay with a throttled uplink becomes a leaf of the tree: the other relays get every segment in time', async () => {
  const throttled = devnet.relays[THROTTLED]!
  await eventually('the throttled relay to find its pushes slow and make itself a leaf', async () => {
    const { push } = await json<RelayStatus>(`${throttled.url}/status`)
    return push.demoted >= 1 ? push : undefined
  }, 90_000, 500)
  // Its record (published every 5 s) tells the others to order it last.
  await eventually('the directory to list the throttled relay as a leaf', async () => {
    const { relays } = await json<DirectoryJson>(`${devnet.relays[0]!.url}/directory.json`)
    const records = relays.map(r => JSON.parse(r.envelope.payload) as { url: string, forwards?: boolean })
    return records.some(r => new URL(r.url).host === new URL(throttled.url).host && r.forwards === false) ? true : undefined
  }, 15_000, 250)

  const sentBefore = (await json<RelayStatus>(`${throttled.url}/status`)).push.sent
  const from = Date.now()
  await new Promise(resolve => setTimeout(resolve, MEASURE_MS))
  assert.equal((await json<RelayStatus>(`${throttled.url}/status`)).push.sent, sentBefore, 'the throttled relay passed no segment on while a leaf')

  const origin = await json<OriginStatus>(`${devnet.origin.url}/status`)
  const published = new Map(origin.recent.filter(s => s.publishedAt >= from && s.publishedAt < from + MEASURE_MS).map(s => [`${s.rendition}/${s.seq}`, s.publishedAt]))
  assert.ok(published.size >= MEASURE_MS / 1000 - 3, `the origin published ${published.size} segments in ${MEASURE_MS} ms`)
  for (const [i, relay] of devnet.relays.entries()) {
    if (i === THROTTLED) continue
    // A segment published just before the measurement ended may still be on its way: wait for every one.
    const delays = await eventually(`relay ${i + 1} to hold every segment published in the measurement`, async () => {
      const window = await json<Window>(relayUrl(relay.url, relayRoutes.window(devnet.room)))
      const stored: number[] = []
      for (const [rendition, entries] of Object.entries(window.renditions)) {
        for (const entry of entries) {
          const at = published.get(`${rendition}/${(JSON.parse(entry.envelope.payload) as { seq: number }).seq}`)
          if (at !== undefined && entry.storedAt !== null) stored.push(entry.storedAt - at)
        }
      }
      return stored.length === published.size ? stored : undefined
    }, 10_000, 250)
    delays.sort((a, b) => a - b)
    const p90 = delays[Math.floor(delays.length * 0.9)]!
    assert.ok(p90 <= STORE_P90_MS, `relay ${i + 1} stored segments ${p90} ms after publishing (p90 of ${delays.join(', ')} ms; bound ${STORE_P90_MS})`)
  }
})
