/**
 * Chromium loads every page of the site against a real devnet: the rooms list shows the live room with its
 * current talk from the sample schedule and the room's thumbnail, the watch page shows that talk too, the
 * recordings page lists the room's recording (signed by its key) cut into talks and plays one by CID, the
 * status page lists the demo's relays and marks one down after it is killed, and the relay page gives the
 * command. Each page is screenshotted at desktop and phone widths into test-results/, and no page logs a
 * console error.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, test } from 'node:test'
import { eventually } from '@hivecast/devnet'
import type { Page } from 'playwright-core'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import type { ViewerStats } from './src/watch-page.ts'
import { mergeSessions, talksInSession } from '../site/src/recordings.ts'
import type { RecordingAnnouncement } from '@hivecast/shared'

// Relays archive recordings, and the origin re-records the live session every 5 s, so the recordings
// page has something to list and play within the test's time.
const devnet = await devnetForTest('site-pages', { relays: 2, renditions: '240p', site: true, archive: true, recordingInterval: 5 })
const browser = await launchChromium()
after(async () => { await browser.close() })
const site = devnet.site!.url

/**
 * The demo talk on now, read from the sample schedule the same way the site server dates it (today,
 * UTC), as a pattern that also takes the talk on a minute later: a test may straddle a talk's start.
 */
function currentSampleTalk (): RegExp {
  const xml = readFileSync(new URL('../site/public/sample-schedule.xml', import.meta.url), 'utf8')
  const from = xml.indexOf(`<room name="${devnet.room}">`)
  const room = xml.slice(from, xml.indexOf('<room name=', from + 1))
  const events = [...room.matchAll(/<start>(\d\d):(\d\d)<\/start>[\s\S]*?<title>([^<]+)<\/title>/g)]
  const onAt = (ms: number): string | undefined => {
    const minutes = new Date(ms).getUTCHours() * 60 + new Date(ms).getUTCMinutes()
    return events.filter(e => Number(e[1]) * 60 + Number(e[2]) <= minutes).at(-1)?.[3]
  }
  const titles = [...new Set([onAt(Date.now()), onAt(Date.now() + 60_000)])].filter(t => t !== undefined)
  assert.ok(titles.length > 0, 'the sample schedule has a talk on now')
  return new RegExp(titles.map(t => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'))
}

/** A raw block as the player asks a relay for it. */
const BLOCK_URL = /\/ipfs\/[a-z0-9]+\?format=raw$/

async function openPage (path: string, problems: string[], prepare?: (page: Page) => Promise<unknown>): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  // Also printed as they happen: when a wait times out, the output still says what the page logged.
  const note = (problem: string): void => { problems.push(problem); process.stderr.write(`page logged: ${problem}\n`) }
  page.on('console', msg => {
    // Chromium logs every non-2xx fetch. A relay asked for a segment it does not hold yet answers
    // 404 and the player takes it from the next relay (the first fetch from each relay measures it,
    // whatever segment is next): failover by design, counted in the player's stats, not a page error.
    if (msg.type() === 'error' && !(/status of 404/.test(msg.text()) && BLOCK_URL.test(msg.location().url))) note(`${path}: ${msg.text()} (${msg.location().url})`)
  })
  page.on('pageerror', err => { note(`${path}: ${err.message}`) })
  await prepare?.(page)
  await page.goto(`${site}${path}`)
  return page
}

async function screenshots (page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${RESULTS_DIR}site-${name}.png`, fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: `${RESULTS_DIR}site-${name}-phone.png`, fullPage: true })
  // Nothing may stick out sideways on a phone (tables scroll inside their own box).
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  assert.ok(overflow <= 0, `${name} is ${overflow} px wider than a 390 px phone screen`)
}

test('the rooms list shows the demo room live, with its current talk from the sample schedule', async () => {
  const problems: string[] = []
  const page = await openPage('index.html', problems)
  const card = page.locator(`[data-room="${devnet.room}"]`)
  // The first status round waits for every relay and the origin; a loaded CI machine was seen to take
  // over 40 s. On a timeout, say what the page showed and what the relays said, so a red run reads alone.
  await card.locator('.live-badge[data-state="live"]').waitFor({ timeout: 60_000 }).catch(async (err: Error) => {
    const shown = await card.locator('.live-badge').getAttribute('data-state').catch(() => 'no badge')
    const relays = await Promise.all(devnet.relays.map(async relay => {
      const status = await fetch(`${relay.url}/status`, { signal: AbortSignal.timeout(5_000) }).then(async r => await r.text(), (e: Error) => e.message)
      return `${relay.url}: ${status.slice(0, 300)}`
    }))
    throw new Error(`${err.message}; the badge shows ${shown}; at ${Date.now()} the relays said ${relays.join(' | ')}`)
  })
  const talk = currentSampleTalk()
  await card.locator('.talk-now .talk-title', { hasText: talk }).waitFor({ timeout: 5_000 })
  // The sample schedule is one day: from 23:40 UTC its last talk is on and nothing is next.
  const minutes = new Date().getUTCHours() * 60 + new Date().getUTCMinutes()
  if (minutes < 23 * 60 + 39) assert.ok((await card.locator('.talk-next .talk-title').textContent() ?? '') !== '', 'a next talk is shown')
  await screenshots(page, 'rooms')
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')
})

test('a schedule in the JSON form is used, and a broken schedule file gets a clear message', async () => {
  // Stand-ins for what an organiser might publish, served in place of the sample (a fake by design:
  // the demo only serves the good sample).
  const problems: string[] = []
  const page = await browser.newPage()
  page.on('console', msg => { if (msg.type() === 'error') problems.push(msg.text()) })
  page.on('pageerror', err => { problems.push(err.message) })
  const start = new Date(Date.now() - 5 * 60_000).toISOString()
  await page.route('**/sample-schedule.xml', async route => {
    await route.fulfill({ contentType: 'application/json', body: JSON.stringify({ talks: [{ room: devnet.room, title: 'A talk from the JSON form', start, duration: 30, persons: ['Grace'], streaming: 'audio-only' }] }) })
  })
  await page.goto(`${site}index.html`)
  const card = page.locator(`[data-room="${devnet.room}"]`)
  await card.locator('.talk-now', { hasText: 'A talk from the JSON form' }).waitFor({ timeout: 10_000 })
  assert.match(await card.locator('.talk-now').textContent() ?? '', /Audio only/)

  await page.unroute('**/sample-schedule.xml')
  await page.route('**/sample-schedule.xml', async route => {
    await route.fulfill({ contentType: 'application/xml', body: '<schedule><day date="2026-02-01"><room name="demo"><event id="1"><title>unclosed' })
  })
  await page.reload()
  await page.locator('.config-note[role="alert"]', { hasText: 'not well-formed XML' }).waitFor({ timeout: 10_000 })
  await page.screenshot({ path: `${RESULTS_DIR}site-rooms-bad-schedule.png` })
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')
})

test('a talk whose speakers opted out (frab\'s <recording><optout>) is shown as not recorded', async () => {
  // frab's XML as it exports it: no <date>, the time on the day in the conference's zone.
  const problems: string[] = []
  const page = await browser.newPage()
  page.on('console', msg => { if (msg.type() === 'error') problems.push(msg.text()) })
  page.on('pageerror', err => { problems.push(err.message) })
  const start = new Date(Date.now() - 5 * 60_000).toISOString()
  await page.route('**/sample-schedule.xml', async route => {
    await route.fulfill({
      contentType: 'application/xml',
      body: `<?xml version="1.0" encoding="UTF-8"?><schedule><conference><acronym>t</acronym><time_zone_name>UTC</time_zone_name></conference>
<day index="1" date="${start.slice(0, 10)}"><room name="${devnet.room}"><event id="9" guid="g9"><start>${start.slice(11, 16)}</start><duration>00:30</duration>
<room>${devnet.room}</room><recording><license/><optout>true</optout></recording><title>A talk that must not be recorded</title>
<persons><person id="1">Ada</person></persons></event></room></day></schedule>`
    })
  })
  await page.goto(`${site}index.html`)
  const now = page.locator(`[data-room="${devnet.room}"] .talk-now`)
  await now.locator('.talk-title', { hasText: 'A talk that must not be recorded' }).waitFor({ timeout: 10_000 })
  assert.match(await now.textContent() ?? '', /not recorded/)
  assert.doesNotMatch(await now.textContent() ?? '', /Streamed · recorded/)
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')
})

test('the watch page shows the talk on now under the player', async () => {
  const problems: string[] = []
  const page = await openPage(`watch.html?room=${devnet.room}`, problems)
  await page.locator('.talk-now .talk-title', { hasText: currentSampleTalk() }).waitFor({ timeout: 10_000 })
  await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 0.5, undefined, { timeout: 40_000 })
  await screenshots(page, 'watch')
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')
})

test('the relay page gives the command with this conference\'s origin and rooms', async () => {
  const problems: string[] = []
  const page = await openPage('relay.html', problems)
  const command = page.locator('pre.command').first()
  // The placeholder address is replaced once the origin's /status answers.
  await page.locator('pre.command', { hasText: devnet.origin.key }).waitFor({ timeout: 10_000 })
  const text = await command.textContent() ?? ''
  assert.match(text, new RegExp(`--origin \\S*/p2p/${devnet.origin.key}`))
  assert.match(text, new RegExp(`--room ${devnet.room}\\b`))
  await screenshots(page, 'relay')
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')
})

/** The demo session's recording as the first relay lists it (payload of its signed envelope), once pinned there with at least `segments` segments. */
async function pinnedRecording (segments: number): Promise<{ session: string, cid: string, segments: number }> {
  return await eventually(`a pinned recording of ${segments}+ segments on ${devnet.relays[0]!.url}`, async () => {
    const listed = await (await fetch(`${devnet.relays[0]!.url}/rooms/${devnet.room}/recordings.json`, { signal: AbortSignal.timeout(10_000) })).json() as { recordings: Array<{ envelope: { payload: string }, archive: string }> }
    const entry = listed.recordings.at(-1)
    if (entry === undefined || entry.archive !== 'pinned') return undefined
    const recording = JSON.parse(entry.envelope.payload) as { session: string, cid: string, segments: number }
    return recording.segments >= segments ? recording : undefined
  }, 120_000, 1_000)
}

/**
 * Serves a JSON schedule in place of the sample for this page: the sample's flags vary by the hour (some
 * talks are not recorded), this one has a recorded talk around now, so the session always has a talk.
 */
async function recordedTalkNow (page: Page): Promise<string> {
  const title = 'A recorded talk for the test'
  const start = new Date(Date.now() - 10 * 60_000).toISOString()
  await page.route('**/sample-schedule.xml', async route => {
    await route.fulfill({ contentType: 'application/json', body: JSON.stringify({ talks: [{ room: devnet.room, title, start, duration: 40, persons: ['Ada'], streaming: 'recorded' }] }) })
  })
  return title
}

test('a session is cut into the kept talks of its time; the newest announcement of a session wins', () => {
  const at = (minute: number): number => Date.UTC(2026, 1, 1, 9, minute)
  const talk = (title: string, start: number, minutes: number, streaming: 'recorded' | 'streamed' | 'audio-only' | 'not-streamed' = 'recorded', optOut = false) =>
    ({ id: title, room: 'demo', title, start: at(start), end: at(start + minutes), persons: [], streaming, optOut })
  const announcement = (cid: string, segments: number, final: boolean): RecordingAnnouncement =>
    ({ kind: 'recording', room: 'demo', cid, session: 's1', started: at(10), ended: at(10) + segments * 1000, duration: segments, segments, final })
  const dirA = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
  const dirB = 'bafybeibml5uieyxa5tufngvcqhzrfa6l6l5wgvhhvjjamfvyecshnmjtvy'
  const sessions = mergeSessions([
    { relay: 'http://r1', announcement: announcement(dirA, 3000, false), pinned: true },
    { relay: 'http://r2', announcement: announcement(dirB, 2400, true), pinned: true },
    { relay: 'http://r1', announcement: announcement(dirB, 2400, true), pinned: false }
  ], ['http://r1', 'http://r2'])
  assert.equal(sessions.length, 1)
  const session = sessions[0]!
  assert.equal(session.cid, dirB, 'the final recording wins over a longer interim one')
  assert.deepEqual(session.pinnedOn, ['http://r2'], 'only relays that pinned that CID play it')
  assert.deepEqual(session.listedOn, ['http://r1', 'http://r2'])

  // The session runs 09:10 to 09:50.
  const cut = talksInSession(session, [
    talk('before', 0, 5), talk('straddles the start', 0, 20), talk('inside', 20, 10),
    talk('live only', 30, 10, 'streamed'), talk('opted out', 35, 5, 'recorded', true), talk('audio', 40, 20, 'audio-only'), talk('after', 55, 5)
  ])
  assert.deepEqual(cut.talks.map(t => [t.talk.title, t.from, t.to, t.partial]), [
    ['straddles the start', at(10), at(20), true],
    ['inside', at(20), at(30), false],
    ['audio', at(40), at(50), true]
  ])
  assert.equal(cut.skipped, 2, 'the talk flagged streamed and the one whose speakers opted out are counted, not listed')
})

test('the rooms list shows the room\'s thumbnail once the origin has published one', async () => {
  const problems: string[] = []
  const page = await openPage('index.html', problems)
  const card = page.locator(`[data-room="${devnet.room}"]`)
  // The origin takes a picture every 10 s; the page asks the relays every 5 s.
  await card.locator('.room-thumb[data-thumbnail="shown"] img').waitFor({ timeout: 90_000 })
  await page.waitForFunction(room => {
    const img = document.querySelector<HTMLImageElement>(`[data-room="${room}"] .room-thumb img`)
    return img !== null && img.complete && img.naturalWidth > 0
  }, devnet.room, { timeout: 30_000 })
  const src = await card.locator('.room-thumb img').getAttribute('src') ?? ''
  assert.ok(src.startsWith(`${devnet.relays[0]!.url}/rooms/${devnet.room}/thumbnail.jpg?at=`) || src.startsWith(`${devnet.relays[1]!.url}/rooms/${devnet.room}/thumbnail.jpg?at=`), `thumbnail from a relay: ${src}`)
  // A newer picture replaces it without a reload (one every 10 s).
  await page.waitForFunction(([room, first]) => {
    const img = document.querySelector<HTMLImageElement>(`[data-room="${room}"] .room-thumb img`)
    return img !== null && img.getAttribute('src') !== first && img.complete && img.naturalWidth > 0
  }, [devnet.room, src] as const, { timeout: 60_000 })
  await screenshots(page, 'rooms-thumbnail')
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')

  // Before the first picture (here: relays' /status answers with the thumbnails taken out, a fake by
  // design) the card shows a placeholder and asks for no image, so no 404 reaches the console.
  const early = await openPage('index.html', problems, async page => {
    await page.route(url => url.pathname === '/status' && devnet.relays.some(relay => url.href.startsWith(relay.url)), async route => {
      const response = await route.fetch()
      const status = await response.json() as { rooms: Record<string, { thumbnail?: unknown }> }
      for (const room of Object.values(status.rooms)) delete room.thumbnail
      await route.fulfill({ response, json: status })
    })
  })
  const placeholder = early.locator(`[data-room="${devnet.room}"] .room-thumb[data-thumbnail="none"]`)
  await placeholder.locator('.thumb-placeholder', { hasText: 'No picture yet' }).waitFor({ timeout: 30_000 })
  await early.locator(`[data-room="${devnet.room}"] .live-badge[data-state="live"]`).waitFor({ timeout: 60_000 })
  assert.equal(await early.locator('.room-thumb img').count(), 0, 'no image before the first thumbnail')
  await early.close()
  assert.deepEqual(problems, [], 'no console errors')
})

test('the recordings page lists the room\'s recording, signed by the room key, cut into talks, with the pin command', async () => {
  const recording = await pinnedRecording(3)
  const problems: string[] = []
  const page = await openPage('recordings.html', problems, recordedTalkNow)
  const session = page.locator(`[data-room="${devnet.room}"] .session[data-session="${recording.session}"]`)
  await session.waitFor({ timeout: 60_000 })
  // The talk on now (or the one the session started in) is listed with the session's CID as its own.
  const talk = session.locator('.rec-talk', { hasText: 'A recorded talk for the test' })
  await talk.waitFor({ timeout: 30_000 })
  const cid = await talk.getAttribute('data-cid') ?? ''
  assert.match(cid, /^bafy[a-z2-7]+$/, 'a talk carries the recording\'s directory CID')
  assert.equal(await talk.locator('code.cid').textContent(), cid)
  const from = Number(await talk.getAttribute('data-from'))
  const to = Number(await talk.getAttribute('data-to'))
  assert.ok(to > from, `the talk's cut ${from}..${to} is a time range`)
  await talk.locator('summary', { hasText: 'Pin this' }).click()
  assert.match(await talk.locator('.pin pre').first().textContent() ?? '', new RegExp(`^ipfs pin add ${cid}$`))
  assert.match(await talk.locator('.pin').textContent() ?? '', new RegExp(`/hls/recordings/${cid}/master\\.m3u8\\?from=${from}&to=${to}`))
  assert.ok((await talk.locator('.pin').textContent() ?? '').includes(`recording="${cid}" from="${from}" to="${to}"></hivecast-player>`), 'the embed snippet plays this talk')
  await screenshots(page, 'recordings')
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')

  // A relay that alters a recording (here a stand-in rewriting one relay's answer: a fake by design,
  // a real relay does not lie) gets it refused: the page checks every entry against the room key.
  const tampered = await browser.newPage()
  const shown: string[] = []
  tampered.on('pageerror', err => { shown.push(err.message) })
  await tampered.route(`${devnet.relays[0]!.url}/rooms/${devnet.room}/recordings.json`, async route => {
    const original = await route.fetch()
    const body = await original.json() as { recordings: Array<{ envelope: { payload: string } }> }
    for (const entry of body.recordings) entry.envelope.payload = entry.envelope.payload.replace(/"duration":\d+/, '"duration":99999')
    await route.fulfill({ response: original, json: body })
  })
  await tampered.route(`${devnet.relays[1]!.url}/rooms/${devnet.room}/recordings.json`, async route => { await route.fulfill({ json: { room: devnet.room, recordings: [] } }) })
  await tampered.goto(`${site}recordings.html?room=${devnet.room}`)
  await tampered.locator('.config-note', { hasText: 'not signed by this room\'s key' }).waitFor({ timeout: 60_000 })
  assert.equal(await tampered.locator('.session').count(), 0, 'an altered recording is not listed')
  await tampered.close()
  assert.deepEqual(shown, [], 'no page errors')
})

test('a recorded talk plays by CID in the player, every segment checked against its CID', async () => {
  // A few seconds of recording, so the talk has something to play.
  await pinnedRecording(6)
  const problems: string[] = []
  const page = await openPage(`recordings.html?room=${devnet.room}`, problems, recordedTalkNow)
  const asked: string[] = []
  page.on('request', request => { if (request.url().includes('/ipfs/') || request.url().includes('/hls/') || request.url().includes('/rooms/')) asked.push(request.url()) })
  const talks = page.locator(`[data-room="${devnet.room}"] .session .rec-talk`)
  await talks.first().waitFor({ timeout: 60_000 })
  // The longest talk of the newest session (a session may straddle a talk's start).
  const items = await talks.evaluateAll(elements => elements.map((element, index) => ({ index, span: Number(element.getAttribute('data-to')) - Number(element.getAttribute('data-from')) })))
  const chosen = items.reduce((best, item) => item.span > best.span ? item : best)
  // Enabled once a relay has pinned the CID listed (the origin re-records every 5 s here).
  await talks.nth(chosen.index).locator('.play-button').click({ timeout: 60_000 })
  await page.locator('.rec-stage video').waitFor({ timeout: 30_000 })
  // The CID the page played (the list refreshes, and a growing session gets a new CID every 5 s).
  const cid = await page.locator('.rec-stage').getAttribute('data-cid') ?? ''
  assert.match(cid, /^bafy[a-z2-7]+$/)
  await page.waitForFunction(() => ((document.querySelector('.rec-stage video') as HTMLVideoElement | null)?.currentTime ?? 0) > 2, undefined, { timeout: 90_000 })
  const stats = await page.evaluate(() => (window as unknown as { hivecastPlayer: { stats: () => ViewerStats } }).hivecastPlayer.stats())
  assert.ok(stats.segmentsVerified >= 2, `${stats.segmentsVerified} segments verified`)
  assert.equal(stats.segmentsRejected, 0, 'no segment rejected')
  assert.ok(stats.segments.every(segment => segment.verified), 'every segment matched its CID')
  // The player walks the recording from its CID, block by block, and reads no relay playlist.
  assert.ok(asked.some(url => url.includes(`/ipfs/${cid}?format=raw`)), `the player asked for the recording's root block by CID (asked: ${asked.slice(0, 3).join(', ')})`)
  assert.ok(!asked.some(url => url.includes('/hls/')), 'no relay playlist was read')
  assert.ok(!asked.some(url => url.includes(`/rooms/${devnet.room}/window.json`)), 'not the live window')
  assert.equal(await page.locator('.hc-state').textContent(), 'Player state: Playing')
  await page.screenshot({ path: `${RESULTS_DIR}site-recordings-playing.png`, fullPage: true })
  await page.close()
  assert.deepEqual(problems, [], 'no console errors')
})

test('the status page lists the demo\'s relays and the origin, and marks a killed relay down', async () => {
  const problems: string[] = []
  const page = await openPage('status.html', problems)
  const row = (url: string) => page.locator(`tr[data-relay="${url}"]`)
  for (const relay of devnet.relays) await row(relay.url).and(page.locator('[data-state="up"]')).waitFor({ timeout: 20_000 })
  assert.match(await page.locator(`tr[data-room="${devnet.room}"]`).textContent() ?? '', /healthy/)
  // Two polls, so the charts have a line.
  await page.locator('polyline.spark-line').first().waitFor({ timeout: 10_000 })
  await screenshots(page, 'status')

  const killed = devnet.relays[1]!
  await killed.process.kill()
  await row(killed.url).and(page.locator('[data-state="down"]')).waitFor({ timeout: 8_000 })
  assert.equal(await row(devnet.relays[0]!.url).getAttribute('data-state'), 'up')
  await page.screenshot({ path: `${RESULTS_DIR}site-status-relay-down.png`, fullPage: true })
  await page.close()
  // The browser itself logs each refused fetch to the killed relay; the page logs nothing.
  const own = problems.filter(p => !(p.includes('net::ERR_CONNECTION_REFUSED') && p.includes(killed.url)))
  assert.deepEqual(own, [], 'no console errors other than the browser\'s refused-connection lines for the killed relay')
})
