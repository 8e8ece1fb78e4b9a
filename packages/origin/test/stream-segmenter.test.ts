/**
 * The origin's own cut of ffmpeg's continuous MPEG-TS (LL-HLS parts on): real ffmpeg output, read in
 * chunks that split packets as a pipe's reads do, becomes segments that start at keyframes with a PAT
 * and a PMT, on the segment grid, whose parts join back into them, and whose bytes are the stream's.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import type { TestContext } from 'node:test'
import { pesStart } from '../src/mpegts-timestamps.ts'
import type { CutPart } from '../src/part-cutter.ts'
import type { FinishedSegment } from '../src/playlist-watcher.ts'
import { StreamSegmenter } from '../src/stream-segmenter.ts'

const run = promisify(execFile)

async function scratchDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-stream-segmenter-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** Cuts `stream` read in 1000-byte chunks; returns the segments with their bytes and parts. */
async function cut (dir: string, stream: Uint8Array, video: boolean, startedAt?: number): Promise<Array<FinishedSegment & { bytes: Uint8Array, parts: CutPart[] }>> {
  const parts = new Map<string, CutPart[]>()
  const segments: FinishedSegment[] = []
  const segmenter = new StreamSegmenter({
    rendition: 'r',
    dir,
    run: 7,
    segmentDuration: 1,
    partDuration: 0.333,
    video,
    ...startedAt === undefined ? {} : { startedAt },
    onParts: (file, cutParts) => { parts.set(file, [...parts.get(file) ?? [], ...cutParts]) },
    onSegment: segment => segments.push(segment),
    log: line => { throw new Error(`unexpected log: ${line}`) }
  })
  const chunks = []
  for (let at = 0; at < stream.length; at += 1000) chunks.push(stream.subarray(at, at + 1000))
  await segmenter.consume(Readable.from(chunks))
  assert.equal(segmenter.invalidBytes, 0)
  return await Promise.all(segments.map(async s => ({ ...s, bytes: new Uint8Array(await readFile(s.file)), parts: parts.get(s.file) ?? [] })))
}

const pid = (bytes: Uint8Array, at: number): number => ((bytes[at + 1]! & 0x1f) << 8) | bytes[at + 2]!

test('a continuous MPEG-TS is cut at keyframes into 1 s segments that start with PAT and PMT, whose parts and bytes join back', async t => {
  const dir = await scratchDir(t)
  const file = join(dir, 'stream.ts')
  // As the ladder encodes with parts on: a keyframe forced every second, written packet by packet.
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '3.5', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0',
    '-force_key_frames', 'expr:if(isnan(prev_forced_t),1,gte(t,prev_forced_t+1))', '-c:a', 'aac',
    '-output_ts_offset', '95442', '-flush_packets', '1', '-pes_payload_size', '0', '-f', 'mpegts', file])
  const stream = new Uint8Array(await readFile(file))
  const segments = await cut(dir, stream, true, 1_000_000)
  t.diagnostic(segments.map(s => `${s.index}: ${s.duration} s, ${s.bytes.length} B, ${s.parts.length} parts`).join('; '))
  assert.deepEqual(segments.map(s => s.index), [0, 1, 2, 3])
  assert.deepEqual(segments.map(s => s.duration).slice(0, 3), [1, 1, 1], 'whole seconds, across the timestamp wrap (95443.7 s)')
  assert.ok(Math.abs(segments[3]!.duration - 0.5) < 0.05, `the last segment is what was left: ${segments[3]!.duration} s`)
  assert.deepEqual(segments.map(s => s.last), [false, false, false, true])
  assert.deepEqual(segments.map(s => s.pdt), [1_000_000, 1_001_000, 1_002_000, 1_003_000], 'the run\'s start plus media time')
  assert.deepEqual(segments.map(s => s.file), [0, 1, 2, 3].map(i => join(dir, `run7-${i}.ts`)))
  assert.deepEqual(Buffer.concat(segments.map(s => s.bytes)), Buffer.from(stream), 'nothing added, nothing lost')
  for (const s of segments.slice(1)) {
    assert.equal(pid(s.bytes, 0), 0, `segment ${s.index} starts with a PAT`)
    const firstVideo = [...Array(s.bytes.length / 188).keys()].map(i => i * 188).find(at => pesStart(s.bytes, at)?.video === true)!
    assert.ok(firstVideo !== undefined && (s.bytes[firstVideo + 5]! & 0x40) !== 0, `segment ${s.index} starts with a keyframe`)
  }
  for (const s of segments) {
    assert.deepEqual(Buffer.concat(s.parts.map(p => p.bytes)), Buffer.from(s.bytes), `segment ${s.index}: its parts join into it`)
    assert.deepEqual(s.parts.map(p => p.index), s.parts.map((_, i) => i))
    assert.ok(s.parts.at(-1)!.last)
  }
  assert.deepEqual(segments.slice(0, 3).map(s => s.parts.length), [3, 3, 3])
})

test('an audio-only stream (a PES per AAC frame, as the ladder writes it) is cut on audio frames, on the segment grid, each segment with a PAT and PMT; without a start, time starts with the bytes', async t => {
  const dir = await scratchDir(t)
  const file = join(dir, 'audio.ts')
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '5.5', '-c:a', 'aac',
    '-flush_packets', '1', '-pes_payload_size', '0', '-f', 'mpegts', file])
  const before = Date.now()
  // No start given (an input that waits for a sender): the program date time starts as the bytes come.
  const segments = await cut(dir, new Uint8Array(await readFile(file)), false)
  t.diagnostic(segments.map(s => `${s.duration} s`).join(', '))
  assert.ok(segments[0]!.pdt! >= before && segments[0]!.pdt! <= Date.now(), 'the first program date time is when the bytes came')
  assert.equal(segments.length, 6)
  // AAC frames are 21.3 ms: every boundary is within one frame of its place on the grid.
  let end = 0
  for (const s of segments.slice(0, 5)) {
    end += s.duration
    assert.ok(Math.abs(end - (s.index + 1)) < 0.025, `segment ${s.index} ends at ${end.toFixed(3)} s`)
    // The first begins as ffmpeg's stream does (SDT, PAT, PMT); the others with copies of PAT and PMT.
    if (s.index > 0) assert.equal(pid(s.bytes, 0), 0, `segment ${s.index} starts with a PAT`)
    assert.equal(s.bytes.length % 188, 0)
  }
})
