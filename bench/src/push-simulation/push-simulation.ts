/**
 * The many-relay simulation of the segment push (issue 14): one origin and `relays` relays in this
 * process, each running the relay's real `SegmentPushes` and block fetcher and the origin's real
 * `SegmentPusher` (shared tree functions included), on a `SimulatedNetwork` whose LinkScheduler
 * injects per-link delay and per-node bandwidth. Gossip announcements are modelled as a delay per
 * relay and segment, the directory as each relay's record every DIRECTORY_INTERVAL_MS. Relays are
 * killed during the run, and some have a slow uplink. Runs in real time: the code's own timers run.
 *
 * Why not real libp2p nodes: idle ones cost only ~1.4 MiB each (20 measured), but loopback TCP
 * carries no per-link delay or bandwidth without root (tc/netem), dialling a full mesh of 20 failed
 * with ECONNRESET (libp2p limits inbound connections per address and second), and Noise/yamux for 200 relays would
 * make the 2-core machine, not the protocol, decide the latencies. The push over real libp2p streams
 * is tested between real processes (test/segment-push.test.ts); this runs the same code on the seam.
 */
import { DIRECTORY_INTERVAL_MS, rawCid, logger } from '@hivecast/shared'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PARENT_CHECK_MS, createBlockFetcher } from '../../../packages/relay/src/block-fetcher.ts'
import { SegmentPushes } from '../../../packages/relay/src/segment-pushes.ts'
import type { TreeSize } from '../../../packages/relay/src/segment-pushes.ts'
import { SegmentPusher } from '../../../packages/origin/src/segment-pusher.ts'
import { RELAY_PUSH_FANOUT, pushDepth } from '@hivecast/shared/node'
import { summarize } from '@hivecast/devnet'
import { LinkScheduler, pairHash } from './link-scheduler.ts'
import { SimulatedNetwork, simAddress } from './simulated-network.ts'
import type { Summary } from '@hivecast/devnet'
import type { BlockFetcher } from '../../../packages/relay/src/block-fetcher.ts'
import type { CID } from 'multiformats/cid'

export interface SimulationOptions {
  relays: number
  segments: number
  /** Bytes of each segment's block. */
  segmentBytes: number
  /** Time between segments, ms. */
  segmentMs: number
  /** Relays killed during the run, all at once. */
  kills: number
  /** The kill comes this long after segment `killAfterSegment` (0-based) is published, ms. */
  killAfterSegment: number
  killDelayMs: number
  /** One-way link delay, ms: each pair gets a fixed value in [min, max]. */
  delayMs: [number, number]
  /** Each relay's upload and download, Mbit/s. */
  uploadMbps: number
  downloadMbps: number
  /** The origin's upload, Mbit/s, when it differs from the relays'. */
  originUploadMbps?: number
  /**
   * Other traffic (HTTP, gossip, answers to late relays) holding the origin's uplink this long just
   * before each segment is offered, ms: the offer starts that much later, as on a full uplink.
   */
  originBusyMs?: number
  /**
   * Segments published first, WARMUP_SPACING_MS apart and without the origin's other traffic, and left
   * out of the origin's upload figure: relays learn how the origin pushes before the run is measured.
   */
  warmupSegments?: number
  /** Relays whose uplink is slow, and their upload, Mbit/s. */
  slowRelays: number
  slowUploadMbps: number
  /** How long a node takes to notice a killed peer is gone, ms: each pair a value in [min, max]. */
  detectMs: [number, number]
  /** When a relay hears of a segment after it is published (gossip), ms: per relay and segment. */
  gossipMs: [number, number]
  /** Seed of the kills and gossip delays. */
  seed: number
}

export const DEFAULT_SIMULATION: Omit<SimulationOptions, 'relays' | 'segments' | 'kills'> = {
  segmentBytes: 256 * 1024,
  segmentMs: 1000,
  killAfterSegment: 2,
  killDelayMs: 60,
  delayMs: [5, 40],
  uploadMbps: 100,
  downloadMbps: 100,
  slowRelays: 0,
  slowUploadMbps: 2,
  detectMs: [0, 200],
  gossipMs: [10, 120],
  seed: 14
}

export interface SegmentReport {
  seq: number
  /** Longest and mean path from the origin, in links. */
  maxHops: number
  meanHops: number
  /** Published -> the last live relay holds it, ms; undefined when a live relay never got it. */
  lastRelayMs: number | undefined
  /** Live relays holding it at the end, of `live`. */
  holders: number
  live: number
}

export interface SimulationResult {
  options: SimulationOptions
  killed: string[]
  /** Relays with a slow uplink, and how many of them were leaves of the tree at the end. */
  slow: string[]
  slowLeaves: number
  /** The most relays that were leaves at once, by the directory. */
  maxLeaves: number
  segments: SegmentReport[]
  /** Over segments: published -> held by the last live relay, ms. */
  lastRelayMs: Summary
  /** Over live relays: block bytes received / bytes of the blocks held (1 = no duplicates). */
  receivedPerHeld: Summary
  /** Bitswap wants sent by live relays (fetches the push did not serve), and peers asked per want. */
  wants: number
  peersPerWant: number
  /** Origin upload / (segments x segment bytes). */
  originUploadPerStreamByte: number
  /** Live relays missing a segment, summed over segments. */
  missing: number
  /** The whole run's CPU time and resident memory. */
  cpuSeconds: number
  rssMiB: number
  /** The bound the model gives for the last relay, ms (see `modelBoundMs`). */
  boundMs: number
}

/** Where the origin's other traffic goes (`originBusyMs`): a node outside the tree. */
const OTHER_TRAFFIC = 'other-traffic'
/** Time between warm-up segments. */
const WARMUP_SPACING_MS = 300

/** A seeded PRNG (mulberry32): the same run from the same seed. */
function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `length` bytes from `rand`: the same peer ids and segments (so the same trees) from the same seed. */
function seeded (length: number, rand: () => number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4))
  for (let i = 0; i < words.length; i++) words[i] = Math.floor(rand() * 0x100000000)
  return new Uint8Array(words.buffer, 0, length)
}

const between = ([min, max]: [number, number], unit: number): number => min + (max - min) * unit

/**
 * What the model allows for the last relay of a segment: the announcement's latest arrival, then per
 * level of the tree one hop (offer, answer and block over the slowest link, behind two siblings and
 * one adopted grandchild in the sender's uplink), plus one recovery for a parent that died mid-hop
 * (noticed, then the block pulled from the next live ancestor).
 */
export function modelBoundMs (options: SimulationOptions): number {
  const transfer = options.segmentBytes * 8 / 1e6 / Math.min(options.uploadMbps, options.downloadMbps) * 1000
  const hop = 3 * options.delayMs[1] + (RELAY_PUSH_FANOUT + 1) * transfer
  const recovery = options.detectMs[1] + PARENT_CHECK_MS + 2 * options.delayMs[1] + transfer
  return options.gossipMs[1] + pushDepth(options.relays - 1) * hop + recovery
}

export async function simulatePush (options: SimulationOptions): Promise<SimulationResult> {
  const cpuStart = process.cpuUsage()
  const rand = random(options.seed)
  const ids: string[] = []
  for (let i = 0; i <= options.relays; i++) ids.push(peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', seeded(32, rand))).toString())
  const [origin, ...relays] = ids as [string, ...string[]]
  const unit = (a: string, b: string): number => pairHash(a, b) / 0xffffffff
  const slow = new Set(relays.slice(0, options.slowRelays))
  const links = new LinkScheduler({
    delayMs: (a, b) => between(options.delayMs, unit(a, b)),
    uploadBytesPerSecond: node => (node === origin ? options.originUploadMbps ?? options.uploadMbps : slow.has(node) ? options.slowUploadMbps : options.uploadMbps) * 1e6 / 8,
    downloadBytesPerSecond: () => options.downloadMbps * 1e6 / 8,
    detectMs: (observer, dead) => between(options.detectMs, unit(observer + 'detect', dead))
  })
  const net = new SimulatedNetwork(links, origin)
  const originAddress = simAddress(origin)
  const log = logger('push-simulation', { level: 'warn' })
  const fetchers = new Map<string, { fetch: BlockFetcher, stop: AbortController }>()
  // The directory: the relays whose last record said they are leaves. Each relay publishes every
  // DIRECTORY_INTERVAL_MS, at its own moment; records reach every relay at once.
  const leaves = new Set<string>()
  let maxLeaves = 0
  const publishing: NodeJS.Timeout[] = []
  for (const self of relays) {
    const others = (): string[] => relays.filter(r => r !== self && links.connected(self, r))
    const network = net.relay(self, others)
    const publish = (): void => {
      if (pushes.leaf()) leaves.add(self)
      else leaves.delete(self)
      maxLeaves = Math.max(maxLeaves, leaves.size)
    }
    const tree = (): TreeSize => ({ relays: relays.length, leaves: [...leaves].filter(relay => relay !== self).length })
    const pushes = new SegmentPushes(network, { fanout: 2, onLeaf: publish, tree, log })
    await pushes.start()
    publishing.push(setTimeout(() => { publishing.push(setInterval(publish, DIRECTORY_INTERVAL_MS)) }, rand() * DIRECTORY_INTERVAL_MS))
    // As relay.ts builds them: every relay on the origin with a live directory record is in the tree
    // (all of them here: a killed one's record outlives the run), providers are the connected ones.
    const fetch = createBlockFetcher(network, () => ({
      providers: others().map(simAddress),
      originLinked: relays,
      leaves: pushes.leaf() ? new Set([...leaves, self]) : leaves,
      origins: links.connected(self, origin) ? [originAddress] : [],
      originIds: links.connected(self, origin) ? [origin] : []
    }), pushes)
    fetchers.set(self, { fetch, stop: new AbortController() })
  }
  const pusher = new SegmentPusher(net.originNetwork(() => relays.filter(r => links.connected(origin, r))), { fanout: 1, log: log.debug })

  const killed: string[] = []
  const published: Array<{ cid: CID, at: number }> = []
  const fetches: Array<Promise<unknown>> = []
  const warmup = options.warmupSegments ?? 0
  let originSentBefore = 0
  for (let seq = 0; seq < warmup + options.segments; seq++) {
    if (seq === warmup) originSentBefore = net.count(origin).sentBytes
    const bytes = seeded(options.segmentBytes, rand)
    const cid = await rawCid(bytes)
    const at = Date.now()
    net.publish(cid, bytes)
    published.push({ cid, at })
    if ((options.originBusyMs ?? 0) > 0 && seq >= warmup) void links.send(origin, OTHER_TRAFFIC, options.originBusyMs! / 1000 * links.model.uploadBytesPerSecond(origin)).catch(() => {})
    pusher.offer(cid, bytes)
    for (const [relay, { fetch, stop }] of fetchers) {
      const gossip = between(options.gossipMs, rand())
      fetches.push(new Promise(resolve => setTimeout(resolve, gossip)).then(async () => {
        if (!links.alive(relay)) return
        await fetch(cid, AbortSignal.any([stop.signal, AbortSignal.timeout(10_000)]))
      }).catch(() => {}))
    }
    if (seq === options.killAfterSegment && options.kills > 0) {
      setTimeout(() => {
        const alive = relays.filter(r => links.alive(r))
        for (let k = 0; k < options.kills; k++) {
          const victim = alive.splice(Math.floor(rand() * alive.length), 1)[0]!
          killed.push(victim)
          links.kill(victim)
          fetchers.get(victim)?.stop.abort()
        }
      }, options.killDelayMs)
    }
    await new Promise(resolve => setTimeout(resolve, Math.max(0, at + (seq < warmup ? WARMUP_SPACING_MS : options.segmentMs) - Date.now())))
  }
  await Promise.all(fetches)
  for (const timer of publishing) clearTimeout(timer)

  const live = relays.filter(r => links.alive(r))
  const segments: SegmentReport[] = published.map(({ cid, at }, seq) => {
    const held = net.holdings.get(cid.toString()) ?? new Map()
    const holdings = live.map(r => held.get(r)).filter(h => h !== undefined)
    return {
      seq,
      maxHops: Math.max(...holdings.map(h => h.hops)),
      meanHops: holdings.reduce((n, h) => n + h.hops, 0) / Math.max(1, holdings.length),
      lastRelayMs: holdings.length === live.length ? Math.max(...holdings.map(h => h.at - at)) : undefined,
      holders: holdings.length,
      live: live.length
    }
  })
  const complete = segments.flatMap(s => s.lastRelayMs === undefined ? [] : [s.lastRelayMs])
  const receivedPerHeld = live.map(r => {
    const held = published.filter(({ cid }) => net.holds(r, cid)).length * options.segmentBytes
    return net.count(r).receivedBytes / Math.max(1, held)
  })
  const cpu = process.cpuUsage(cpuStart)
  return {
    options,
    killed,
    slow: [...slow],
    slowLeaves: [...slow].filter(r => leaves.has(r)).length,
    maxLeaves,
    segments,
    lastRelayMs: summarize(complete.length === 0 ? [Infinity] : complete),
    receivedPerHeld: summarize(receivedPerHeld),
    originUploadPerStreamByte: (net.count(origin).sentBytes - originSentBefore) / (options.segments * options.segmentBytes),
    wants: live.reduce((n, r) => n + net.count(r).wants, 0),
    peersPerWant: live.reduce((n, r) => n + net.count(r).wantedPeers, 0) / Math.max(1, live.reduce((n, r) => n + net.count(r).wants, 0)),
    missing: segments.reduce((n, s) => n + s.live - s.holders, 0),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    boundMs: modelBoundMs(options)
  }
}
