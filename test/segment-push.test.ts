/**
 * The segment push on real processes: an origin (ffmpeg test pattern) and 3 relays. Once the relays
 * know each other from the directory, each segment goes from the origin to one relay and down the
 * tree: every relay takes segments by push, relays pass them on to each other, nothing is refused,
 * every relay holds every segment, and the origin's uplink carries about one copy of the stream. A
 * relay killed mid-stream is routed around.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import { eventually } from '@hivecast/devnet'
import { devnetForTest } from './src/devnet-fixture.ts'

const RELAYS = 3
const MEASURE_MS = 12_000
/** Origin bytes over libp2p per byte of segments: one copy, plus gossip and the odd fallback fetch. */
const UPLOAD_BOUND = 1.35

const devnet = await devnetForTest('segment-push', { relays: RELAYS, renditions: '240p', countOriginUpload: true })

interface PushCounts { received: number, declined: number, rejected: number, offered: number, sent: number }
interface RelayStatus { push: PushCounts, rooms: Record<string, { renditions: Record<string, { behind: number }> }> }
interface OriginStatus { push: { offered: number, sent: number, failed: number }, recent: Array<{ rendition: string, seq: number, size: number, publishedAt: number }> }

async function json<T> (url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200, `${url} answered ${res.status}`)
  return await res.json() as T
}

const relayStatuses = async (): Promise<RelayStatus[]> => await Promise.all(devnet.relays.map(async r => await json<RelayStatus>(`${r.url}/status`)))

test('segments go down a tree of relays: pushed, passed on, verified, and sent by the origin about once', async () => {
  // The tree is built from the directory: wait until every relay takes pushes from the others too.
  await eventually('every relay receiving pushed segments and passing them on', async () => {
    const statuses = await relayStatuses()
    return statuses.every(s => s.push.received >= 3) && statuses.some(s => s.push.sent >= 3) ? true : undefined
  }, 60_000, 500)

  const before = await relayStatuses()
  const originBefore = await json<OriginStatus>(`${devnet.origin.url}/status`)
  const upload0 = devnet.originUpload!.downstreamBytes
  const from = Date.now()
  await new Promise(resolve => setTimeout(resolve, MEASURE_MS))
  const upload = devnet.originUpload!.downstreamBytes - upload0
  const after = await relayStatuses()
  const origin = await json<OriginStatus>(`${devnet.origin.url}/status`)

  const published = origin.recent.filter(s => s.publishedAt >= from && s.publishedAt < from + MEASURE_MS)
  assert.ok(published.length >= MEASURE_MS / 1000 - 3, `the origin published ${published.length} segments in ${MEASURE_MS} ms`)
  const offers = origin.push.offered - originBefore.push.offered
  assert.ok(offers >= published.length - 1 && offers <= published.length + 2, `the origin offered each segment to one relay: ${offers} offers for ${published.length} segments`)
  assert.equal(origin.push.failed, 0, 'no offer of the origin failed')

  for (const [i, status] of after.entries()) {
    const received = status.push.received - before[i]!.push.received
    assert.ok(received >= published.length / 2, `relay ${i + 1} took ${received} of ${published.length} segments by push`)
    assert.equal(status.push.rejected, 0, `relay ${i + 1} refused no pushed block`)
    const behind = Math.max(...Object.values(Object.values(status.rooms)[0]!.renditions).map(r => r.behind))
    assert.ok(behind <= 1, `relay ${i + 1} is ${behind} segments behind`)
  }
  const passedOn = after.reduce((n, s, i) => n + s.push.sent - before[i]!.push.sent, 0)
  assert.ok(passedOn >= published.length, `relays passed ${passedOn} segments on to each other (${published.length} published)`)

  const streamBytes = published.reduce((n, s) => n + s.size, 0)
  const perStreamByte = upload / streamBytes
  assert.ok(perStreamByte <= UPLOAD_BOUND, `origin upload per stream byte ${perStreamByte.toFixed(2)} (bound ${UPLOAD_BOUND})`)
})

test('a relay killed mid-stream is routed around: the others keep every segment', async () => {
  const [killed, ...rest] = devnet.relays
  await killed!.process.kill()
  const from = Date.now()
  await new Promise(resolve => setTimeout(resolve, 8_000))
  const origin = await json<OriginStatus>(`${devnet.origin.url}/status`)
  // Segments announced after the kill, once relays noticed it: every one held by both survivors.
  const announced = origin.recent.filter(s => s.publishedAt >= from + 2_000 && s.publishedAt < Date.now() - 2_000)
  assert.ok(announced.length >= 3, `${announced.length} segments announced after the kill`)
  for (const relay of rest) {
    const window = await json<{ renditions: Record<string, Array<{ envelope: { payload: string }, storedAt: number | null }>> }>(relayUrl(relay.url, relayRoutes.window(devnet.room)))
    const held = new Set(Object.entries(window.renditions).flatMap(([rendition, entries]) =>
      entries.filter(e => e.storedAt !== null).map(e => `${rendition}/${(JSON.parse(e.envelope.payload) as { seq: number }).seq}`)))
    const missing = announced.filter(s => !held.has(`${s.rendition}/${s.seq}`))
    assert.deepEqual(missing.map(s => s.seq), [], `${relay.url} holds every segment announced after the kill`)
  }
})
