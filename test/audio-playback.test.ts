/**
 * Interpretation and audio only in Chromium: the watch page of a room whose origin carries a second
 * audio language (another tone) and the audio-only variant. Choosing the language switches hls.js's
 * audio track while the video keeps playing, from verified segments of the interpretation; the choice
 * survives a reload (localStorage); "Audio only" plays the AAC rendition with no picture and shows the
 * room's thumbnail.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { eventually } from '@hivecast/devnet'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'

interface Stats { state: string, rendition: string | null, audioTrack: string | null, segmentsRejected: number }

const devnet = await devnetForTest('audio-playback', { relays: 1, renditions: '360p,audio', audioTracks: ['de:Deutsch (interpretation):1'], site: true })
const browser = await launchChromium()
after(async () => { await browser.close() })

test('switching to the interpretation keeps playing; audio only plays without a picture and shows the thumbnail', async () => {
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', err => { problems.push(err.message) })
  /** Segment URLs the page fetched from the relay, by the CID in them. */
  const fetched: string[] = []
  page.on('request', request => { if (request.url().includes('/ipfs/')) fetched.push(request.url()) })
  await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)

  const stats = async (): Promise<Stats> => await page.evaluate(() => (window as unknown as { hivecastPlayer: { stats(): Stats } }).hivecastPlayer.stats())
  const currentTime = async (): Promise<number> => await page.evaluate(() => document.querySelector('video')!.currentTime)
  const advances = async (what: string): Promise<void> => {
    const from = await eventually(`${what}: playback`, async () => await currentTime() > 0.5 ? await currentTime() : undefined, 40_000)
    await new Promise(resolve => setTimeout(resolve, 5_000))
    const to = await currentTime()
    assert.ok(to - from >= 3.5, `${what}: currentTime advanced by ${(to - from).toFixed(2)} s in 5 s`)
  }
  await advances('the program')
  const menu = page.getByLabel('Language')
  await eventually('the language menu', async () => await menu.count() > 0 ? true : undefined, 20_000)
  assert.deepEqual(await menu.locator('option').allTextContents(), ['Original', 'Deutsch (interpretation)'])
  assert.equal((await stats()).audioTrack, 'Original', 'the program\'s sound is the default')

  // The interpretation: the same video, the other track, without a reload.
  const before = await currentTime()
  const audioDe = await (await fetch(`${devnet.relays[0]!.url}/hls/${devnet.room}/audio-de.m3u8`)).text()
  const deCids = new Set(audioDe.split('\n').filter(l => l.startsWith('/ipfs/')).map(l => l.slice(6).split('?')[0]!))
  fetched.length = 0
  await menu.selectOption('de')
  await eventually('the German track to be active', async () => (await stats()).audioTrack === 'Deutsch (interpretation)' ? true : undefined, 15_000)
  await new Promise(resolve => setTimeout(resolve, 5_000))
  assert.ok(await currentTime() - before >= 4, `playing on after the switch: ${(await currentTime() - before).toFixed(2)} s`)
  await eventually('segments of the German rendition fetched', async () => {
    const now = await (await fetch(`${devnet.relays[0]!.url}/hls/${devnet.room}/audio-de.m3u8`)).text()
    for (const l of now.split('\n')) if (l.startsWith('/ipfs/')) deCids.add(l.slice(6).split('?')[0]!)
    return fetched.some(url => deCids.has(new URL(url).pathname.slice(6))) ? true : undefined
  }, 10_000)
  assert.equal(await page.evaluate(() => localStorage.getItem('hivecast:audio')), JSON.stringify({ language: 'de', audioOnly: false }))

  // Audio only: the AAC rendition of the chosen language, no picture, the room's thumbnail instead.
  await page.getByRole('button', { name: 'Audio only' }).click()
  await eventually('the audio-only variant', async () => (await stats()).rendition === 'audio-de' ? true : undefined, 20_000)
  await advances('audio only')
  assert.equal(await page.evaluate(() => document.querySelector('video')!.videoWidth), 0, 'no picture is decoded')
  assert.equal(await page.getByRole('button', { name: 'Audio only' }).getAttribute('aria-pressed'), 'true')
  const thumbnail = page.locator('img.hc-thumbnail')
  await eventually('the room thumbnail', async () => await thumbnail.evaluate(img => (img as HTMLImageElement).naturalWidth).catch(() => 0) > 0 ? true : undefined, 20_000)
  await page.screenshot({ path: `${RESULTS_DIR}audio-only.png` })

  // The choice is kept: a reload starts in German, audio only.
  await page.reload()
  await eventually('audio only after a reload', async () => (await stats()).rendition === 'audio-de' ? true : undefined, 40_000)
  assert.equal((await stats()).segmentsRejected, 0)
  assert.deepEqual(problems, [], 'no page errors')
})
