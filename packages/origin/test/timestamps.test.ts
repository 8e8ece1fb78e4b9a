/**
 * Timestamps across an origin crash, with real processes (devnet: an origin on the test pattern and a
 * relay): the origin is killed with SIGKILL and started again on its data dir. The relay's playlist goes
 * on after an `#EXT-X-DISCONTINUITY`, and the segments' PTS/DTS go on forward from where they were,
 * so players that follow timestamps (mpv, ffplay, recordings) are not sent back in time. And a run
 * starts past the end saved in state.json even when that is ahead of the clock, in MPEG-TS and fMP4.
 * mpv and ffplay play the segments across the restart to their end.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import { getBlock } from '@hivecast/shared/node'
import { eventually, startDevnet } from '@hivecast/devnet'
import type { Devnet } from '@hivecast/devnet'
import { startOrigin } from '../src/index.ts'
import { listenToRoom, scratch } from './room-listener.ts'
import { playWithFfplay, playWithMpv, servePlaylist } from './outside-players.ts'
import type { Played } from './outside-players.ts'
import { TICKS_PER_SECOND, decodeTimesRise, fetchSegments, relayEntries, ticksBetween, videoSpan } from './segment-timestamps.ts'

const RENDITION = '240p'
/** Segment duration the devnet origin uses (its default). */
const SEGMENT_SECONDS = 1
/** Segments compared on each side of the restart. */
const AROUND = 3
/** How far from the playlist's length an outside player's clock may end (its first reading, frame and audio granularity). */
const PLAYED_TOLERANCE_SECONDS = 1.5

/** MPEG-TS remuxed by ffmpeg without -copyts: its timestamps start near 0, as a restarted origin's once did. */
async function restampedFromZero (bytes: Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-restamp-'))
  try {
    await writeFile(join(dir, 'in.ts'), bytes)
    await promisify(execFile)('ffmpeg', ['-v', 'error', '-i', join(dir, 'in.ts'), '-map', '0', '-c', 'copy', '-f', 'mpegts', join(dir, 'out.ts')])
    return await readFile(join(dir, 'out.ts'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('the origin is killed and restarted: the timestamps after the restart go on forward from those before, and mpv and ffplay play across it', async t => {
  const lines: string[] = []
  const dataDir = await mkdtemp(join(tmpdir(), 'hivecast-timestamps-'))
  let passed = false
  let started: Devnet | undefined
  t.after(async () => {
    await started?.stop()
    await rm(dataDir, { recursive: true, force: true })
    if (!passed) t.diagnostic(lines.join('\n'))
  })
  const devnet = started = await startDevnet({ relays: 1, renditions: RENDITION, dataDir, log: line => lines.push(line) })
  const relay = devnet.relays[0]!.url
  await eventually(`${AROUND} segments on the relay`, async () => (await relayEntries(relay, devnet.room, RENDITION)).length >= AROUND ? true : undefined, 60_000)

  await devnet.origin.process.kill()
  const killedAt = Date.now()
  await devnet.restartOrigin()
  await eventually('the restarted origin\'s first segment on the relay', async () => (await relayEntries(relay, devnet.room, RENDITION)).some(e => e.discontinuity) ? true : undefined, 60_000)
  // From the kill to the restarted origin's first segment on the relay (at most: it is seen later).
  const restartSeconds = (Date.now() - killedAt) / 1000
  const entries = await eventually(`the relay to list ${AROUND} segments after a discontinuity`, async () => {
    const listed = await relayEntries(relay, devnet.room, RENDITION)
    const cut = listed.findLastIndex(e => e.discontinuity)
    return cut >= AROUND && listed.length - cut >= AROUND ? listed : undefined
  }, 60_000)
  const cut = entries.findLastIndex(e => e.discontinuity)
  const beforeRestart = entries.slice(cut - AROUND, cut)
  const afterRestart = entries.slice(cut, cut + AROUND)

  const [lastBefore, firstAfter] = await Promise.all((await fetchSegments(relay, [beforeRestart.at(-1)!.cid, afterRestart[0]!.cid])).map(videoSpan))
  const gap = ticksBetween(lastBefore!.end, firstAfter!.start)
  t.diagnostic(`last frame before the restart ends at ${lastBefore!.end}, the first after starts at ${firstAfter!.start} (90 kHz): ${(gap / TICKS_PER_SECOND).toFixed(3)} s later; the restart took at most ${restartSeconds.toFixed(1)} s`)
  assert.ok(gap >= -lastBefore!.frame, `timestamps went back ${(-gap / TICKS_PER_SECOND).toFixed(3)} s across the restart`)
  assert.ok(gap / TICKS_PER_SECOND < SEGMENT_SECONDS + restartSeconds, `timestamps jumped ${(gap / TICKS_PER_SECOND).toFixed(3)} s ahead across a restart of ${restartSeconds.toFixed(1)} s`)

  // Read one after another, as ffmpeg reads the relay's playlist across the restart: decode times rise throughout.
  const around = [...beforeRestart, ...afterRestart]
  const bytes = await fetchSegments(relay, around.map(e => e.cid))
  assert.deepEqual(await decodeTimesRise(bytes), [])

  // mpv and ffplay play the segments across the restart to the end. The control is the same segments
  // with the restarted run's timestamps starting near 0, as ffmpeg's own do: the check must catch it.
  const served = await servePlaylist(around.map((e, i) => ({ bytes: bytes[i]!, duration: e.duration, discontinuity: e.discontinuity })))
  const afterBytes = await restampedFromZero(Buffer.concat(bytes.slice(AROUND)))
  const control = await servePlaylist([
    ...beforeRestart.map((e, i) => ({ bytes: bytes[i]!, duration: e.duration, discontinuity: false })),
    { bytes: afterBytes, duration: afterRestart.reduce((sum, e) => sum + e.duration, 0), discontinuity: true }
  ])
  t.after(async () => { await Promise.all([served.close(), control.close()]) })
  const timeout = (served.seconds + 30) * 1000
  const played = await Promise.all([served, control].flatMap(p => [playWithMpv(p.url, timeout), playWithFfplay(p.url, timeout)]))
  // Their clocks run through the playlist and jump the restart's gap with the timestamps.
  const expected = served.seconds + gap / TICKS_PER_SECOND
  for (const [index, p] of played.entries()) t.diagnostic(`${index < 2 ? 'the relay\'s segments' : 'the control'}: ${p.player}'s clock moved ${p.playedSeconds.toFixed(2)} s (${served.seconds.toFixed(2)} s of segments and a ${(gap / TICKS_PER_SECOND).toFixed(2)} s gap)${[...p.resets, ...p.remarks].length > 0 ? `, saying ${JSON.stringify([...p.resets, ...p.remarks].slice(0, 2))}` : ''}`)
  const wholeAndQuiet = (p: Played): boolean => Math.abs(p.playedSeconds - expected) <= PLAYED_TOLERANCE_SECONDS && p.resets.length === 0
  for (const p of played.slice(0, 2)) assert.ok(wholeAndQuiet(p), `${p.player}'s clock moved ${p.playedSeconds.toFixed(2)} s across the restart, not ${expected.toFixed(2)} s (resets: ${JSON.stringify(p.resets)})`)
  for (const p of played.slice(2)) assert.ok(!wholeAndQuiet(p), `${p.player} played the control (timestamps from 0 after the restart) without a sign of it: the check cannot fail`)

  // The restarted origin found where to start in its own state, saved with the sequence numbers.
  const saved = JSON.parse(await readFile(join(dataDir, 'origin', 'state.json'), 'utf8')) as { announcedEnd?: number }
  assert.ok(typeof saved.announcedEnd === 'number' && saved.announcedEnd >= entries.at(-1)!.pdt, 'state.json keeps the end of the newest segment announced')
  passed = true
})

test('an origin starts its timestamps past the end saved in state.json, in its MPEG-TS and fMP4 renditions', async t => {
  const space = await scratch(t, 'timeline')
  const dataDir = join(space.dir, 'origin')
  await mkdir(dataDir)
  // As if the source's clock had run ahead of ours: the newest segment announced ends 10 minutes from now.
  const announcedEnd = Date.now() + 600_000
  await writeFile(join(dataDir, 'state.json'), JSON.stringify({ version: 1, room: 'timeline-test', renditions: {}, announcedEnd }))
  const origin = await startOrigin({ room: 'timeline-test', dataDir, http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p', 'av1-360p'], thumbnailInterval: 0, log: line => space.logs.push(line) })
  space.running.add(origin)
  const { peer, segments } = await listenToRoom(origin, 'timeline-test', space)
  const [ts, fmp4] = await eventually('a segment of each rendition', () => {
    const found = ['240p', 'av1-360p'].map(name => segments.find(s => s.rendition.name === name))
    return found.every(s => s !== undefined) ? found : undefined
  }, 60_000)
  const block = async (cid: string): Promise<Uint8Array> => await getBlock(peer, CID.parse(cid), { signal: AbortSignal.timeout(5000) })

  // MPEG-TS: on the 90 kHz clock, modulo 2^33.
  const expected = Math.round(announcedEnd / 1000 * TICKS_PER_SECOND) % 2 ** 33
  const start = (await videoSpan(await block(ts!.cid))).start
  const late = ticksBetween(expected, start) / TICKS_PER_SECOND
  t.diagnostic(`the first MPEG-TS frame starts ${late.toFixed(3)} s after the saved end`)
  // Within the segments before it (the listener may miss the first announcements) and ffmpeg's start.
  assert.ok(late >= 0 && late < ts!.seq + 3, `segment ${ts!.seq}'s first MPEG-TS frame starts ${late.toFixed(3)} s after the saved end`)

  // fMP4: the whole value, in the segment's tfdt (what hls.js reads), and in seconds from init section and segment read together.
  const init = Buffer.from(await block(fmp4!.init!.cid))
  const segment = await block(fmp4!.cid)
  // The first track is the video: its mdhd timescale, and its traf's tfdt.
  const mdhd = init.indexOf('mdhd')
  const timescale = init.readUInt32BE(mdhd + (init[mdhd + 4] === 1 ? 24 : 16))
  const tfdt = Buffer.from(segment).indexOf('tfdt')
  assert.ok(tfdt > 0 && segment[tfdt + 4] === 1, 'a version 1 (64-bit) tfdt')
  const tfdtSeconds = Number(Buffer.from(segment).readBigUInt64BE(tfdt + 8)) / timescale
  // The offset is rounded to the track's timescale: a tick early at most.
  assert.ok(tfdtSeconds >= announcedEnd / 1000 - 1 / timescale && tfdtSeconds < announcedEnd / 1000 + fmp4!.seq + 3, `the first fMP4 fragment's tfdt is ${tfdtSeconds} s`)
  const file = join(space.dir, 'first.mp4')
  await writeFile(file, Buffer.concat([init, segment]))
  const { stdout } = await promisify(execFile)('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file])
  const fmp4Start = Math.min(...stdout.trim().split('\n').map(Number))
  const fmp4Late = fmp4Start - announcedEnd / 1000
  t.diagnostic(`the first fMP4 frame starts ${fmp4Late.toFixed(3)} s after the saved end`)
  assert.ok(fmp4Late >= -1 / timescale && fmp4Late < fmp4!.seq + 3, `the first fMP4 frame starts ${fmp4Late.toFixed(3)} s after the saved end (at ${fmp4Start} s)`)
  space.passed()
})
