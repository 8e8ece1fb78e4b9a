/**
 * LL-HLS parts at the origin: a segment is cut into parts of whole MPEG-TS packets at video PES
 * boundaries (also across the 33-bit timestamp wrap), and a running origin announces each part of every
 * segment (of a video and an audio-only rendition), signed on the room's parts topic, as it is encoded,
 * well before its segment; the parts' blocks joined are exactly the segment's block.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import { roomPartsTopic, roomTopic, verifyPartEnvelope, verifyRoomMessage } from '@hivecast/shared'
import { getBlock } from '@hivecast/shared/node'
import { eventually } from '@hivecast/devnet'
import type { PartAnnouncement, SegmentAnnouncement } from '@hivecast/shared'
import { startOrigin } from '../src/index.ts'
import { PartCutter } from '../src/part-cutter.ts'
import { pesStart } from '../src/mpegts-timestamps.ts'
import { listenToRoom, scratch } from './room-listener.ts'

const ROOM = 'parts-test'

test('a segment is cut into parts of whole packets at video frames, across the timestamp wrap, that join back to it', async t => {
  const space = await scratch(t, 'part-cutter')
  const file = join(space.dir, 'segment.ts')
  // One 1 s GOP at 30 fps with B-frames; with the muxer's 1.4 s delay the offset puts the 33-bit wrap
  // (95443.718 s) about half-way through it.
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '1', '-c:v', 'libx264', '-g', '30', '-bf', '2', '-c:a', 'aac', '-output_ts_offset', '95441.8', '-f', 'mpegts', file])
  const segment = new Uint8Array(await readFile(file))
  const videoDts: number[] = []
  for (let at = 0; at < segment.length; at += 188) {
    const pes = pesStart(segment, at)
    if (pes?.video === true) videoDts.push(pes.dts)
  }
  assert.ok(videoDts.some((dts, i) => i > 0 && dts < videoDts[i - 1]!), 'the timestamps wrap within the segment')
  const cutter = new PartCutter(0.333)
  const parts = []
  // Chunks that split packets, as reads of a file being written do.
  for (let at = 0; at < segment.length; at += 1000) parts.push(...cutter.push(segment.subarray(at, at + 1000)))
  const last = cutter.finish(1)
  assert.ok(last !== undefined)
  parts.push(last)
  t.diagnostic(`parts: ${parts.map(p => `${p.bytes.length} B ${p.duration} s`).join(', ')}`)
  assert.equal(parts.length, 3, 'three parts of about a third of a second')
  assert.deepEqual(parts.map(p => p.index), [0, 1, 2])
  assert.deepEqual(parts.map(p => p.independent), [true, false, false])
  assert.deepEqual(parts.map(p => p.last), [false, false, true])
  for (const p of parts.slice(0, -1)) assert.ok(Math.abs(p.duration - 1 / 3) < 0.002, `a part of ${p.duration} s`)
  assert.ok(Math.abs(parts.reduce((sum, p) => sum + p.duration, 0) - 1) < 0.002)
  assert.deepEqual(Buffer.concat(parts.map(p => p.bytes)), Buffer.from(segment))
  for (const p of parts) assert.equal(p.bytes.length % 188, 0)
  // Every part after the first starts with a video frame's PES header.
  for (const p of parts.slice(1)) assert.equal(pesStart(p.bytes, 0)?.video, true)
  space.passed()
})

test('the origin announces every part signed, before its segment, and the parts join into the segment', async t => {
  const space = await scratch(t, 'parts')
  const dataDir = join(space.dir, 'origin')
  await mkdir(dataDir)
  const origin = await startOrigin({ room: ROOM, dataDir, http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p', 'audio'], thumbnailInterval: 0, partDuration: 0.333, log: line => space.logs.push(line) })
  space.running.add(origin)
  const { peer } = await listenToRoom(origin, ROOM, space)
  const heard: Array<{ at: number, part?: PartAnnouncement, segment?: SegmentAnnouncement }> = []
  peer.libp2p.services.pubsub.addEventListener('message', event => {
    const at = Date.now()
    if (event.detail.topic === roomPartsTopic(ROOM)) {
      void verifyPartEnvelope(event.detail.data, [origin.key]).then(r => { if (r.ok) heard.push({ at, part: r.value.announcement }) })
    } else if (event.detail.topic === roomTopic(ROOM)) {
      void verifyRoomMessage(event.detail.data, [origin.key]).then(r => { if (r.ok && r.value.announcement.kind === 'segment') heard.push({ at, segment: r.value.announcement }) })
    }
  })
  peer.libp2p.services.pubsub.subscribe(roomPartsTopic(ROOM))
  const firstPartSeq = await eventually('a part', () => heard.find(h => h.part?.part === 0)?.part?.seq, 60_000)
  // Segments whose every part was heard: from the first one whose part 0 came in.
  const segments = await eventually('3 whole segments after the first part', () => {
    const whole = heard.flatMap(h => h.segment !== undefined && h.segment.seq > firstPartSeq ? [h.segment] : [])
    return whole.length >= 3 ? whole.slice(0, 3) : undefined
  }, 30_000)
  const block = async (cid: string): Promise<Uint8Array> => await getBlock(peer, CID.parse(cid), { signal: AbortSignal.timeout(5000) })
  const leads: number[] = []
  for (const segment of segments) {
    const parts = heard.flatMap(h => h.part?.seq === segment.seq && h.part.rendition === segment.rendition.name ? [h.part] : [])
    assert.deepEqual(parts.map(p => p.part), parts.map((_, i) => i), `seq ${segment.seq}: parts in order from 0`)
    assert.ok(parts.length >= 2, `seq ${segment.seq} has ${parts.length} parts`)
    assert.equal(parts[0]!.independent, true)
    assert.ok(parts.slice(1).every(p => !p.independent))
    assert.ok(parts.at(-1)!.last && parts.slice(0, -1).every(p => !p.last), 'the last part says so')
    assert.ok(parts.every(p => p.session === segment.session && p.rendition === segment.rendition.name))
    const heardAt = (what: PartAnnouncement | SegmentAnnouncement): number => heard.find(h => h.part === what || h.segment === what)!.at
    assert.ok(heardAt(parts.at(-1)!) <= heardAt(segment), `seq ${segment.seq}: its last part was announced before it`)
    leads.push(heardAt(segment) - heardAt(parts[0]!))
    const joined = Buffer.concat(await Promise.all(parts.map(async p => await block(p.cid))))
    assert.deepEqual(joined, Buffer.from(await block(segment.cid)), `seq ${segment.seq}: the parts join into the segment`)
    assert.ok(Math.abs(parts.reduce((sum, p) => sum + p.duration, 0) - segment.duration) < 0.01)
  }
  // The parts go out as ffmpeg encodes them: the first about two thirds of a second before its 1 s
  // segment is complete. (Cut from ffmpeg's finished HLS segments they all came with it, 0-20 ms.)
  leads.sort((a, b) => a - b)
  t.diagnostic(`part 0 heard before its segment by ${leads.join(', ')} ms`)
  assert.ok(leads[1]! >= 300, `the first part precedes its segment by ${leads[1]} ms (median)`)
  const status = origin.status()
  assert.equal(status.parts?.duration, 0.333)
  assert.ok((status.parts?.published ?? 0) >= 6)
  t.diagnostic(`part publish latency (closing bytes read -> announced): ${JSON.stringify(status.parts?.latencyMs)} ms`)
  space.passed()
})

test('with parts off (--part-duration 0) the origin announces segments and no parts', async t => {
  const space = await scratch(t, 'no-parts')
  const dataDir = join(space.dir, 'origin')
  await mkdir(dataDir)
  const origin = await startOrigin({ room: ROOM, dataDir, http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p'], thumbnailInterval: 0, partDuration: 0, log: line => space.logs.push(line) })
  space.running.add(origin)
  const { peer, segments } = await listenToRoom(origin, ROOM, space)
  let parts = 0
  peer.libp2p.services.pubsub.addEventListener('message', event => { if (event.detail.topic === roomPartsTopic(ROOM)) parts++ })
  peer.libp2p.services.pubsub.subscribe(roomPartsTopic(ROOM))
  await eventually('3 segments', () => segments.length >= 3 ? true : undefined, 60_000)
  assert.equal(parts, 0)
  assert.equal(origin.status().parts, null)
  space.passed()
})
