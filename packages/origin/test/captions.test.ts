/**
 * The subtitle rendition's parts, with a real ffmpeg segment: the first PTS read from MPEG-TS bytes
 * (what `X-TIMESTAMP-MAP` ties cues to), the WebVTT segment written for each reference segment (the
 * clock's cues, typed captions in the segment they start in, late ones moved to the next), and the
 * checks a typed caption passes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { CaptionTrack, captionText, clockText, parseCaptionLanguage, vttTime } from '../src/caption-track.ts'
import { firstPts } from '../src/mpegts-timestamps.ts'
import type { FinishedSegment } from '../src/playlist-watcher.ts'
import type { EnqueueFlags, PublishedSegment } from '../src/segment-publisher.ts'

const dir = await mkdtemp(join(tmpdir(), 'hivecast-captions-'))
test.after(async () => { await rm(dir, { recursive: true, force: true }) })

/** One second of H.264/AAC in MPEG-TS, shifted like the origin's runs shift theirs. */
async function tsSegment (offsetSeconds: number): Promise<{ bytes: Uint8Array, pts: number }> {
  const file = join(dir, `segment-${offsetSeconds}.ts`)
  await execa('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10', '-f', 'lavfi', '-i', 'sine',
    '-t', '1', '-c:v', 'libx264', '-c:a', 'aac', '-output_ts_offset', String(offsetSeconds), '-f', 'mpegts', file])
  const probed = await execa('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts', '-read_intervals', '%+#1', '-of', 'csv=p=0', file])
  return { bytes: new Uint8Array(await readFile(file)), pts: Number(/\d+/.exec(String(probed.stdout))?.[0]) }
}

test('the first PTS of an ffmpeg segment is the one ffprobe reads, past 2^32 too', async () => {
  for (const offset of [0, 60_000]) {
    const { bytes, pts } = await tsSegment(offset)
    assert.ok(Number.isSafeInteger(pts) && pts > offset * 90_000)
    assert.equal(firstPts(bytes), pts)
  }
  assert.equal(firstPts(new Uint8Array(188)), undefined, 'no sync byte: no timestamp')
})

test('each reference segment gets a WebVTT segment: the clock a cue a second, typed captions where they start, late ones in the next', async () => {
  const { bytes, pts } = await tsSegment(60_000)
  const enqueued: Array<{ segment: FinishedSegment, flags: EnqueueFlags }> = []
  const track = new CaptionTrack({ captions: parseCaptionLanguage('en:English'), dataDir: dir, clock: true, enqueue: (segment, flags) => enqueued.push({ segment, flags }), log: () => {} })
  await mkdir(track.dir, { recursive: true })
  assert.equal(track.rendition, 'subtitles-en')
  assert.deepEqual(track.info.subtitles, { language: 'en', name: 'English' })
  const pdt = 1_765_000_000_400
  const reference = (seq: number, at: number): PublishedSegment => ({ rendition: '720p', seq, cid: 'x', size: bytes.length, duration: 1, pdt: at, finishedAt: at + 1000, publishedAt: at + 1100, slate: false, discontinuity: seq === 7, end: false })

  const typed = track.add(captionText('Hello <world> & all') as string, pdt + 250)
  await track.follow(reference(7, pdt), bytes)
  const first = await readFile(enqueued[0]!.segment.file, 'utf8')
  const base = Math.round(pts / 90)
  assert.equal(first.split('\n').slice(0, 2).join('\n'), `WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:${base * 90},LOCAL:${vttTime(base)}`)
  // The whole second inside [pdt, pdt + 1 s) is 600 ms in; the typed caption 250 ms in.
  assert.match(first, new RegExp(`clock-${pdt + 600}\\n${vttTime(base + 600)} --> ${vttTime(base + 1600)}\\n${clockText(pdt + 600)}\\n`))
  assert.match(first, new RegExp(`${typed.id}\\n${vttTime(base + 250)} --> ${vttTime(base + 3250)}\\nHello &lt;world&gt; &amp; all\\n`))
  assert.deepEqual(enqueued[0]!.segment, { rendition: 'subtitles-en', file: join(track.dir, '7.vtt'), index: 7, duration: 1, pdt, finishedAt: enqueued[0]!.segment.finishedAt, last: false })
  assert.deepEqual(enqueued[0]!.flags, { discontinuity: true, end: false, slate: false, seq: 7 })

  // Typed for a moment whose segment went out already: it starts with the next one.
  const late = track.add('Late line', pdt + 500)
  assert.equal(late.start, pdt + 1000)
  await track.follow(reference(8, pdt + 1000), bytes)
  const second = await readFile(enqueued[1]!.segment.file, 'utf8')
  assert.match(second, new RegExp(`${late.id}\\n${vttTime(base)} --> ${vttTime(base + 3000)}\\nLate line\\n`))
  assert.doesNotMatch(second, /Hello/, 'a cue is in the segment it starts in only')
  assert.equal(track.typed, 2)
})

test('a typed caption is checked: not empty, at most 3 lines and 200 characters, markup escaped', () => {
  assert.equal(captionText('  two\n\n lines  '), 'two\nlines')
  assert.equal(captionText('a --> b'), 'a --&gt; b')
  assert.deepEqual(captionText(' \n '), { error: 'the caption is empty: send { "text": "what was said" }' })
  assert.match((captionText('x'.repeat(201)) as { error: string }).error, /at most 200/)
  assert.match((captionText('a\nb\nc\nd') as { error: string }).error, /on 4 lines: at most 200 on 3/)
  assert.throws(() => parseCaptionLanguage('English'), /not <language>:<name>/)
  assert.throws(() => parseCaptionLanguage('english:English'), /not a language tag/)
})
