/**
 * CEA-608 captions of the input: the decoder (pop-on, roll-up, doubled control codes, the other
 * channel, special and extended characters, parity), and with real ffmpeg the whole way a caption
 * takes in the origin: a fixture file whose H.264 carries A/53 `cc_data` SEI (checked first with
 * ffmpeg's own 608 decoder), re-encoded by libx264 through a scaler as the ladder does (its `a53cc`
 * writes the captions again), cut into 1 s MPEG-TS segments, and followed by the caption track, whose
 * WebVTT segments carry the known text at the time it was shown.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { captionSei, erasePairs, insertSei, loadPairs, showPairs, withOddParity, writeCea608Fixture } from '@hivecast/devnet/cea608-fixture'
import { captionPairs } from '../src/a53-captions.ts'
import { CaptionTrack, escapeCueText, parseCaptionLanguage } from '../src/caption-track.ts'
import { Cea608Screen } from '../src/cea608-captions.ts'
import type { FinishedSegment } from '../src/playlist-watcher.ts'

const dir = await mkdtemp(join(tmpdir(), 'hivecast-cea608-'))
test.after(async () => { await rm(dir, { recursive: true, force: true }) })

const p = (a: number, b: number): [number, number] => [withOddParity(a), withOddParity(b)]
function feed (screen: Cea608Screen, pairs: Array<[number, number]>): void {
  for (const [a, b] of pairs) screen.feed(a, b)
}
function chars (text: string): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i < text.length; i += 2) out.push(p(text.charCodeAt(i), i + 1 < text.length ? text.charCodeAt(i + 1) : 0))
  return out
}

test('pop-on: loaded off screen, shown at EOC (sent twice, taken once), erased at EDM', () => {
  const screen = new Cea608Screen()
  feed(screen, loadPairs('Hello, world'))
  assert.equal(screen.text(), '', 'a loading caption is not shown')
  feed(screen, showPairs())
  assert.equal(screen.text(), 'Hello, world', 'the repeated EOC does not swap back')
  feed(screen, loadPairs('Second'))
  assert.equal(screen.text(), 'Hello, world')
  feed(screen, showPairs())
  assert.equal(screen.text(), 'Second')
  feed(screen, erasePairs())
  assert.equal(screen.text(), '')
  // A frame the encoder duplicated (ffmpeg's constant frame rate) repeats its EOC once more.
  feed(screen, [...loadPairs('Third'), ...showPairs(), ...showPairs()])
  assert.equal(screen.text(), 'Third')
})

test('roll-up keeps its rows, paint-on writes on screen; the other channel, special and extended characters, parity', () => {
  const screen = new Cea608Screen()
  const cr = [p(0x14, 0x2d), p(0x14, 0x2d)]
  feed(screen, [p(0x14, 0x25), p(0x14, 0x25), ...chars('ONE'), ...cr, ...chars('TWO'), ...cr, ...chars('THREE')])
  assert.equal(screen.text(), 'TWO\nTHREE', 'RU2: two rows, the oldest rolls off')
  // CC2's text (after its control code, first byte 0x1c) is not CC1's.
  feed(screen, [p(0x1c, 0x2d), ...chars('CC2 TEXT'), p(0x14, 0x2d), ...chars('A')])
  assert.equal(screen.text(), 'THREE\nA')
  // Paint-on; é is 0x5C in 608, ♪ a special (0x11 0x37), É an extended character replacing the E before it.
  feed(screen, [p(0x14, 0x2c), p(0x14, 0x29), p(0x14, 0x60), ...chars('caf\\ '), p(0x11, 0x37), p(0x11, 0x37), ...chars('E'), p(0x12, 0x21), p(0x12, 0x21)])
  assert.equal(screen.text(), 'café ♪É')
  // A character with a parity error shows as a block; a control code with one is dropped.
  feed(screen, [[0x41, withOddParity(0x42)], [0x14, 0x2c]])
  assert.equal(screen.text(), 'café ♪É█B')
})

test('the fixture puts its SEI before the first slice of the frame', () => {
  const sei = captionSei([p(0x14, 0x20), [0x00, 0x00], p(0x41, 0x42)])
  const stream = insertSei(Uint8Array.from([0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 0x88, 0x84]), new Map([[0, sei]]))
  assert.deepEqual([...stream.subarray(6, 6 + sei.length)], [...sei], 'inserted before the slice')
})

test('an input file with CEA-608 captions: ffmpeg reads them; re-encoded and cut as the ladder does, the caption track writes them at their time', async () => {
  const file = join(dir, 'cea608.ts')
  // The third is markup in the input: escaped in the WebVTT like a typed line.
  const captions = [{ text: 'HELLO FROM CEA-608', from: 1.6, to: 3.4 }, { text: 'Second line.', from: 4.2, to: 5.6 }, { text: '<b>bold</b> & -->', from: 6.4, to: 7.2 }]
  await writeCea608Fixture({ file, seconds: 8, captions })
  // ffmpeg's own decoder (lavfi's subcc output, ccaption_dec) reads the fixture's captions.
  const own = await execa('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i', `movie=filename=${file}[out0+subcc]`, '-map', '0:1', '-f', 'webvtt', '-'])
  assert.match(String(own.stdout), /HELLO FROM CEA-608/)
  assert.match(String(own.stdout), /Second line\./)

  const hls = join(dir, 'hls')
  await mkdir(hls, { recursive: true })
  await execa('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', file, '-filter_complex', '[0:v]split=1[s];[s]scale=320:180[v]', '-map', '[v]', '-map', '0:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-force_key_frames', 'expr:gte(t,n_forced*1)', '-sc_threshold', '0', '-c:a', 'aac',
    '-output_ts_offset', '60000', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_segment_type', 'mpegts', '-hls_segment_filename', join(hls, '%d.ts'), join(hls, 'index.m3u8')])
  const playlist = await readFile(join(hls, 'index.m3u8'), 'utf8')
  const durations = [...playlist.matchAll(/#EXTINF:([\d.]+),\n(\d+)\.ts/g)].map(m => ({ duration: Number(m[1]), index: Number(m[2]) }))
  assert.ok(durations.length >= 6, playlist)
  const segments = await Promise.all(durations.map(async d => ({ ...d, bytes: new Uint8Array(await readFile(join(hls, `${d.index}.ts`))) })))
  assert.ok(segments.some(s => captionPairs(s.bytes).length > 0), 'libx264 wrote the captions into the re-encoded video (a53cc)')

  const written: FinishedSegment[] = []
  const track = new CaptionTrack({ captions: parseCaptionLanguage('en:English'), dataDir: dir, clock: false, enqueue: segment => written.push(segment), log: () => {} })
  await mkdir(track.dir, { recursive: true })
  const base = 1_765_000_000_000
  let pdt = base
  // A typed line waiting for a later segment does not hold back the input's captions queued after it.
  track.add('Typed for later', base + 60_000)
  const started = performance.now()
  for (const s of segments) {
    await track.follow({ rendition: '360p', seq: s.index, cid: 'x', size: s.bytes.length, duration: s.duration, pdt, finishedAt: pdt, publishedAt: pdt, slate: false, discontinuity: s.index === 0, end: false }, s.bytes)
    pdt += s.duration * 1000
  }
  const perSegmentMs = (performance.now() - started) / segments.length
  console.log(`CEA-608 extraction and WebVTT writing: ${perSegmentMs.toFixed(1)} ms per 1 s segment (${Math.round(segments.reduce((n, s) => n + s.bytes.length, 0) / segments.length / 1024)} KiB)`)

  // The cues, on program time (X-TIMESTAMP-MAP: LOCAL is the segment's start), contiguous ones joined.
  const spans: Array<{ text: string, from: number, to: number }> = []
  for (const segment of written) {
    const vtt = await readFile(segment.file, 'utf8')
    const local = seconds(/LOCAL:([\d:.]+)/.exec(vtt)![1]!)
    for (const m of vtt.matchAll(/\n([\d:.]+) --> ([\d:.]+)\n([^\n]+)\n/g)) {
      const from = (segment.pdt! - base) / 1000 + seconds(m[1]!) - local
      const to = (segment.pdt! - base) / 1000 + seconds(m[2]!) - local
      const last = spans.at(-1)
      if (last !== undefined && last.text === m[3] && Math.abs(last.to - from) < 0.002) last.to = to
      else spans.push({ text: m[3]!, from, to })
    }
  }
  assert.deepEqual(spans.map(s => s.text), captions.map(c => escapeCueText(c.text)), JSON.stringify(spans))
  assert.equal(spans[2]!.text, '&lt;b&gt;bold&lt;/b&gt; &amp; --&gt;')
  spans.forEach((s, i) => {
    assert.ok(Math.abs(s.from - captions[i]!.from) <= 0.05 && Math.abs(s.to - captions[i]!.to) <= 0.05, `"${s.text}" shown ${s.from.toFixed(3)}-${s.to.toFixed(3)} s, sent for ${captions[i]!.from}-${captions[i]!.to} s`)
  })
  assert.equal(track.fromInput >= captions.length, true)

  // Damaged or cut segment bytes (the input is not trusted to be well formed): read without a throw.
  const sample = segments[2]!.bytes
  for (let i = 0; i < 50; i++) {
    const damaged = new Uint8Array(sample)
    for (let k = 0; k < 100; k++) damaged[(k * 7919 + i * 104_729) % damaged.length] = (k * 31 + i) & 0xff
    captionPairs(damaged.subarray(0, Math.floor(damaged.length * i / 50)))
  }
})

/** `hh:mm:ss.ttt` in seconds. */
function seconds (time: string): number {
  const [h, m, s] = time.split(':').map(Number)
  return h! * 3600 + m! * 60 + s!
}
