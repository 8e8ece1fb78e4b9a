/**
 * LL-HLS parts at the origin: a segment is cut into parts of whole MPEG-TS packets at video PES
 * boundaries (also across the 33-bit timestamp wrap), and a running origin announces each part of every
 * segment (of a video and an audio-only rendition), signed on the room's parts topic, as it is encoded,
 * well before its segment; the parts' blocks joined are exactly the segment's block. A recording made
 * with parts on is made as one without them: of the whole segments, in the same files and playlists.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { unixfs } from '@helia/unixfs'
import { CID } from 'multiformats/cid'
import { roomPartsTopic, roomTopic, verifyPartEnvelope, verifyRoomMessage } from '@hivecast/shared'
import { getBlock } from '@hivecast/shared/node'
import { eventually } from '@hivecast/devnet'
import type { PartAnnouncement, SegmentAnnouncement } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import { startOrigin } from '../src/index.ts'
import { PartCutter } from '../src/part-cutter.ts'
import { pesStart } from '../src/mpegts-timestamps.ts'
import { listenToRoom, scratch } from './room-listener.ts'
import type { Scratch } from './room-listener.ts'

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

/** What a test needs of a recording: its files, its rendition's playlist and segments (name -> CID). */
interface ReadRecording { files: string[], playlist: string, segments: Map<string, string> }

async function readRecording (peer: P2PNode, cid: string, rendition: string): Promise<ReadRecording> {
  const fs = unixfs(peer)
  const root = CID.parse(cid)
  const signal = AbortSignal.timeout(10_000)
  const files: string[] = []
  for await (const entry of fs.ls(root, { signal })) files.push(entry.name)
  const segments = new Map<string, string>()
  for await (const entry of fs.ls(root, { path: rendition, signal })) segments.set(entry.name, entry.cid.toString())
  const chunks: Uint8Array[] = []
  for await (const chunk of fs.cat(root, { path: `${rendition}.m3u8`, signal })) chunks.push(chunk)
  return { files, playlist: Buffer.concat(chunks).toString('utf8'), segments }
}

/** A playlist's kinds of line: numbers, times and names blanked, so two sessions' playlists compare. */
function playlistShape (playlist: string): string[] {
  return [...new Set(playlist.split('\n').map(line => line.replace(/\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-][\d:]+)/g, 'T').replace(/\d+(\.\d+)?/g, 'N')))].sort()
}

test('a recording made with parts on is made as one without: the same files and playlist, of the whole segments announced, no parts', async t => {
  const spaces: Scratch[] = []
  /** An origin with `partDuration`, until its first interim recording holds 4 segments. */
  const record = async (partDuration: number): Promise<{ recording: ReadRecording, segments: SegmentAnnouncement[], parts: Set<string> }> => {
    const room = `${ROOM}-${partDuration > 0 ? 'on' : 'off'}`
    const space = await scratch(t, room)
    spaces.push(space)
    const dataDir = join(space.dir, 'origin')
    await mkdir(dataDir)
    const origin = await startOrigin({ room, dataDir, http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p'], thumbnailInterval: 0, recordingInterval: 2, partDuration, log: line => space.logs.push(line) })
    space.running.add(origin)
    const { peer, segments } = await listenToRoom(origin, room, space)
    const parts = new Set<string>()
    peer.libp2p.services.pubsub.addEventListener('message', event => {
      if (event.detail.topic !== roomPartsTopic(room)) return
      void verifyPartEnvelope(event.detail.data, [origin.key]).then(r => { if (r.ok) parts.add(r.value.announcement.cid) })
    })
    peer.libp2p.services.pubsub.subscribe(roomPartsTopic(room))
    const made = await eventually(`an interim recording of 4 segments with parts ${partDuration > 0 ? 'on' : 'off'}`, () => origin.status().recording.recordings.find(r => r.segments >= 4), 60_000)
    return { recording: await readRecording(peer, made.cid, '240p'), segments, parts }
  }
  const [on, off] = await Promise.all([record(0.333), record(0)])
  assert.ok(on.parts.size > 0, 'parts were announced with parts on')
  assert.equal(off.parts.size, 0, 'no parts with --part-duration 0')
  assert.deepEqual(on.recording.files, off.recording.files)
  assert.deepEqual(playlistShape(on.recording.playlist), playlistShape(off.recording.playlist))
  for (const [mode, made] of [['on', on], ['off', off]] as const) {
    assert.ok(made.recording.segments.size >= 4, `parts ${mode}: ${made.recording.segments.size} segments recorded`)
    for (const [name, cid] of made.recording.segments) {
      const seq = Number(/^(\d+)\.ts$/.exec(name)?.[1])
      assert.equal(cid, made.segments.find(s => s.seq === seq)?.cid, `parts ${mode}: ${name} is the segment announced as seq ${seq}`)
      assert.ok(!made.parts.has(cid), `parts ${mode}: ${name} is a part`)
      assert.ok(made.recording.playlist.includes(`240p/${name}`), `parts ${mode}: the playlist lists ${name}`)
    }
  }
  t.diagnostic(`recorded with parts on: ${on.recording.segments.size} segments (${on.parts.size} parts announced); off: ${off.recording.segments.size}`)
  for (const space of spaces) space.passed()
})
