/**
 * The parts of the origin that decide things, each on its own, without ffmpeg, libp2p or an HTTP
 * server: what a segment is announced as (segment describer), what is kept for relays and /status
 * (published window), and when the input counts as up and the slate stands in (input watch).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeEnvelope, isHivecastError, rawCid, signAnnouncement } from '@hivecast/shared'
import type { SegmentAnnouncement, SignedEnvelope } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import { InputWatch } from '../src/input-watch.ts'
import { runTimestampOffset } from '../src/media-timeline.ts'
import { followOtherOrigin } from '../src/other-origins.ts'
import type { RunningSlate } from '../src/input-watch.ts'
import type { FinishedSegment } from '../src/playlist-watcher.ts'
import { PublishedWindow } from '../src/published-window.ts'
import { renditionInfo, resolveRenditions } from '../src/rendition-ladder.ts'
import { SegmentDescriber } from '../src/segment-describer.ts'
import type { ProbedVideo } from '../src/segment-probe.ts'
import type { PublishedSegment } from '../src/segment-publisher.ts'
import { SequenceState } from '../src/sequence-state.ts'

function finished (rendition: string, index: number, finishedAt = 0): FinishedSegment {
  return { rendition, file: `/hls/${rendition}/${index}.ts`, index, duration: 1, pdt: undefined, finishedAt, last: false }
}

const H264_1080: ProbedVideo = { codec: 'h264', width: 1920, height: 1080, frameRate: 25, videoCodec: 'avc1.64002a' }

test('segment describer: probes the first segment of each rendition once per source, and describes a passthrough from it', async () => {
  const presets = resolveRenditions(['source', '360p'])
  let probes = 0
  const describer = new SegmentDescriber({ presets, probe: async () => { probes++; return H264_1080 }, log: () => {} })
  const bytes = new Uint8Array(250_000)
  const source = renditionInfo(presets[0]!, 0)
  const described = await describer.describe(finished('source', 0), bytes, source)
  assert.equal(described.width, 1920)
  assert.equal(described.height, 1080)
  assert.equal(described.frameRate, 25)
  assert.equal(described.codecs, 'avc1.64002a,mp4a.40.2')
  assert.ok(described.bandwidth > 0, 'a passthrough is announced with a measured bandwidth')
  const encoded = await describer.describe(finished('360p', 0), bytes, renditionInfo(presets[1]!, 0))
  assert.equal(encoded.frameRate, 25, 'an encoded rendition keeps the input\'s frame rate')
  assert.equal(encoded.width, 640, 'and its preset\'s size')
  await describer.describe(finished('360p', 1), bytes, encoded)
  assert.equal(probes, 2, 'one probe per rendition')
  describer.reset()
  await describer.describe(finished('360p', 2), bytes, encoded)
  assert.equal(probes, 3, 'a new source is probed again')
})

test('segment describer: a passthrough of anything but H.264 is refused with a code; a failed probe keeps the info', async () => {
  const presets = resolveRenditions(['source', '360p'])
  const logs: string[] = []
  const describer = new SegmentDescriber({ presets, probe: async () => ({ ...H264_1080, codec: 'hevc', videoCodec: undefined }), log: line => logs.push(line) })
  await assert.rejects(describer.describe(finished('source', 0), new Uint8Array(10), renditionInfo(presets[0]!, 0)), (err: unknown) => isHivecastError(err, 'INVALID_INPUT') && err.message.includes('hevc, not H.264'))
  const failing = new SegmentDescriber({ presets, probe: async () => { throw new Error('no video stream') }, log: line => logs.push(line) })
  const info = renditionInfo(presets[1]!, 30)
  assert.deepEqual(await failing.describe(finished('360p', 0), new Uint8Array(10), info), info)
  assert.match(logs.at(-1) ?? '', /360p: cannot probe .*no video stream/)
  const blind = new SegmentDescriber({ presets, probe: undefined, log: () => {} })
  assert.deepEqual(await blind.describe(finished('360p', 0), new Uint8Array(10), info), info, 'without ffprobe the preset\'s values are announced')
})

function segment (rendition: string, seq: number, publishedAt: number): PublishedSegment {
  return { rendition, seq, cid: `cid-${rendition}-${seq}`, size: 100, duration: 1, pdt: publishedAt, finishedAt: publishedAt - 5, publishedAt, slate: false, discontinuity: false, end: false }
}

function envelope (rendition: string, seq: number): SignedEnvelope {
  return { v: 1, key: 'key', payload: `${rendition}/${seq}`, sig: 'sig' }
}

test('published window: keeps the last envelopes of each rendition and the last segments of all', () => {
  const published = new PublishedWindow({ windowSize: 2, recentSize: 3 })
  assert.equal(published.lastPublishedAt, 0)
  for (let seq = 1; seq <= 4; seq++) {
    for (const name of ['720p', '360p']) published.add(segment(name, seq, 1000 * seq), envelope(name, seq))
  }
  assert.deepEqual(published.envelopes().map(e => e.payload), ['720p/3', '720p/4', '360p/3', '360p/4'])
  assert.deepEqual(published.recent().map(s => `${s.rendition}/${s.seq}`), ['360p/3', '720p/4', '360p/4'])
  assert.equal(published.count, 8)
  assert.equal(published.lastPublishedAt, 4000)
  published.recent().pop()
  assert.equal(published.recent().length, 3, 'recent() hands out a copy')
})

interface Clock { now: number }

function watchWithSlate (clock: Clock, published: () => number): { watch: InputWatch, slates: Array<{ push: (segments: FinishedSegment[]) => void, stopped: boolean }>, publishedSlate: Array<[string, boolean]>, sourceChanges: () => number } {
  const slates: Array<{ push: (segments: FinishedSegment[]) => void, stopped: boolean }> = []
  const publishedSlate: Array<[string, boolean]> = []
  let sourceChanges = 0
  const watch = new InputWatch({
    renditions: ['720p', '360p'],
    segmentDuration: 1,
    running: () => true,
    slate: {
      file: '/slate.png',
      start: onSegments => {
        const slate = { push: onSegments, stopped: false }
        slates.push(slate)
        const running: RunningSlate = { stop: async () => { slate.stopped = true } }
        return running
      }
    },
    publishSlate: (s, discontinuity) => { publishedSlate.push([`${s.rendition}/${s.index}`, discontinuity]) },
    onSourceChange: () => { sourceChanges++ },
    published,
    log: () => {},
    now: () => clock.now
  })
  return { watch, slates, publishedSlate, sourceChanges: () => sourceChanges }
}

test('input watch: the input is up while segments arrive, and down after 3 segment durations + 2 s without', () => {
  const clock = { now: 100_000 }
  const { watch } = watchWithSlate(clock, () => 0)
  assert.equal(watch.upWithinMs, 5000)
  assert.equal(watch.up(), false, 'nothing received yet')
  watch.received([finished('720p', 0, clock.now)])
  assert.equal(watch.up(), true)
  clock.now += 4999
  assert.equal(watch.up(), true)
  clock.now += 1
  assert.equal(watch.up(), false)
  watch.received([finished('720p', 1, clock.now)])
  watch.runStarted()
  assert.equal(watch.up(), false, 'a new ffmpeg run has received nothing')
})

test('input watch: the slate starts after the silence, each join is one discontinuity per rendition, and the input stops it', async () => {
  const clock = { now: 100_000 }
  let published = 0
  const { watch, slates, publishedSlate, sourceChanges } = watchWithSlate(clock, () => published)
  watch.received([finished('720p', 0, clock.now), finished('360p', 0, clock.now)])
  published = 2
  clock.now += 4000
  watch.check()
  assert.equal(slates.length, 0, 'not silent for long enough')
  clock.now += 1000
  watch.check()
  assert.equal(slates.length, 1)
  assert.equal(watch.showingSlate, true)
  assert.equal(sourceChanges(), 1)
  watch.check()
  assert.equal(slates.length, 1, 'one slate at a time')
  slates[0]!.push([finished('720p', 0), finished('360p', 0), finished('720p', 1)])
  assert.deepEqual(publishedSlate, [['720p/0', true], ['360p/0', true], ['720p/1', false]])
  watch.received([finished('720p', 0, clock.now)])
  assert.equal(watch.showingSlate, false)
  assert.equal(slates[0]!.stopped, true)
  assert.equal(sourceChanges(), 2)
  assert.equal(watch.discontinuity('720p'), true, 'the input\'s next segment joins the slate')
  assert.equal(watch.discontinuity('720p'), false, 'once')
  assert.equal(watch.discontinuity('360p'), true)
  slates[0]!.push([finished('720p', 2)])
  assert.equal(publishedSlate.length, 3, 'a stopped slate\'s late segments are not published')
  await watch.stop()
  clock.now += 60_000
  watch.check()
  assert.equal(slates.length, 1, 'no slate after stop')
})

test('input watch: a slate before anything was published joins nothing', () => {
  const clock = { now: 100_000 }
  const { watch, slates, publishedSlate } = watchWithSlate(clock, () => 0)
  clock.now += 5000
  watch.check()
  slates[0]!.push([finished('720p', 0)])
  assert.deepEqual(publishedSlate, [['720p/0', false]])
})

test('media timeline: a run starts at the wall clock, or past the newest segment announced when that is later', () => {
  assert.equal(runTimestampOffset(1_765_000_000_123), 1_765_000_000.123)
  assert.equal(runTimestampOffset(1_765_000_000_123, 1_765_000_005_000), 1_765_000_005)
  assert.equal(runTimestampOffset(1_765_000_000_123, 1_764_000_000_000), 1_765_000_000.123, 'an old end does not hold the clock back')
})

test('sequence state: the newest end announced is kept with the numbers, only rises, and a damaged one is refused', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-state-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'state.json')
  const state = await SequenceState.load(file, 'parts')
  assert.equal(state.announcedEnd, 0)
  state.noteEnd(1_765_000_001_000.4)
  state.noteEnd(1_765_000_000_000)
  assert.equal(state.announcedEnd, 1_765_000_001_001, 'rounded up, never lowered')
  assert.equal(await state.take('240p'), 0)
  assert.equal((JSON.parse(await readFile(file, 'utf8')) as { announcedEnd: number }).announcedEnd, 1_765_000_001_001, 'saved with the number taken')
  assert.equal((await SequenceState.load(file, 'parts')).announcedEnd, 1_765_000_001_001, 'read back by a restarted origin')
  await writeFile(file, JSON.stringify({ version: 1, room: 'parts', renditions: {}, announcedEnd: 'soon' }))
  await assert.rejects(SequenceState.load(file, 'parts'), /damaged \(bad announcedEnd\)/)
  await writeFile(file, JSON.stringify({ version: 1, room: 'parts', renditions: { '240p': { nextSeq: 3 } } }))
  assert.equal((await SequenceState.load(file, 'parts')).announcedEnd, 0, 'a file from before timestamps were kept')
})

test('other origins: their segments raise our numbers and the end our timestamps start past, unless their clock is far ahead', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-other-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const other = await loadOrCreateIdentity(join(dir, 'other'))
  const state = await SequenceState.load(join(dir, 'state.json'), 'parts')
  const options = { room: 'parts', topic: 'parts', roomKeys: [other.id], renditions: ['240p'], state, log: () => {} }
  const heard = async (seq: number, pdt: number): Promise<void> => {
    const rendition = renditionInfo(resolveRenditions(['240p'])[0]!, 30)
    const cid = (await rawCid(new Uint8Array([seq]))).toString()
    const announcement: SegmentAnnouncement = { kind: 'segment', room: 'parts', rendition, seq, cid, size: 1000, duration: 1, pdt, discontinuity: false, end: false }
    await followOtherOrigin(encodeEnvelope(await signAnnouncement(announcement, other.privateKey, other.id)), options)
  }
  const now = Date.now()
  await heard(7, now - 1000)
  assert.equal(state.announcedEnd, now, 'program time plus duration')
  assert.equal(await state.take('240p'), 8)
  await heard(9, now + 3_600_000)
  assert.equal(state.announcedEnd, now, 'an end an hour ahead of our clock is not followed')
  assert.equal(await state.take('240p'), 10, 'its number still is')
})
