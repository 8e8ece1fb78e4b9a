#!/usr/bin/env node
/**
 * `npm run soak` (not part of CI): origin + relays + Chromium viewers for a long time, killing and
 * restarting a random relay every few minutes. Reports each process's memory over time, the stalls the
 * viewers saw after playback started, announced segments that no relay ever listed, and announced
 * segments missing from the session's recording (the origin's journal and its final recording).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startDevnet } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import type { Page } from 'playwright-core'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    relays: { type: 'string', default: '3' },
    viewers: { type: 'string', default: '3' },
    'kill-every': { type: 'string', default: '3' },
    help: { type: 'boolean', default: false }
  }
})
if (values.help) {
  console.log(`usage: npm run soak [-- --minutes 30 --relays 3 --viewers 3 --kill-every 3]

Runs origin + relays + headless Chromium viewers on 127.0.0.1 for --minutes, killing a random relay
every --kill-every minutes and starting it again 10 s later. Prints a line per minute and writes
test-results/soak.json: memory (RSS, MiB) of every process over time, viewer stalls, segments never
listed by a relay, and segments missing from the recording. Exits 1 when any segment was lost.`)
  process.exit(0)
}
function positive (name: string, text: string): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`soak: --${name} must be a positive number, got "${text}"`)
    process.exit(2)
  }
  return n
}
const minutes = positive('minutes', values.minutes)
const relayCount = positive('relays', values.relays)
const viewerCount = positive('viewers', values.viewers)
const killEveryMs = positive('kill-every', values['kill-every']) * 60_000

interface ViewerState { playing: boolean, stalls: number }
interface OriginStatus { recent: Array<{ rendition: string, seq: number }> }
interface RelayWindow { renditions: Record<string, Array<{ envelope: { payload: string } }>> }

async function rssMiB (pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const rss = /VmRSS:\s+(\d+) kB/.exec(status)
  return rss === null ? null : Math.round(Number(rss[1]) / 1024)
}

// The origin's last words name its final recording: "final recording of session …: <cid> (N segments, …)".
const finalRecording: { cid?: string, segments?: number } = {}
const devnet = await startDevnet({
  relays: relayCount,
  renditions: '360p',
  site: true,
  log: line => {
    const match = /\[origin\].*final recording of session \S+: (\S+) \((\d+) segments/.exec(line)
    if (match !== null) Object.assign(finalRecording, { cid: match[1], segments: Number(match[2]) })
  }
})
const browser = await launchChromium()
const pages: Page[] = []
for (let i = 0; i < viewerCount; i++) {
  const page = await browser.newPage()
  await page.addInitScript(() => {
    const state = { playing: false, stalls: 0 }
    ;(window as unknown as { soak: ViewerState }).soak = state
    document.addEventListener('playing', () => { state.playing = true }, true)
    document.addEventListener('waiting', () => { if (state.playing) state.stalls++ }, true)
  })
  await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)
  pages.push(page)
}

const announced = new Set<string>()
const listed = new Set<string>()
const memory: Array<Record<string, number | null>> = []
const kills: Array<{ at: string, relay: number }> = []
const started = Date.now()
let nextKill = started + killEveryMs
const stopping = new AbortController()
/** Relay restarts not yet done: awaited before the devnet stops, else a relay restarted late outlives it. */
const restarts: Array<Promise<void>> = []
process.on('SIGINT', () => { stopping.abort() })

/** `360p/<seq>` of every segment the origin journalled for its recordings (one JSON line per segment). */
async function journalled (): Promise<Set<string>> {
  const dir = join(devnet.dataDir, 'origin', 'recordings')
  const keys = new Set<string>()
  for (const file of (await readdir(dir)).filter(name => name.endsWith('.jsonl'))) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (line.trim() === '') continue
      const segment = JSON.parse(line) as { rendition: { name: string }, seq: number }
      keys.add(`${segment.rendition.name}/${segment.seq}`)
    }
  }
  return keys
}

async function collectSegments (): Promise<void> {
  const origin = await fetch(`${devnet.origin.url}/status`).then(async r => await r.json() as OriginStatus, () => undefined)
  for (const s of origin?.recent ?? []) announced.add(`${s.rendition}/${s.seq}`)
  for (const relay of devnet.relays) {
    const window = await fetch(`${relay.url}/rooms/${devnet.room}/window.json`).then(async r => await r.json() as RelayWindow, () => undefined)
    for (const [name, entries] of Object.entries(window?.renditions ?? {})) {
      for (const e of entries) listed.add(`${name}/${(JSON.parse(e.envelope.payload) as { seq: number }).seq}`)
    }
  }
}

try {
  let lastReport = started
  while (!stopping.signal.aborted && Date.now() - started < minutes * 60_000) {
    await new Promise(resolve => setTimeout(resolve, 5000))
    await collectSegments()
    if (Date.now() >= nextKill) {
      const index = Math.floor(Math.random() * devnet.relays.length)
      kills.push({ at: new Date().toISOString(), relay: index + 1 })
      await devnet.relays[index]!.process.kill()
      restarts.push(new Promise(resolve => setTimeout(resolve, 10_000))
        .then(async () => { await devnet.restartRelay(index) })
        .catch((err: Error) => { console.error(`soak: relay ${index + 1} did not restart: ${err.message}`) }))
      nextKill += killEveryMs
    }
    if (Date.now() - lastReport >= 60_000) {
      lastReport = Date.now()
      const sample: Record<string, number | null> = { minute: Math.round((lastReport - started) / 60_000), origin: await rssMiB(devnet.origin.process.child.pid) }
      for (const [i, relay] of devnet.relays.entries()) sample[`relay-${i + 1}`] = await rssMiB(relay.process.child.pid)
      memory.push(sample)
      const stalls = await Promise.all(pages.map(async p => await p.evaluate(() => (window as unknown as { soak: ViewerState }).soak.stalls)))
      console.log(`soak: minute ${sample.minute}: RSS MiB ${JSON.stringify(sample)}; viewer stalls ${stalls.join(', ')}; relay kills ${kills.length}`)
    }
  }
  await new Promise(resolve => setTimeout(resolve, 5000))
  await collectSegments()
  const stalls = await Promise.all(pages.map(async p => await p.evaluate(() => (window as unknown as { soak: ViewerState }).soak)))
  // A last look 5 s after the end gives the newest segments time to reach the relays.
  const lost = [...announced].filter(key => !listed.has(key)).sort()
  // A clean stop makes the origin publish the session's final recording.
  await devnet.origin.process.stop()
  const recorded = await journalled()
  const notRecorded = [...announced].filter(key => !recorded.has(key)).sort()
  const recordingShort = finalRecording.segments === undefined || finalRecording.segments < recorded.size
  const report = { minutes: (Date.now() - started) / 60_000, relays: relayCount, viewers: viewerCount, kills, memory, viewerStalls: stalls, announced: announced.size, lost, recording: { ...finalRecording, journalled: recorded.size, notRecorded } }
  await mkdir('test-results', { recursive: true })
  await writeFile('test-results/soak.json', JSON.stringify(report, null, 2) + '\n')
  console.log(`soak: ${report.minutes.toFixed(1)} min, ${kills.length} relay kills, stalls per viewer ${stalls.map(s => s.stalls).join(', ')}, ${announced.size} segments announced, ${lost.length} never listed by any relay${lost.length > 0 ? ` (${lost.slice(0, 10).join(', ')})` : ''}`)
  console.log(`soak: recording ${finalRecording.cid ?? '(no final recording announced)'}: ${finalRecording.segments ?? 0} segments, ${recorded.size} journalled, ${notRecorded.length} announced segments missing from it${notRecorded.length > 0 ? ` (${notRecorded.slice(0, 10).join(', ')})` : ''}; details in test-results/soak.json`)
  process.exitCode = lost.length === 0 && notRecorded.length === 0 && !recordingShort ? 0 : 1
} finally {
  await browser.close()
  await Promise.all(restarts)
  await devnet.stop()
}
