/**
 * Hot standby with real processes (devnet: a primary origin, a standby origin started with the
 * primary's key, a relay given both): the standby's ffmpeg crashes and restarts, then the primary is
 * killed (SIGKILL) mid-stream and the relay's playlist goes on from the standby with a discontinuity,
 * rising sequence numbers and timestamps that go on from the primary's. The room thumbnail made by the origins is served by the relay too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import { eventually, startDevnet } from '@hivecast/devnet'
import type { Devnet } from '@hivecast/devnet'
import { jpegSize } from '../src/thumbnail-publisher.ts'
import { TICKS_PER_SECOND, fetchSegments, relayEntries, ticksBetween, videoSpan } from './segment-timestamps.ts'
import type { Entry } from './segment-timestamps.ts'

const RENDITION = '240p'
/** Segment duration the devnet origins use (their default). */
const SEGMENT_SECONDS = 1

/** The relay's playlist of the rendition, as entries. */
async function playlist (relay: string, room: string): Promise<Entry[]> {
  return await relayEntries(relay, room, RENDITION)
}

test('the primary origin is killed: the relay\'s playlist continues from the standby, discontinuity at the switch, seqs rising', async t => {
  const lines: string[] = []
  // The primary has run for a while (its numbers are far ahead); the standby starts from nothing and
  // must number its segments after the primary's, or the relay could never list them.
  const dataDir = await mkdtemp(join(tmpdir(), 'hivecast-standby-'))
  await mkdir(join(dataDir, 'origin'))
  await writeFile(join(dataDir, 'origin', 'state.json'), JSON.stringify({ version: 1, room: 'demo', renditions: { [RENDITION]: { nextSeq: 500 } } }))
  let passed = false
  let started: Devnet | undefined
  t.after(async () => {
    await started?.stop()
    await rm(dataDir, { recursive: true, force: true })
    if (!passed) t.diagnostic(lines.join('\n'))
  })
  const devnet = started = await startDevnet({ relays: 1, renditions: RENDITION, standby: true, dataDir, log: line => lines.push(line) })
  const relay = devnet.relays[0]!.url
  const standby = devnet.standby!
  const roomStatus = async (): Promise<{ following: string, switches: number, thumbnail: { cid: string } | null }> =>
    ((await (await fetch(`${relay}/status`)).json()) as { rooms: Record<string, { following: string, switches: number, thumbnail: { cid: string } | null }> }).rooms[devnet.room]!
  assert.equal(lines.some(l => l.includes(`[origin-standby] other origins of room ${devnet.room}: ${devnet.origin.key}`)), true, 'the standby follows the primary\'s numbers')

  const before = await eventually('the primary\'s segments on the relay', async () => {
    const entries = await playlist(relay, devnet.room)
    return entries.length >= 3 ? entries : undefined
  }, 60_000)
  assert.equal((await roomStatus()).following, devnet.origin.key, 'the relay follows the primary first')

  // The thumbnail of the room (320 px JPEG of the test pattern) is served by the relay, matching its CID.
  const thumbnail = await eventually('a thumbnail on the relay', async () => {
    const res = await fetch(`${relay}/rooms/${devnet.room}/thumbnail.jpg`)
    return res.status === 200 ? { type: res.headers.get('content-type'), bytes: new Uint8Array(await res.arrayBuffer()) } : undefined
  }, 30_000)
  assert.equal(thumbnail.type, 'image/jpeg')
  assert.deepEqual(jpegSize(thumbnail.bytes), { width: 320, height: 180 })
  const listed = (await roomStatus()).thumbnail
  assert.ok(listed !== null)
  assert.deepEqual(CID.parse(listed.cid).multihash.digest, new Uint8Array(createHash('sha256').update(thumbnail.bytes).digest()), 'served bytes are the listed CID')

  // Hot: the standby has heard the primary and numbers its segments after the primary's.
  await eventually('the standby to number after the primary', async () => {
    const s = await (await fetch(`${standby.url}/status`)).json() as { recent: Array<{ seq: number }> }
    return (s.recent.at(-1)?.seq ?? 0) > 500 ? true : undefined
  }, 30_000)
  // The standby's own ffmpeg crashes first: its next run must stamp the room's clock too, not start over
  // near 0 while the primary's timestamps are seconds ahead.
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,comm=', '--ppid', String(standby.process.child.pid)])
  const standbyFfmpeg = stdout.split('\n').map(line => line.trim().split(/\s+/)).find(([, comm]) => comm === 'ffmpeg')?.[0]
  assert.ok(standbyFfmpeg !== undefined, 'the standby runs ffmpeg')
  process.kill(Number(standbyFfmpeg), 'SIGKILL')
  const crashedAt = Date.now()
  await eventually('the standby\'s next ffmpeg run to publish', async () => {
    const s = await (await fetch(`${standby.url}/status`)).json() as { recent: Array<{ finishedAt: number }> }
    return s.recent.filter(e => e.finishedAt > crashedAt).length >= 3 ? true : undefined
  }, 30_000)
  await devnet.origin.process.kill()
  const killedAt = Date.now()
  const lastPrimary = (await playlist(relay, devnet.room)).at(-1) ?? before.at(-1)!
  const after = await eventually('the standby\'s segments after the kill', async () => {
    const entries = await playlist(relay, devnet.room)
    return entries.filter(e => e.seq > lastPrimary.seq).length >= 3 ? entries : undefined
  }, 60_000)
  t.diagnostic(`first standby segment listed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (or sooner)`)
  const status = await roomStatus()
  assert.equal(status.following, standby.key)
  assert.equal(status.switches, 1)
  const seqs = after.map(e => e.seq)
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'sequence numbers rise by one, with no hole at the switch')
  // Who signed each listed segment, from the relay's signed window: the primary's, then the standby's.
  const window = await (await fetch(`${relay}/rooms/${devnet.room}/window.json`)).json() as { renditions: Record<string, Array<{ envelope: { key: string, payload: string } }>> }
  const signer = new Map((window.renditions[RENDITION] ?? []).map(({ envelope }) => [(JSON.parse(envelope.payload) as { seq: number }).seq, envelope.key]))
  // Around the switch (older entries may have slid out of the window since the playlist was read).
  const near = after.filter(e => e.seq >= lastPrimary.seq - 2)
  const switchAt = near.findIndex(e => signer.get(e.seq) === standby.key)
  assert.ok(switchAt > 0, `the primary's segments, then the standby's: ${JSON.stringify(near.map(e => [e.seq, signer.get(e.seq)?.slice(-4)]))}`)
  assert.ok(near.slice(0, switchAt).every(e => signer.get(e.seq) === devnet.origin.key), 'before the switch, only the primary')
  assert.ok(near.slice(switchAt).every(e => signer.get(e.seq) === standby.key), 'after it, only the standby')
  assert.equal(near[switchAt]!.discontinuity, true, 'a discontinuity at the switch')
  assert.ok(near.slice(switchAt + 1).every(e => !e.discontinuity), 'and none after it')
  assert.ok(near[switchAt]!.seq > 500, 'the standby numbers after the primary')
  // The standby's segments pick up where the primary's stopped: within 3 segment durations of program
  // time (the standby's clock is the same machine's), so viewers lose at most that much of the talk.
  const last = near[switchAt - 1]!
  const gap = (near[switchAt]!.pdt - (last.pdt + last.duration * 1000)) / 1000
  t.diagnostic(`program-time gap at the switch: ${gap.toFixed(2)} s; standby from seq ${near[switchAt]!.seq} after ${last.seq}`)
  assert.ok(gap <= 3 * SEGMENT_SECONDS, `the standby continues within 3 segment durations (gap ${gap.toFixed(2)} s)`)
  assert.ok(lines.some(l => /\[relay-1\].*quiet for [\d.]+ s; following origin/.test(l)), 'the relay logs the switch')

  // Timestamps go on from the primary's: both origins stamp every run, the standby's restarted one too,
  // on the wall clock (media-timeline.ts), so the step in timestamps at the switch is the step in program
  // time (within the two ffmpeg start-up times). The two encoders overlap (the standby's segment numbered
  // next was cut while the primary's last was), so that step can be back by up to a segment.
  const [primarySpan, standbySpan] = await Promise.all((await fetchSegments(relay, [last.cid, near[switchAt]!.cid])).map(videoSpan))
  const step = ticksBetween(primarySpan!.end, standbySpan!.start) / TICKS_PER_SECOND
  t.diagnostic(`timestamps at the switch: the standby's first frame starts ${step.toFixed(3)} s after the primary's last frame ended`)
  assert.ok(Math.abs(step - gap) < SEGMENT_SECONDS, `timestamps step ${step.toFixed(3)} s at the switch, program time ${gap.toFixed(3)} s`)
  assert.ok(step > -2 * SEGMENT_SECONDS, `the standby's timestamps go back ${(-step).toFixed(3)} s at the switch`)
  passed = true
})
