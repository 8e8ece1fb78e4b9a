/**
 * The issue's first scenario, as real processes in the lab's network: an origin whose uplink is capped
 * at 2.5x the ladder, 4 relays (one slow), coturn, the site, and two NATed homes (one symmetric) whose
 * Chromium viewers watch the room. Measures peer share (and the part of it that came through TURN),
 * stalls, the origin's upload per stream byte and glass-to-glass latency over a stretch of steady
 * playback; then, optionally, stops the TURN server and watches whether any viewer stalls.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PublishedTally, startDevnet, startSiteServer, startTurnServer, summarize } from '@hivecast/devnet'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import type { WindowHistoryJson } from '@hivecast/shared'
import { CHROMIUM_PATH, launchChromium } from '@hivecast/devnet/chromium'
import { peerRouteBytes, playedBytes, playedBytesOf, playerBufferSeconds, playerCatchUps, playerLatencyMs, playerStalls, playerSwarm, watchPlayerPage } from '@hivecast/devnet/player-page'
import type { Devnet, SiteServer, TurnServer } from '@hivecast/devnet'
import type { Browser, Page } from 'playwright-core'
import { addHome } from './home-network.ts'
import type { Home, NatKind } from './home-network.ts'
import { makeLabCertificate, trustLabCa } from './lab-ca.ts'
import type { LabOptions } from './lab-options.ts'
import { capEgress, capLink, sentBytes } from './link-shaper.ts'
import { probeNat } from './nat-probe.ts'
import { checkRecording } from './recording-check.ts'
import type { RecordingCheck } from './recording-check.ts'
import { addInternet, addPublicHost, CONTROL_ADDRESS, inNamespace, INTERNET_NS, sh } from './namespaces.ts'
import type { PublicHost } from './namespaces.ts'

const RELAYS = 4
const HOME_DOWN_MBIT = 20
const HOME_UP_MBIT = 5
const RELAY_HTTPS_PORT = 8443
const TURN_PORT = 3478
const DOMAIN = 'hivecast.test'
const SAMPLE_MS = 5_000
/**
 * After the squeeze, how long relays get to catch up before their gaps are counted: a relay gives a
 * segment up 10 s after its announcement (its fetch budget), so any gap of the squeeze is counted by then.
 */
const SQUEEZE_RECOVERY_MS = 12_000
/**
 * Then how long relays get to fill in their gaps: a relay fetches a gap again 5, 15, 45 and 105 s
 * after giving it up (room-follower.ts), from the other relays but the last time, from the origin too.
 * A segment no relay got (all gave it up) is filled by the last try only.
 */
const SQUEEZE_REFILL_MS = 120_000
/** Seconds between the origin's interim recordings: the squeeze's recording check reads one made after it. */
const RECORDING_INTERVAL = 30
/** How long the check waits for the archiving relay to pin a recording made after the squeeze. */
const RECORDING_WAIT_MS = 90_000
/** Window history entries read per relay and rendition: the squeeze's stretch and the wait after it, at 1 s segments. */
const HISTORY_LIMIT = 500
/** A `before` past any seq (the relay takes up to 15 digits): the newest page. */
const AFTER_EVERY_SEQ = 1e14
/** The relay that pins recordings (relay-1, a fast one). */
const ARCHIVING_RELAY = 0

export interface LabResult {
  quick: boolean
  /** Viewers behind a NAT that played. */
  natViewers: number
  /** How each home's NAT behaved when probed. */
  nat: Record<string, NatKind>
  relays: number
  seconds: number
  /** Segment bytes viewers got from other viewers / all segment bytes they played. */
  peerShare: number
  /** The part of all segment bytes that came from other viewers through TURN. */
  turnShare: number
  /** Stalls (a `waiting` after playback started) during the measured stretch, all viewers. */
  stalls: number
  stalledMs: number
  /** Times a player played faster to get its viewer back near the live edge, all viewers, over the whole run. */
  catchUps: number
  /** Bytes that left the origin's link (headers included) / the stream's own bytes, over the stretch. */
  originUploadPerStreamByte: number
  glassToGlassP50Ms: number
  glassToGlassP90Ms: number
  /** The origin's part of it: segment announced minus the program date time of its end, p50, ms. */
  originLagP50Ms: number
  ladderKbit: number
  originUplinkMbit: number
  /** Viewers whose swarm was on, and the peers each had, at the end of the stretch. */
  swarm: { on: number, peers: number[] }
  slowRelayMbit: number
  /** Seconds per LL-HLS part (0: none): with parts, viewers play in low-latency mode. */
  partDuration: number
  /** With the TURN server stopped: how long it was watched, and the stalls meanwhile (null: not run). */
  turnOff: { seconds: number, stalls: number, peerShare: number } | null
  /**
   * The origin's uplink squeezed to `factor` x the ladder, then given back: segments the relays listed
   * as gaps meanwhile and in the recovery after it, the most any relay was behind at the end, and stalls.
   */
  squeeze: {
    seconds: number
    factor: number
    gaps: number
    /**
     * Gaps relays filled in later (fetched again) from the squeeze to the end of the refill wait: the
     * squeeze's own and any still open from before it, so it can exceed `gaps`.
     */
    filled: number
    /** Segments of the squeeze's stretch (by program time) over all relays' windows, and those still gaps at the end: should be 0. */
    inStretch: number
    open: number
    behindAfter: number
    stalls: number
    /** The squeeze's stretch in the recording, as the archiving relay serves it. */
    recording: RecordingCheck | null
  } | null
  /**
   * The link of the relay most viewers watched from, cut: the viewers it had, the stalls while it was
   * down, and the viewers that still received segments in the stretch's second half.
   */
  linkCut: { seconds: number, relay: string, viewersOnIt: number, stalls: number, receiving: number } | null
}

/** A relay's /status, the parts the lab reads: per room its renditions' gaps and lag, and its own viewers. */
interface RelayRoomsStatus {
  rooms: Record<string, { renditions: Record<string, { gaps: number, filled: number, behind: number }>, viewers: { local: number } }>
}

async function relayStatus (url: string): Promise<RelayRoomsStatus | undefined> {
  return await fetch(`${url}/status`, { signal: AbortSignal.timeout(5_000) }).then(async r => await r.json() as RelayRoomsStatus).catch(() => undefined)
}

/**
 * The segments whose program time falls in [from, to] that each relay holds a record of, and those of
 * them it lists as gaps (announced, not stored), over every relay, from their window history.
 */
async function gapsInStretch (devnet: Devnet, renditions: string[], from: number, to: number): Promise<{ inStretch: number, open: number }> {
  let inStretch = 0
  let open = 0
  for (const relay of devnet.relays) {
    for (const name of renditions) {
      const page = await fetch(relayUrl(relay.url, relayRoutes.windowHistory(devnet.room, name, AFTER_EVERY_SEQ, HISTORY_LIMIT)), { signal: AbortSignal.timeout(5_000) })
        .then(async r => r.ok ? await r.json() as WindowHistoryJson : undefined).catch(() => undefined)
      const stretch = (page?.renditions[name] ?? []).filter(e => {
        const { pdt } = JSON.parse(e.envelope.payload) as { pdt: number }
        return pdt >= from && pdt <= to
      })
      inStretch += stretch.length
      open += stretch.filter(e => e.storedAt === null).length
    }
  }
  return { inStretch, open }
}

/** Gaps listed, gaps filled in later and segments behind, over every relay that answers, in `room`. */
async function relayLag (devnet: Devnet): Promise<{ gaps: number, filled: number, behind: number }> {
  let gaps = 0
  let filled = 0
  let behind = 0
  for (const relay of devnet.relays) {
    const renditions = Object.values((await relayStatus(relay.url))?.rooms[devnet.room]?.renditions ?? {})
    for (const r of renditions) {
      gaps += r.gaps
      filled += r.filled
      behind = Math.max(behind, r.behind)
    }
  }
  return { gaps, filled, behind }
}

/** Stalls of all viewers since `before` (each viewer's `playerStalls` then). */
async function stallsSince (pages: Page[], before: Array<{ count: number }>): Promise<number> {
  return (await Promise.all(pages.map(playerStalls))).reduce((n, s, i) => n + s.count - before[i]!.count, 0)
}

interface Viewers {
  browsers: Browser[]
  pages: Page[]
}

/** A script that runs Chromium inside a home's namespace, for Playwright's `executablePath`. */
async function chromiumIn (dir: string, ns: string): Promise<string> {
  const path = join(dir, `chromium-${ns}`)
  await writeFile(path, `#!/bin/sh\nexec ${inNamespace(ns).join(' ')} ${CHROMIUM_PATH} "$@"\n`)
  await chmod(path, 0o755)
  return path
}

/** The declared bitrate of every variant in a relay's master playlist, summed (bits/s). */
async function ladderBitrate (relayUrl: string, room: string): Promise<number> {
  const master = await (await fetch(`${relayUrl}/hls/${room}/master.m3u8`, { signal: AbortSignal.timeout(5_000) })).text()
  return [...master.matchAll(/[:,]BANDWIDTH=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
}

async function waitFor<T> (what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`the lab waited ${ms / 1000} s for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 1_000))
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The origin's and each relay's push and libp2p counters (from /status), for the log: why a figure is what it is. */
async function trafficCounters (devnet: Devnet): Promise<Record<string, unknown>> {
  const status = async (url: string): Promise<Record<string, unknown>> => await (await fetch(`${url}/status`, { signal: AbortSignal.timeout(5_000) })).json() as Record<string, unknown>
  const origin = await status(devnet.origin.url)
  const counters: Record<string, unknown> = { origin: { push: origin.push, p2p: origin.p2p } }
  for (const [i, relay] of devnet.relays.entries()) {
    const { push, p2p } = await status(relay.url).catch(() => ({ push: null, p2p: null }))
    counters[`relay-${i + 1}`] = { push, p2p }
  }
  return counters
}

/** `log`: the lab's own progress lines; `processLog`: every line the origin and relays print. */
export async function runConferenceScenario (options: LabOptions, log: (line: string) => void, processLog: (line: string) => void): Promise<LabResult> {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-lab-'))
  let devnet: Devnet | undefined
  let turn: TurnServer | undefined
  let site: SiteServer | undefined
  const viewers: Viewers = { browsers: [], pages: [] }
  try {
    log('building the network')
    await addInternet()
    const turnHost = await addPublicHost('turn', 3)
    const originHost = await addPublicHost('origin', 10)
    const relayHosts: PublicHost[] = []
    for (let i = 1; i <= RELAYS; i++) relayHosts.push(await addPublicHost(`relay-${i}`, 10 + i))
    const slow = relayHosts[RELAYS - 1]!
    if (options.slowRelayMbit > 0) await capLink({ ns: slow.ns, dev: slow.link }, { ns: INTERNET_NS, dev: `${slow.link}b` }, options.slowRelayMbit, options.slowRelayMbit)
    const homes: Home[] = [
      await addHome({ index: 1, nat: 'endpoint-independent', downMbit: HOME_DOWN_MBIT, upMbit: HOME_UP_MBIT }),
      await addHome({ index: 2, nat: 'symmetric', downMbit: HOME_DOWN_MBIT, upMbit: HOME_UP_MBIT })
    ]
    const nat: Record<string, NatKind> = {}
    for (const home of homes) {
      nat[`home-${home.index}`] = await probeNat(home.computer, CONTROL_ADDRESS)
      if (nat[`home-${home.index}`] !== home.nat) throw new Error(`home-${home.index} was built ${home.nat} but behaves ${nat[`home-${home.index}`]}`)
    }
    log(`NAT behaviour as probed: ${JSON.stringify(nat)}`)

    const relayName = (i: number): string => `relay-${i + 1}.${DOMAIN}`
    const siteName = `site.${DOMAIN}`
    const certificate = await makeLabCertificate(dir, [siteName, ...relayHosts.map((_, i) => relayName(i))], [CONTROL_ADDRESS, ...relayHosts.map(h => h.address)])
    trustLabCa(certificate.caPem)

    turn = await startTurnServer({ host: turnHost.address, port: TURN_PORT, commandPrefix: inNamespace(turnHost.ns) })
    log('starting origin and relays')
    devnet = await startDevnet({
      relays: RELAYS,
      renditions: options.renditions,
      placement: {
        origin: { host: originHost.address, commandPrefix: inNamespace(originHost.ns) },
        relays: relayHosts.map(h => ({ host: h.address, commandPrefix: inNamespace(h.ns) }))
      },
      ports: { relays: relayHosts.map(() => RELAY_HTTPS_PORT) },
      relayTls: { certFile: certificate.certFile, keyFile: certificate.keyFile },
      turn,
      // One relay pins the recordings, so the squeeze's stretch is checked in the recording people get.
      // (With all four pinning, pins fetched during the squeeze crowded the origin's squeezed uplink.)
      relayArgs: relayHosts.map((_, i) => i === ARCHIVING_RELAY ? ['--archive'] : undefined),
      recordingInterval: RECORDING_INTERVAL,
      partDuration: options.partDuration,
      log: processLog
    })
    const net = devnet
    const ladder = await waitFor('the ladder in the relays\' master playlist', 60_000, async () => {
      const bits = await ladderBitrate(net.relays[0]!.url, net.room)
      return bits > 0 ? bits : undefined
    })
    const originUplinkMbit = ladder * options.originUplinkFactor / 1e6
    await capEgress(originHost.ns, originHost.link, originUplinkMbit)
    log(`ladder ${Math.round(ladder / 1000)} kbit/s; origin uplink capped at ${originUplinkMbit.toFixed(2)} Mbit/s`)

    // The site names relays by lab hostnames; every browser maps them (and the site's) to lab addresses.
    site = await startSiteServer({
      relays: relayHosts.map((_, i) => `https://${relayName(i)}:${RELAY_HTTPS_PORT}`),
      rooms: [{ slug: devnet.room, title: 'Lab room (test pattern)', key: devnet.origin.key }]
    }, CONTROL_ADDRESS, 0, { cert: certificate.cert, key: certificate.key })
    const sitePort = new URL(site.url).port
    const hostRules = [`MAP ${siteName} ${CONTROL_ADDRESS}`, ...relayHosts.map((h, i) => `MAP ${relayName(i)} ${h.address}`)].join(',')
    log(`site https://${siteName}:${sitePort}/ ; starting ${options.viewersPerHome} viewers in each home`)
    for (const home of homes) {
      const browser = await launchChromium([
        `--host-resolver-rules=${hostRules}`,
        `--ignore-certificate-errors-spki-list=${certificate.spkiHash}`,
        // ICE host candidates as addresses, not mDNS names nobody in the lab answers.
        '--disable-features=WebRtcHideLocalIpsWithMdns'
      ], await chromiumIn(dir, home.computer))
      viewers.browsers.push(browser)
      for (let i = 0; i < options.viewersPerHome; i++) {
        const page = await browser.newPage()
        await watchPlayerPage(page)
        await page.goto(`https://${siteName}:${sitePort}/watch.html?room=${devnet.room}`)
        viewers.pages.push(page)
      }
    }
    for (const page of viewers.pages) {
      await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, undefined, { timeout: 120_000, polling: 1_000 })
    }
    log(`every viewer plays; ${options.warmup} s of warm-up`)
    await sleep(options.warmup * 1000)

    const published = new PublishedTally(devnet.origin.url)
    const startedAt = Date.now()
    const bytes0 = await playedBytesOf(viewers.pages)
    const routes0 = await Promise.all(viewers.pages.map(peerRouteBytes))
    const stalls0 = await Promise.all(viewers.pages.map(playerStalls))
    const origin0 = await sentBytes(originHost.ns, originHost.link)
    log(`counters before the stretch: ${JSON.stringify(await trafficCounters(devnet))}`)
    const latencies: number[] = []
    while (Date.now() < startedAt + options.seconds * 1000) {
      await sleep(Math.min(SAMPLE_MS, startedAt + options.seconds * 1000 - Date.now()))
      await published.sample()
      const behind = await Promise.all(viewers.pages.map(playerLatencyMs))
      for (const latency of behind) if (latency !== null) latencies.push(latency)
      // Per viewer, to tell a latency that grows (a viewer falling behind) from one that stays.
      const buffered = await Promise.all(viewers.pages.map(playerBufferSeconds))
      const seconds = (values: Array<number | null>, scale = 1): string => values.map(v => v === null ? '-' : (v / scale).toFixed(1)).join(' ')
      log(`behind live per viewer (s): ${seconds(behind, 1000)}; buffered (s): ${seconds(buffered)}`)
    }
    const endedAt = Date.now()
    const origin = await sentBytes(originHost.ns, originHost.link) - origin0
    log(`counters after the stretch: ${JSON.stringify(await trafficCounters(devnet))}`)
    const bytes = await playedBytesOf(viewers.pages)
    const routes = await Promise.all(viewers.pages.map(peerRouteBytes))
    const stalls = await Promise.all(viewers.pages.map(playerStalls))
    const stream = published.bytesBetween(startedAt, endedAt)
    const swarms = await Promise.all(viewers.pages.map(playerSwarm))
    const all = bytes.all - bytes0.all
    const peerShare = all === 0 ? 0 : (bytes.peers - bytes0.peers) / all
    const turnBytes = routes.reduce((n, r, i) => n + r.turn - routes0[i]!.turn, 0)
    const directBytes = routes.reduce((n, r, i) => n + r.direct - routes0[i]!.direct, 0)
    if (latencies.length === 0) throw new Error('no viewer reported its latency behind live during the measured stretch')
    const latency = summarize(latencies)
    const originLag = summarize(published.lagsBetween(startedAt, endedAt))

    let turnOff: LabResult['turnOff'] = null
    if (options.turnOffSeconds > 0) {
      log(`stopping the TURN server; watching ${options.turnOffSeconds} s`)
      const before = await Promise.all(viewers.pages.map(playerStalls))
      const offBytes0 = await playedBytesOf(viewers.pages)
      await turn.stop()
      turn = undefined
      await sleep(options.turnOffSeconds * 1000)
      const after = await Promise.all(viewers.pages.map(playerStalls))
      const offBytes = await playedBytesOf(viewers.pages)
      turnOff = {
        seconds: options.turnOffSeconds,
        stalls: after.reduce((n, s, i) => n + s.count - before[i]!.count, 0),
        peerShare: offBytes.all === offBytes0.all ? 0 : (offBytes.peers - offBytes0.peers) / (offBytes.all - offBytes0.all)
      }
    }

    let squeeze: LabResult['squeeze'] = null
    if (options.squeezeSeconds > 0) {
      log(`squeezing the origin's uplink to ${options.squeezeFactor}x the ladder for ${options.squeezeSeconds} s`)
      const before = await Promise.all(viewers.pages.map(playerStalls))
      const lag0 = await relayLag(net)
      const from = Date.now()
      await capEgress(originHost.ns, originHost.link, ladder * options.squeezeFactor / 1e6)
      await sleep(options.squeezeSeconds * 1000)
      await capEgress(originHost.ns, originHost.link, originUplinkMbit)
      const squeezedUntil = Date.now()
      log(`uplink given back; ${SQUEEZE_RECOVERY_MS / 1000} s for the relays to catch up`)
      await sleep(SQUEEZE_RECOVERY_MS)
      const lag = await relayLag(net)
      const stalls = await stallsSince(viewers.pages, before)
      const refillUntil = Date.now() + SQUEEZE_REFILL_MS
      const renditions = options.renditions.split(',')
      let stretch = await gapsInStretch(net, renditions, from, squeezedUntil)
      while (stretch.open > 0 && Date.now() < refillUntil) {
        await sleep(2_000)
        stretch = await gapsInStretch(net, renditions, from, squeezedUntil)
      }
      const filled = await relayLag(net)
      log(`checking the squeeze's stretch in the recording on relay-${ARCHIVING_RELAY + 1}`)
      const recording = await checkRecording(net.relays[ARCHIVING_RELAY]!.url, net.room, [net.origin.key], renditions, from, squeezedUntil, RECORDING_WAIT_MS)
      squeeze = { seconds: options.squeezeSeconds, factor: options.squeezeFactor, gaps: lag.gaps - lag0.gaps, filled: filled.filled - lag0.filled, inStretch: stretch.inStretch, open: stretch.open, behindAfter: lag.behind, stalls, recording }
      log(`squeeze: ${JSON.stringify(squeeze)}`)
    }

    let linkCut: LabResult['linkCut'] = null
    if (options.linkCutSeconds > 0) {
      // The relay with the most viewers here, of the fast ones: cutting the slow one would test little.
      const watching = await Promise.all(net.relays.map(async relay => (await relayStatus(relay.url))?.rooms[net.room]?.viewers.local ?? 0))
      const fast = relayHosts.map((_, i) => i).filter(i => relayHosts[i] !== slow || options.slowRelayMbit === 0)
      const cut = fast.reduce((best, i) => watching[i]! > watching[best]! ? i : best, fast[0]!)
      const host = relayHosts[cut]!
      log(`cutting relay-${cut + 1}'s link (${watching[cut]} viewers on it); watching ${options.linkCutSeconds} s`)
      const before = await Promise.all(viewers.pages.map(playerStalls))
      await sh('ip', ['-n', host.ns, 'link', 'set', host.link, 'down'])
      await sleep(options.linkCutSeconds * 500)
      const half = await Promise.all(viewers.pages.map(playedBytes))
      await sleep(options.linkCutSeconds * 500)
      const end = await Promise.all(viewers.pages.map(playedBytes))
      linkCut = {
        seconds: options.linkCutSeconds,
        relay: `relay-${cut + 1}`,
        viewersOnIt: watching[cut]!,
        stalls: await stallsSince(viewers.pages, before),
        receiving: end.filter((bytes, i) => bytes.all > half[i]!.all).length
      }
      log(`link cut: ${JSON.stringify(linkCut)}`)
    }

    return {
      quick: options.quick,
      natViewers: viewers.pages.length,
      nat,
      relays: RELAYS,
      seconds: Math.round((endedAt - startedAt) / 1000),
      peerShare,
      turnShare: turnBytes + directBytes === 0 ? 0 : peerShare * turnBytes / (turnBytes + directBytes),
      stalls: stalls.reduce((n, s, i) => n + s.count - stalls0[i]!.count, 0),
      stalledMs: Math.round(stalls.reduce((n, s, i) => n + s.ms - stalls0[i]!.ms, 0)),
      catchUps: (await Promise.all(viewers.pages.map(playerCatchUps))).reduce((n, times) => n + times, 0),
      originUploadPerStreamByte: stream === 0 ? Number.NaN : origin / stream,
      glassToGlassP50Ms: latency.p50,
      glassToGlassP90Ms: latency.p90,
      originLagP50Ms: originLag.p50,
      ladderKbit: Math.round(ladder / 1000),
      originUplinkMbit: Number(originUplinkMbit.toFixed(2)),
      swarm: { on: swarms.filter(s => s.p2p === 'on').length, peers: swarms.map(s => s.peers) },
      slowRelayMbit: options.slowRelayMbit,
      partDuration: options.partDuration,
      turnOff,
      squeeze,
      linkCut
    }
  } finally {
    await Promise.all(viewers.browsers.map(async b => { await b.close().catch(() => {}) }))
    await site?.stop()
    await devnet?.stop()
    await turn?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
