/**
 * Viewers share segments over WebRTC, in Debian Chromium against a real devnet (origin, one relay with a
 * WebSocket address and a circuit relay): four `<hivecast-player>` pages find each other through the
 * relay, and at least a quarter of the segment bytes they play come from each other. The players'
 * counts are checked against the relay's own (/metrics: blocks served) and against what the other
 * viewers say they uploaded; every segment is verified and no viewer stalls out. A `p2p="off"` page
 * never loads the peer-to-peer chunk.
 */
import assert from 'node:assert/strict'
import { createWriteStream, mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { eventually, startDevnet } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import type { Devnet } from '@hivecast/devnet'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import type { Browser, Page } from 'playwright-core'
import type { PlayerStats } from '../src/index.ts'

const RESULTS_DIR = fileURLToPath(new URL('../../../test-results/', import.meta.url))
mkdirSync(RESULTS_DIR, { recursive: true })
const VIEWERS = 4
/** How long the viewers play together before the counts are read. */
const SHARE_MS = 30_000
/** The lazily loaded chunk (Vite names it after its module, peer-swarm.ts). */
const SWARM_CHUNK = /\/assets\/peer-swarm-[^/]+\.js$/

function fail (message: string): never {
  throw new Error(message)
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Viewer {
  page: Page
  stats: () => Promise<PlayerStats>
  currentTime: () => Promise<number>
  /** Every state the player announced, with its message. */
  states: () => Promise<string[]>
  /** Script URLs the page loaded. */
  scripts: string[]
  problems: string[]
}

describe('viewers sharing segments over WebRTC', () => {
  let devnet: Devnet | undefined
  let browser: Browser | undefined
  let host: Server | undefined
  const log = createWriteStream(`${RESULTS_DIR}peer-share.log`)
  const viewers: Viewer[] = []

  before(async () => {
    devnet = await startDevnet({ relays: 1, renditions: '360p', site: true, log: line => { log.write(`${new Date().toISOString()} ${line}\n`) } })
    // Local ICE candidates as plain addresses, not mDNS names (no STUN/TURN anywhere: host candidates only).
    browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns'])
    const net = devnet
    // The host page comes from its own origin, as on a conference's site, and loads the element module.
    host = createServer((req, res) => {
      const p2p = new URL(req.url ?? '/', 'http://host').searchParams.get('p2p') === 'off' ? 'off' : 'on'
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><body>
        <hivecast-player room="${net.room}" key="${net.origin.key}" relays="${net.relays.map(r => r.url).join(' ')}" p2p="${p2p}"></hivecast-player>
        <script>
          window.hcStates = []
          document.querySelector('hivecast-player').addEventListener('hivecast:state', e => { window.hcStates.push(e.detail.state + ': ' + e.detail.message) })
        </script>
        <script type="module" src="${net.site!.url}hivecast-player.js"></script></body>`)
    })
    await new Promise<void>(resolve => host!.listen(0, '127.0.0.1', resolve))
  })
  after(async () => {
    await browser?.close()
    host?.closeAllConnections()
    await new Promise(resolve => host?.close(resolve) ?? resolve(undefined))
    await devnet?.stop()
    log.end()
  })

  async function open (name: string, p2p: 'on' | 'off'): Promise<Viewer> {
    const page = await (browser ?? fail('Chromium did not start')).newPage()
    const problems: string[] = []
    const scripts: string[] = []
    page.on('pageerror', err => { problems.push(err.message) })
    page.on('request', request => { if (request.resourceType() === 'script') scripts.push(request.url()) })
    page.on('console', message => { log.write(`${new Date().toISOString()} [${name}] ${message.type()}: ${message.text()}\n`) })
    await page.goto(`http://127.0.0.1:${(host!.address() as AddressInfo).port}/?p2p=${p2p}`)
    const element = (): PlayerStats => (document.querySelector('hivecast-player') as unknown as { stats: () => PlayerStats }).stats()
    return {
      page,
      scripts,
      problems,
      stats: async () => await page.evaluate(element),
      // The element renders once its module loaded: until then there is no video.
      currentTime: async () => await page.evaluate(() => document.querySelector('hivecast-player')?.shadowRoot?.querySelector('video')?.currentTime ?? 0),
      states: async () => await page.evaluate(() => (window as unknown as { hcStates: string[] }).hcStates)
    }
  }

  async function relayBlocksServed (): Promise<number> {
    const text = await (await fetch(`${devnet!.relays[0]!.url}/metrics`)).text()
    return Number(/^hivecast_relay_block_requests_total\{result="hit"\} (\d+)/m.exec(text)?.[1] ?? fail(`no block hit counter in /metrics:\n${text}`))
  }

  it(`${VIEWERS} viewers take at least a quarter of their segment bytes from each other`, async () => {
    const relayUrl = devnet!.relays[0]!.url
    for (let i = 0; i < VIEWERS; i++) viewers.push(await open(`viewer-${i + 1}`, 'on'))
    // Every viewer plays, and sees the others, before the shared stretch is measured.
    await eventually('every viewer to play', async () => {
      const times = await Promise.all(viewers.map(async v => await v.currentTime()))
      return times.every(t => t > 1) ? times : undefined
    }, 90_000)
    await eventually('every viewer to connect to another one', async () => {
      const stats = await Promise.all(viewers.map(async v => await v.stats()))
      return stats.every(s => s.p2p === 'on' && s.peers.peers >= 1) ? stats : undefined
    }, 60_000)
    const startTimes = await Promise.all(viewers.map(async v => await v.currentTime()))
    const started = Date.now()
    await sleep(SHARE_MS)
    const elapsed = (Date.now() - started) / 1000
    const endTimes = await Promise.all(viewers.map(async v => await v.currentTime()))
    const stats = await Promise.all(viewers.map(async v => await v.stats()))
    const hits = await relayBlocksServed()
    await Promise.all(viewers.map(async (v, i) => { await v.page.screenshot({ path: `${RESULTS_DIR}peer-share-viewer-${i + 1}.png` }) }))

    let fromPeers = 0
    let fromRelay = 0
    let relaySegments = 0
    let uploaded = 0
    for (const [i, s] of stats.entries()) {
      const summary = JSON.stringify({ ...s, segments: s.segments.length })
      assert.equal(s.segmentsRejected, 0, `viewer ${i + 1} rejected a segment: ${summary}`)
      assert.ok(s.segments.every(segment => segment.verified), `viewer ${i + 1} has an unverified segment record`)
      assert.ok(s.segments.every(segment => segment.source === 'peers' || segment.source === relayUrl), `viewer ${i + 1} has a segment from an unknown source`)
      assert.equal(s.peers.rejectedPeers, 0, `viewer ${i + 1} dropped an honest viewer: ${summary}`)
      const advanced = endTimes[i]! - startTimes[i]!
      // A loaded 2-core machine may play a little slower than real time, never stop.
      assert.ok(advanced >= elapsed * 0.5, `viewer ${i + 1} played ${advanced.toFixed(1)} s in ${elapsed.toFixed(1)} s; states: ${(await viewers[i]!.states()).join(' | ')}`)
      assert.ok(!['error', 'offline'].includes(s.state), `viewer ${i + 1} ended ${s.state}: ${(await viewers[i]!.states()).join(' | ')}`)
      fromPeers += s.bytesBySource.peers ?? 0
      fromRelay += s.bytesBySource[relayUrl] ?? 0
      relaySegments += s.segments.filter(segment => segment.source === relayUrl).length
      uploaded += s.peers.uploadedBytes
      assert.deepEqual(viewers[i]!.problems, [])
    }
    for (const [i, s] of stats.entries()) {
      log.write(`viewer ${i + 1}: ${s.bytesBySource.peers ?? 0} bytes from peers, ${s.bytesBySource[relayUrl] ?? 0} from the relay; ${s.peers.peers} peers, latency ${s.latencyMs ?? '-'} ms, buffer ${s.bufferSeconds.toFixed(1)} s, ${s.rendition ?? '-'}\n`)
    }
    const share = fromPeers / (fromPeers + fromRelay)
    log.write(`peer share ${(share * 100).toFixed(1)} %: ${fromPeers} bytes from peers, ${fromRelay} from the relay, ${uploaded} uploaded; relay served ${hits} blocks, players counted ${relaySegments}\n`)
    assert.ok(share >= 0.25, `only ${(share * 100).toFixed(1)} % of the segment bytes came from other viewers (${fromPeers} of ${fromPeers + fromRelay})`)
    // Every byte a viewer took from a peer was sent by another viewer (uploads also count copies a
    // receiver abandoned).
    assert.ok(uploaded >= fromPeers, `viewers uploaded ${uploaded} bytes but received ${fromPeers} from each other`)
    // The relay served a block for every segment the players say came from it, and not many more
    // (a few loads are aborted by hls.js after the relay answered): the rest really came from peers.
    assert.ok(hits >= relaySegments, `the relay served ${hits} blocks, the players counted ${relaySegments} from it`)
    assert.ok(hits <= relaySegments * 1.1 + 5, `the relay served ${hits} blocks, far more than the ${relaySegments} the players counted from it`)
    // The viewers tell the relay what they received (with each request for fellow viewers, every few
    // seconds), and the status page shows that share: a report lags the players' own counts a little.
    const status = await (await fetch(`${relayUrl}/status`)).json() as { viewerSwarm: { received: Record<string, { relays: number, peers: number }> } }
    const reported = status.viewerSwarm.received[devnet!.room] ?? fail(`the relay reports nothing received for the room: ${JSON.stringify(status.viewerSwarm)}`)
    // The players kept playing while the screenshots were taken: what they report now may include
    // segments received after their counts above, but never more than they have counted since.
    const countedSince = (await Promise.all(viewers.map(async v => (await v.stats()).bytesBySource.peers ?? 0))).reduce((a, b) => a + b, 0)
    assert.ok(reported.peers <= countedSince && reported.peers >= fromPeers * 0.5, `the relay reports ${reported.peers} peer bytes, the players counted ${fromPeers} (${countedSince} by the time the relay was asked)`)
    const page = await browser!.newPage()
    await page.goto(`${devnet!.site!.url}status.html`)
    const shown = Number(await (await page.waitForSelector('[data-peer-share]', { timeout: 15_000 })).getAttribute('data-peer-share'))
    await page.screenshot({ path: `${RESULTS_DIR}peer-share-status-page.png` })
    await page.close()
    assert.ok(Math.abs(shown - share) < 0.15, `the status page shows a peer share of ${shown}, the players counted ${share.toFixed(3)}`)
    const swarmLoads = viewers.map(v => v.scripts.filter(url => SWARM_CHUNK.test(url)).length)
    assert.ok(swarmLoads.every(n => n === 1), `each viewer loaded the peer-to-peer chunk once: ${swarmLoads.join(', ')}`)
    await Promise.all(viewers.map(async v => { await v.page.close() }))
  })

  it('a p2p="off" viewer plays from the relay and never loads the peer-to-peer code', async () => {
    const viewer = await open('viewer-off', 'off')
    await eventually('the p2p="off" viewer to play', async () => { const t = await viewer.currentTime(); return t > 1 ? t : undefined }, 60_000)
    const s = await viewer.stats()
    await viewer.page.close()
    assert.equal(s.p2p, 'off')
    assert.equal(s.bytesBySource.peers, undefined)
    assert.ok(s.segmentsVerified >= 1)
    assert.ok(viewer.scripts.some(url => url.endsWith('/hivecast-player.js')), `the page's scripts were recorded: ${viewer.scripts.join(' ')}`)
    assert.deepEqual(viewer.scripts.filter(url => SWARM_CHUNK.test(url)), [])
    assert.deepEqual(viewer.problems, [])
  })
})
