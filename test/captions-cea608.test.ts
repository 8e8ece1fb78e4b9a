/**
 * CEA-608 captions of the input on real processes: an origin fed a file whose H.264 carries A/53
 * captions (`@hivecast/devnet/cea608-fixture`: pop-on captions with known text, looped by the origin)
 * with `--captions en:English` -> a relay -> Chromium on the site's watch page and stock ffmpeg. The
 * origin reads the captions from its reference rendition's segments (libx264 wrote them back there)
 * into the subtitle rendition: the relay's WebVTT segments carry the text, a viewer with CC on sees
 * it, and ffmpeg reads it from the pinned recording (ffmpeg 5.1 reads HLS subtitles only from a
 * playlist that ends).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import { eventually } from '@hivecast/devnet'
import { waitForCueShown } from '@hivecast/devnet/caption-viewer'
import { writeCea608Fixture } from '@hivecast/devnet/cea608-fixture'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import { openWatchPage } from './src/watch-page.ts'

const run = promisify(execFile)
const FIRST = 'HELLO FROM CEA-608'
const SECOND = 'Second caption, pop-on.'
const dir = await mkdtemp(join(tmpdir(), 'hivecast-cea608-input-'))
after(async () => { await rm(dir, { recursive: true, force: true }) })
const input = join(dir, 'captioned.ts')
await writeCea608Fixture({ file: input, seconds: 8, captions: [{ text: FIRST, from: 1.2, to: 3.8 }, { text: SECOND, from: 5, to: 7.6 }] })

const devnet = await devnetForTest('captions-cea608', { relays: 1, renditions: '360p', captions: 'en:English', originInput: `file:${input}`, archive: true, recordingInterval: 6, site: true })
const relay = devnet.relays[0]!
const hls = `${relay.url}/hls/${devnet.room}`
const browser = await launchChromium()
after(async () => { await browser.close() })

test('the relay\'s WebVTT segments carry the input\'s captions', async () => {
  const texts = await eventually('both captions in the subtitle segments', async () => {
    const playlist = await (await fetch(`${hls}/subtitles-en.m3u8`)).text()
    const uris = playlist.split('\n').filter(l => l.startsWith('/ipfs/'))
    const bodies = await Promise.all(uris.map(async uri => await (await fetch(`${relay.url}${uri}`)).text()))
    const all = bodies.join('\n')
    return all.includes(`\n${FIRST}\n`) && all.includes(`\n${SECOND}\n`) ? bodies : undefined
  }, 60_000)
  assert.ok(texts.every(t => t.startsWith('WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:')), 'every segment is mapped to the video clock')
  const status = await (await fetch(`${devnet.origin.url}/status`)).json() as { captions: { fromInput: number } }
  assert.ok(status.captions.fromInput >= 2, JSON.stringify(status.captions))
})

test('a Chromium viewer with CC on shows the input\'s captions', async () => {
  const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room)
  await viewer.page.evaluate(() => { localStorage.setItem('hivecast:captions', 'on') })
  await viewer.page.reload()
  const shown = await waitForCueShown(viewer.page, FIRST, 60_000)
  assert.equal(shown.mode, 'showing')
  await viewer.page.screenshot({ path: `${RESULTS_DIR}captions-cea608.png` })
  await waitForCueShown(viewer.page, SECOND, 20_000)
  assert.equal((await viewer.stats()).segmentsRejected, 0)
  assert.deepEqual(viewer.problems, [])
  await viewer.page.close()
})

test('ffmpeg reads the input\'s captions from the relay\'s pinned recording', async () => {
  interface Listed { envelope: { payload: string }, archive: string }
  const recording = await eventually('a pinned recording of 10 s', async () => {
    const res = await fetch(`${relay.url}/rooms/${devnet.room}/recordings.json`)
    if (!res.ok) return undefined
    const { recordings } = await res.json() as { recordings: Listed[] }
    return recordings.filter(r => r.archive === 'pinned').map(r => JSON.parse(r.envelope.payload) as { cid: string, duration: number }).find(r => r.duration >= 10)
  }, 60_000)
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-strict', 'experimental', '-i', `${relay.url}/hls/recordings/${recording.cid}/subtitles-en.m3u8`, '-map', '0:s', '-f', 'webvtt', '-'], { timeout: 40_000, maxBuffer: 16 * 1024 * 1024 })
  assert.ok(stdout.includes(FIRST) && stdout.includes(SECOND), stdout)
})
