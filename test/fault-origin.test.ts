/**
 * The origin side failing while a Chromium viewer watches: ffmpeg killed, the origin process killed
 * and restarted on its data dir and ports, the input feed cut for 10 s. Each time the relays' playlists
 * go on with `#EXT-X-DISCONTINUITY` and rising sequence numbers, no segment announced before the fault
 * drops out of them, and the viewer plays on (new segments load, currentTime advances, state is live).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import { eventually, freeTcpPort } from '@hivecast/devnet'
import type { Devnet } from '@hivecast/devnet'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest } from './src/devnet-fixture.ts'
import { relayPlaylist } from './src/live-playlist.ts'
import type { ListedSegment } from './src/live-playlist.ts'
import { StreamSender } from './src/stream-sender.ts'
import { openWatchPage } from './src/watch-page.ts'
import type { Viewer } from './src/watch-page.ts'

const RENDITION = '240p'
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

const devnet = await devnetForTest('fault-origin', { relays: 2, renditions: RENDITION, site: true })
const browser = await launchChromium()
after(async () => { await browser.close() })

interface OriginStatus {
  ffmpeg: { pid?: number }
  input: { state: string }
  recent: Array<{ rendition: string, seq: number, cid: string }>
}

async function originStatus (net: Devnet): Promise<OriginStatus> {
  return await (await fetch(`${net.origin.url}/status`, { signal: AbortSignal.timeout(5000) })).json() as OriginStatus
}

async function watching (net: Devnet): Promise<Viewer> {
  const viewer = await openWatchPage(browser, net.site!.url, net.room)
  await eventually('playback to start', async () => await viewer.currentTime() > 1 ? true : undefined, 45_000)
  return viewer
}

/** Seq -> CID of what the origin says it announced and what the relays list: what exists before a fault. */
async function announcedSoFar (net: Devnet): Promise<Map<number, string>> {
  const announced = (await originStatus(net)).recent.filter(s => s.rendition === RENDITION)
  const listed = await Promise.all(net.relays.map(async relay => await relayPlaylist(relay.url, net.room, RENDITION)))
  const seen = new Map<number, string>()
  for (const s of [...announced, ...listed.flat()]) {
    assert.equal(seen.get(s.seq) ?? s.cid, s.cid, `seq ${s.seq} was announced or listed with two CIDs`)
    seen.set(s.seq, s.cid)
  }
  return seen
}

/** Every segment of `seen` still inside a relay's window is listed there with the same CID. */
async function nothingLost (net: Devnet, seen: Map<number, string>): Promise<void> {
  for (const [index, relay] of net.relays.entries()) {
    const now = await relayPlaylist(relay.url, net.room, RENDITION)
    for (const [seq, cid] of seen) {
      if (seq < now[0]!.seq) continue
      assert.equal(now.find(s => s.seq === seq)?.cid, cid, `relay ${index + 1} lost seq ${seq} (${cid}), announced before the fault`)
    }
  }
}

/**
 * Every relay lists, above `lastSeq`, a segment opening with a discontinuity (a new ffmpeg run) and
 * at least `count` segments from it on, seqs consecutive throughout; returns the first relay's
 * segments from the discontinuity on. Segments ffmpeg finished before the fault may come first.
 */
async function continuesAfterFault (net: Devnet, lastSeq: number, count: number, timeoutMs: number): Promise<ListedSegment[]> {
  const lists = await Promise.all(net.relays.map(async relay => await eventually(
    `${relay.url} to list, above seq ${lastSeq}, an #EXT-X-DISCONTINUITY and ${count} segments from it on`, async () => {
      const fresh = (await relayPlaylist(relay.url, net.room, RENDITION)).filter(s => s.seq > lastSeq)
      const cut = fresh.findIndex(s => s.discontinuity)
      return cut >= 0 && fresh.length - cut >= count ? fresh : undefined
    }, timeoutMs)))
  for (const [index, fresh] of lists.entries()) {
    assert.ok(fresh.every((s, i) => i === 0 || s.seq === fresh[i - 1]!.seq + 1), `relay ${index + 1}: seqs after the fault are not consecutive`)
    assert.equal(fresh.filter(s => s.discontinuity).length, 1, `relay ${index + 1}: one fault, one discontinuity`)
  }
  return lists[0]!.slice(lists[0]!.findIndex(s => s.discontinuity))
}

/**
 * Within `withinMs` of `since`, the viewer loads and verifies a segment above `lastSeq`; then it plays
 * on, live.
 */
async function resumes (viewer: Viewer, net: Devnet, lastSeq: number, since: number, withinMs: number): Promise<void> {
  await eventually(`the viewer to play a segment from after the fault within ${withinMs / 1000} s`, async () => {
    const fresh = new Set((await relayPlaylist(net.relays[0]!.url, net.room, RENDITION)).filter(s => s.seq > lastSeq).map(s => s.cid))
    return (await viewer.stats()).segments.some(s => s.verified && fresh.has(s.cid)) ? true : undefined
  }, Math.max(250, since + withinMs - Date.now()))
  console.log(`the viewer had a segment from after the fault ${((Date.now() - since) / 1000).toFixed(1)} s after it`)
  const start = await viewer.currentTime()
  await sleep(4000)
  const advanced = await viewer.currentTime() - start
  assert.ok(advanced >= 2.5, `the video advanced ${advanced.toFixed(2)} s in the 4 s after it got new segments`)
  const states: string[] = []
  await eventually('the viewer back in the live state', async () => {
    const { state } = await viewer.stats()
    if (states.at(-1) !== state) states.push(state)
    return state === 'live' ? true : undefined
  }, 10_000).catch((err: Error) => { throw new Error(`${err.message}; states seen: ${states.join(', ')}`) })
  assert.equal(await viewer.page.evaluate(() => document.querySelector('video')!.error), null, 'the video element has no error')
  assert.deepEqual(viewer.problems, [], 'no page errors')
}

/** The origin's ffmpeg, found as its child process (and cross-checked with /status). */
async function ffmpegChild (net: Devnet): Promise<number> {
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,comm=', '--ppid', String(net.origin.process.child.pid)])
  const pids = stdout.split('\n').map(line => line.trim().split(/\s+/)).filter(([, comm]) => comm === 'ffmpeg').map(([pid]) => Number(pid))
  assert.equal(pids.length, 1, `expected one ffmpeg child of the origin, found ${pids.length}`)
  assert.equal((await originStatus(net)).ffmpeg.pid, pids[0], '/status names the same ffmpeg')
  return pids[0]!
}

test('ffmpeg killed: the playlists go on after a discontinuity with rising seqs, and the viewer resumes', async () => {
  const viewer = await watching(devnet)
  try {
    const pid = await ffmpegChild(devnet)
    const seen = await announcedSoFar(devnet)
    process.kill(pid, 'SIGKILL')
    const killed = Date.now()
    const restarted = await continuesAfterFault(devnet, Math.max(...seen.keys()), 3, 20_000)
    await nothingLost(devnet, seen)
    await resumes(viewer, devnet, restarted[0]!.seq - 1, killed, 20_000)
  } finally {
    await viewer.page.close()
  }
})

test('origin killed and restarted on its data dir and ports: relays reconnect, seqs continue, nothing announced is lost', async () => {
  const viewer = await watching(devnet)
  try {
    const seen = await announcedSoFar(devnet)
    await devnet.origin.process.kill()
    await sleep(3000)
    await devnet.restartOrigin()
    const back = Date.now()
    const restarted = await continuesAfterFault(devnet, Math.max(...seen.keys()), 3, 30_000)
    await nothingLost(devnet, seen)
    await resumes(viewer, devnet, restarted[0]!.seq - 1, back, 20_000)
  } finally {
    await viewer.page.close()
  }
})

test('input drops for 10 s and returns: "waiting for signal", then a discontinuity, rising seqs, and the viewer resumes within 15 s', async () => {
  const port = await freeTcpPort()
  const net = await devnetForTest('fault-input', { relays: 1, renditions: RENDITION, site: true, originInput: `tcp://127.0.0.1:${port}` })
  const sender = new StreamSender(`tcp://127.0.0.1:${port}`)
  after(async () => { await sender.stop() })
  sender.start()
  const viewer = await watching(net)
  try {
    await sleep(2000)
    await sender.stop()
    const dropped = Date.now()
    await eventually('the origin to say "waiting for signal"', async () => (await originStatus(net)).input.state === 'waiting for signal' ? true : undefined, 9_000)
    const states: string[] = []
    while (Date.now() - dropped < 10_000) {
      const { state } = await viewer.stats()
      if (states.at(-1) !== state) states.push(state)
      await sleep(250)
    }
    console.log(`viewer states while the input was gone: ${states.join(', ')}`)
    assert.ok(states.includes('no-signal'), `the viewer never said "waiting for signal" in the 10 s without input: ${states.join(', ')}`)
    // The origin has published all it got before the drop by now: that is what must not be lost.
    const seen = await announcedSoFar(net)
    assert.equal((await originStatus(net)).input.state, 'waiting for signal', 'still waiting after 10 s without input')
    sender.start()
    const back = Date.now()
    const returned = await continuesAfterFault(net, Math.max(...seen.keys()), 2, 15_000)
    await nothingLost(net, seen)
    await resumes(viewer, net, returned[0]!.seq - 1, back, 15_000)
  } finally {
    await viewer.page.close()
  }
})
