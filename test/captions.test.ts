/**
 * Captions on real processes: an origin whose test pattern carries the clock as captions (a subtitle
 * rendition, `--captions en:English`) and a live captioner (`--caption-token-file`) -> a relay -> stock
 * ffmpeg/ffprobe and Chromium on the site's watch page. The relay's master lists the subtitle
 * rendition, whose WebVTT segments share the video's sequence numbers, durations and clock
 * (`X-TIMESTAMP-MAP` = the video segment's first PTS). A caption POSTed with the token (and none with
 * a wrong one) reaches the viewer under the picture it was typed at, and ffprobe and ffmpeg read it
 * from the pinned recording (ffmpeg 5.1 reads HLS subtitles only from a playlist that ends). The viewer shows the clock's cues and hides them
 * with the CC button, and rejects a subtitle segment whose bytes a relay changed.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import { eventually, startRelayProxy } from '@hivecast/devnet'
import { postCaption, waitForCueShown } from '@hivecast/devnet/caption-viewer'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import { openWatchPage } from './src/watch-page.ts'

const run = promisify(execFile)
const token = randomBytes(16).toString('hex')
const devnet = await devnetForTest('captions', { relays: 1, renditions: '360p', captions: 'en:English', captionToken: token, archive: true, recordingInterval: 6, site: true })
const relay = devnet.relays[0]!
const hls = `${relay.url}/hls/${devnet.room}`
const browser = await launchChromium()
after(async () => { await browser.close() })

const masterText = await eventually('a master playlist listing the subtitle rendition', async () => {
  const res = await fetch(`${hls}/master.m3u8`, { signal: AbortSignal.timeout(5000) })
  const text = res.ok ? await res.text() : ''
  // The subtitle rendition can be listed before the video's variant: wait for both (a run read a master
  // with the subtitles alone).
  return text.includes('URI="subtitles-en.m3u8"') && text.includes('#EXT-X-STREAM-INF:') ? text : undefined
}, 45_000)

/** `/ipfs/<cid>?filename=<seq>.<ext>` lines of a relay playlist with the PDT and duration before each. */
function listed (playlist: string): Array<{ uri: string, seq: number, pdt: string, duration: string }> {
  const lines = playlist.split('\n')
  return lines.flatMap((line, i) => line.startsWith('/ipfs/')
    ? [{ uri: line, seq: Number(/filename=(\d+)\./.exec(line)?.[1]), pdt: lines[i - 2]!, duration: lines[i - 1]! }]
    : [])
}

/** Local time of day, as the test pattern's picture and the origin's clock cues show it. */
const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8)

test('the relay lists WebVTT segments cut with the video (same numbers, durations, clock) carrying the clock; ffprobe reads the stream', async () => {
  const lines = masterText.split('\n')
  assert.deepEqual(lines.filter(l => l.startsWith('#EXT-X-MEDIA:')), [
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subtitles-en.m3u8"'
  ])
  assert.match(lines.find(l => l.startsWith('#EXT-X-STREAM-INF:'))!, /SUBTITLES="subs"/)

  const [video, subtitles] = await eventually('5 segments of both', async () => {
    const both = await Promise.all(['360p', 'subtitles-en'].map(async r => listed(await (await fetch(`${hls}/${r}.m3u8`)).text())))
    return both.every(l => l.length >= 5) ? both : undefined
  }, 20_000)
  assert.ok(subtitles!.every(s => s.uri.endsWith('.vtt')))
  const bySeq = new Map(video!.map(v => [v.seq, v]))
  const common = subtitles!.filter(s => bySeq.has(s.seq))
  assert.ok(common.length >= 3, `${common.length} sequence numbers in both playlists`)
  for (const s of common) {
    assert.equal(s.pdt, bySeq.get(s.seq)!.pdt, `segment ${s.seq}: the same program date time`)
    assert.equal(s.duration, bySeq.get(s.seq)!.duration, `segment ${s.seq}: the same duration`)
  }
  const newest = common.at(-1)!
  const res = await fetch(`${relay.url}${newest.uri}`)
  assert.match(res.headers.get('content-type') ?? '', /^text\/vtt/)
  const vtt = await res.text()
  const map = /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:(\d+):(\d\d):(\d\d)\.(\d{3})\n/.exec(vtt)
  assert.ok(map !== null, vtt)
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts', '-read_intervals', '%+#1', '-of', 'csv=p=0', `${relay.url}${bySeq.get(newest.seq)!.uri}`])
  const videoPts = Number(/\d+/.exec(stdout)?.[0])
  assert.ok(Math.abs(Number(map[1]) - videoPts) <= 90, `MPEGTS ${map[1]} is the video segment's first PTS ${videoPts}`)
  const local = ((Number(map[2]) * 60 + Number(map[3])) * 60 + Number(map[4])) * 1000 + Number(map[5])
  assert.equal(local * 90, Number(map[1]), 'cue times are the MPEG-TS clock in seconds')
  // One clock cue a second, saying the time of day of the second it starts at.
  const pdt = Date.parse(newest.pdt.slice('#EXT-X-PROGRAM-DATE-TIME:'.length))
  const second = Math.ceil(pdt / 1000) * 1000
  assert.ok(vtt.includes(`clock-${second}\n`) && vtt.includes(`\n${clock(second)}\n`), vtt)

  // ffmpeg 5.1 reads HLS subtitles only with -strict experimental, and then (its WebVTT reader waits
  // for the end of the input) only from a playlist that ends, a recording (next test); a live master
  // with a subtitle group still plays in it as before.
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name', '-of', 'json', `${hls}/master.m3u8`], { timeout: 30_000 })
  const streams = (JSON.parse(probe.stdout) as { streams: Array<{ codec_type: string, codec_name: string }> }).streams
  assert.ok(streams.some(s => s.codec_type === 'video') && streams.some(s => s.codec_type === 'audio'), JSON.stringify(streams))
})

test('the viewer shows the clock\'s captions with CC, hides them again, and keeps the choice', async () => {
  const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room)
  const { page } = viewer
  await eventually('playback', async () => await viewer.currentTime() > 1 ? true : undefined, 40_000)
  const show = page.getByRole('button', { name: 'Show captions' })
  await eventually('the CC button', async () => await show.count() > 0 ? true : undefined, 15_000)
  await show.click()
  const active = async (): Promise<{ mode: string, text: string[] }> => await page.evaluate(() => {
    const track = document.querySelector('video')!.textTracks[0]
    return { mode: track?.mode ?? 'none', text: Array.from(track?.activeCues ?? []).map(c => (c as VTTCue).text) }
  })
  const shown = await eventually('a clock cue on screen', async () => {
    const now = await active()
    return now.mode === 'showing' && now.text.some(t => /^\d\d:\d\d:\d\d$/.test(t)) ? now : undefined
  }, 20_000)
  // The cue says the time of day of the picture under it: the wall clock minus the player's latency.
  const { latencyMs } = await viewer.stats() as unknown as { latencyMs: number }
  const onScreen = Date.now() - latencyMs
  const cueTime = shown.text.find(t => /^\d\d:\d\d:\d\d$/.test(t))!
  assert.ok([-2000, -1000, 0, 1000].some(d => clock(onScreen + d) === cueTime), `cue "${cueTime}" under the picture of ${clock(onScreen)}`)
  await page.screenshot({ path: `${RESULTS_DIR}captions-clock.png` })
  assert.equal(await page.evaluate(() => localStorage.getItem('hivecast:captions')), 'on')

  await page.getByRole('button', { name: 'Hide captions' }).click()
  assert.equal((await active()).mode, 'hidden')
  assert.equal(await page.getByRole('button', { name: 'Show captions' }).getAttribute('aria-pressed'), 'false')
  await page.reload()
  await eventually('the CC button after a reload', async () => await page.getByRole('button', { name: 'Show captions' }).count() > 0 ? true : undefined, 40_000)
  await new Promise(resolve => setTimeout(resolve, 3000))
  assert.notEqual((await active()).mode, 'showing', 'captions stay off after a reload')
  assert.equal((await viewer.stats()).segmentsRejected, 0)
  assert.deepEqual(viewer.problems, [])
  await page.close()
})

test('a typed caption reaches the viewer under the picture it was typed at, and ffmpeg in the recording; a wrong token is refused', async () => {
  assert.equal((await postCaption(devnet.origin.url, 'not-the-token-at-all', 'Forged line')).status, 401)
  const noToken = await fetch(`${devnet.origin.url}/captions`, { method: 'POST', body: JSON.stringify({ text: 'Forged line' }) })
  assert.equal(noToken.status, 401)
  assert.equal((await postCaption(devnet.origin.url, token, ' \n ')).status, 400)
  const { page } = await openWatchPage(browser, devnet.site!.url, devnet.room)
  await page.evaluate(() => { localStorage.setItem('hivecast:captions', 'on') })
  await page.reload()
  await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, undefined, { timeout: 40_000 })

  const text = `Welcome to the talk ${randomBytes(3).toString('hex')}`
  const postedAt = Date.now()
  const posted = await postCaption(devnet.origin.url, token, text)
  assert.equal(posted.status, 200, JSON.stringify(posted.body))
  const shown = await waitForCueShown(page, text, 20_000)
  assert.equal(shown.mode, 'showing')
  const pictureAt = shown.shownAt - shown.latencyMs!
  console.log(`caption typed -> shown ${shown.shownAt - postedAt} ms; the picture under it is ${pictureAt - postedAt} ms from when it was typed`)
  assert.ok(Math.abs(pictureAt - postedAt) <= 2000, `shown under the picture of ${pictureAt - postedAt} ms after it was typed`)
  await page.close()

  const status = await (await fetch(`${devnet.origin.url}/status`)).json() as { captions: { typed: number, refused: number } }
  assert.ok(status.captions.typed >= 1 && status.captions.refused >= 1, JSON.stringify(status.captions))
  // The recording keeps it: ffmpeg reads the subtitle stream of a pinned recording made after the line.
  interface Listed { envelope: { payload: string }, archive: string }
  const recording = await eventually('a pinned recording past the caption', async () => {
    const res = await fetch(`${relay.url}/rooms/${devnet.room}/recordings.json`)
    if (!res.ok) return undefined
    const { recordings } = await res.json() as { recordings: Listed[] }
    return recordings.filter(r => r.archive === 'pinned').map(r => JSON.parse(r.envelope.payload) as { cid: string, ended: number }).find(r => r.ended > posted.body.cue!.end)
  }, 40_000)
  const recorded = `${relay.url}/hls/recordings/${recording.cid}/master.m3u8`
  const probe = await run('ffprobe', ['-v', 'error', '-strict', 'experimental', '-show_entries', 'stream=codec_type,codec_name:stream_tags=language', '-of', 'json', recorded], { timeout: 30_000 })
  const streams = (JSON.parse(probe.stdout) as { streams: Array<{ codec_type: string, codec_name: string, tags?: { language?: string } }> }).streams
  assert.ok(streams.some(s => s.codec_type === 'subtitle' && s.codec_name === 'webvtt' && s.tags?.language === 'en'), `a WebVTT subtitle stream in English: ${JSON.stringify(streams)}`)
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-strict', 'experimental', '-i', recorded, '-map', '0:s', '-f', 'webvtt', '-'], { timeout: 40_000, maxBuffer: 16 * 1024 * 1024 })
  assert.ok(stdout.includes(text), 'ffmpeg reads the typed caption from the recording')
  assert.ok(!stdout.includes('Forged line'))
})

test('a subtitle segment whose bytes a relay changed is rejected, never shown', async () => {
  let tampered = 0
  const tamperedCids = new Set<string>()
  const proxy = await startRelayProxy(relay.url, {
    alter: answer => {
      const body = new TextDecoder().decode(answer.body)
      if (!answer.path.startsWith('/ipfs/') || !body.startsWith('WEBVTT')) return answer
      tampered++
      tamperedCids.add(answer.path.slice('/ipfs/'.length))
      return { ...answer, body: new TextEncoder().encode(body.replace(/^(\d\d:\d\d:\d\d)$/gm, 'TAMPERED')) }
    }
  })
  try {
    // The changing relay is the only one: every subtitle segment the player gets is a changed one.
    const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room, { relays: [proxy.url], key: devnet.origin.key })
    await viewer.page.evaluate(() => { localStorage.setItem('hivecast:captions', 'on') })
    await viewer.page.reload()
    const cues = async (): Promise<string[]> => await viewer.page.evaluate(() => Array.from(document.querySelector('video')?.textTracks[0]?.cues ?? []).map(c => (c as VTTCue).text))
    // currentTime is program time (timestamps follow the wall clock), so playing is judged by its advance.
    const start = await eventually('playback to start', async () => { const t = await viewer.currentTime(); return t > 0 ? t : undefined }, 40_000)
    await eventually('3 changed subtitle segments served while 4 media segments were verified', async () =>
      tampered >= 3 && (await viewer.stats()).segmentsVerified >= 4 ? true : undefined, 40_000)
    const stats = await viewer.stats()
    assert.ok(stats.segmentsRejected >= 1, `${stats.segmentsRejected} segments rejected`)
    const rejected = stats.segments.filter(s => !s.verified)
    assert.ok(rejected.every(s => tamperedCids.has(s.cid)), 'only the changed subtitle segments were rejected')
    await eventually('the video to play on for 3 s', async () => await viewer.currentTime() - start > 3 ? true : undefined, 20_000)
    assert.ok((await viewer.stats()).segmentsVerified >= 5, 'the video plays on from verified segments')
    assert.deepEqual(await cues(), [], 'no cue of a changed segment reached the video')
    await viewer.page.close()
  } finally {
    await proxy.close()
  }
})
