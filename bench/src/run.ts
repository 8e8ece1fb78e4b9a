/**
 * `npm run bench`: runs every benchmark in one go and writes `bench/results/latest.json` and
 * `bench/results/latest.md`. `--quick` runs a short version (CI uses it to prove the suite runs).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { measureBundleSizes, measureLazyChunk } from './bundle-size.ts'
import { measureCaptionDelay } from './caption-delay.ts'
import { measureGlassToGlass } from './glass-to-glass.ts'
import { measureLowLatencyViewers } from './low-latency-viewers.ts'
import { measureHttpThroughput } from './http-throughput.ts'
import { measureListingLag } from './listing-lag.ts'
import { measurePartLatency } from './part-latency.ts'
import { measureLadderSpeed } from './ladder-speed.ts'
import { measureOriginOffload } from './origin-offload.ts'
import { measurePeerShare } from './peer-share.ts'
import { measurePlayerStartup } from './player-startup.ts'
import { measurePublishLatency } from './publish-latency.ts'
import type { PublishLatencyResult } from './publish-latency.ts'
import { DEFAULT_SIMULATION, simulatePush } from './push-simulation/push-simulation.ts'
import { summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

/** Slow relays' uplink in the simulation: one 256 KB block a second once, not to two children. */
const SLOW_UPLINK_MBPS = 3
/** Segments published before slow relays have made themselves leaves and said so. */
const SLOW_SETTLE_SEGMENTS = 8

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } })
if (values.help) {
  console.log(`usage: npm run bench [-- --quick]

Runs the Hivecast benchmarks on this machine, one after the other in one run, and writes
bench/results/latest.json and bench/results/latest.md. Needs ffmpeg, Chromium (/usr/bin/chromium),
wrk and nginx (apt-get install ffmpeg chromium wrk nginx-light).
  --quick  a short run that proves the benchmarks work; its numbers are not meaningful`)
  process.exit(0)
}
const quick = values.quick

console.log('publish latency: origin + 2 relays, ladder 720p,360p…')
const publish = await measurePublishLatency({ segments: quick ? 5 : 30, relays: 2, renditions: '720p,360p' })
console.log(`segment push vs turn-taking: origin + ${quick ? 4 : 8} relays, ladder 720p,360p, each way…`)
const pushed = await measurePublishLatency({ segments: quick ? 5 : 30, relays: quick ? 4 : 8, renditions: '720p,360p', push: true, warmupSeconds: quick ? 5 : 20 })
const byTurns = await measurePublishLatency({ segments: quick ? 5 : 30, relays: quick ? 4 : 8, renditions: '720p,360p', push: false, warmupSeconds: quick ? 5 : 20 })
const simRelays = quick ? 20 : 200
const simSegments = quick ? 4 : 20
const simKills = quick ? 1 : 4
console.log(`push simulation: ${simRelays} relays in one process on a modelled network, then ${simKills} of them killed mid-run…`)
const simulated = await simulatePush({ ...DEFAULT_SIMULATION, relays: simRelays, segments: simSegments, kills: 0 })
const simulatedKills = await simulatePush({ ...DEFAULT_SIMULATION, relays: simRelays, segments: simSegments, kills: simKills })
const simSlow = quick ? 2 : 10
console.log(`push simulation: ${simRelays} relays, ${simSlow} of them with a ${SLOW_UPLINK_MBPS} Mbit/s uplink…`)
const simulatedSlow = await simulatePush({ ...DEFAULT_SIMULATION, relays: simRelays, segments: quick ? simSegments : SLOW_SETTLE_SEGMENTS + 12, kills: 0, slowRelays: simSlow, slowUploadMbps: SLOW_UPLINK_MBPS })
// Once the slow relays' leaf records are out; the quick run is too short to get there and reports every segment.
const slowSettled = summarize(simulatedSlow.segments.slice(quick ? 0 : SLOW_SETTLE_SEGMENTS).map(s => s.lastRelayMs ?? Infinity))
console.log('listing lag: 2 archiving relays, an interim recording every 5 s, a client polling their playlists…')
const listing = await measureListingLag({ relays: 2, seconds: quick ? 15 : 90, recordingInterval: 5 })
console.log('LL-HLS parts vs whole segments: origin cutting 0.333 s parts + 2 relays, a client on blocking reloads…')
const partLatency = await measurePartLatency({ relays: 2, seconds: quick ? 10 : 60, partDuration: 0.333 })
console.log('relay HTTP throughput vs nginx (wrk)…')
const http = await measureHttpThroughput({ segments: 10, connections: 50, seconds: quick ? 2 : 8, rounds: quick ? 1 : 3 })
console.log('glass-to-glass latency in Chromium…')
const glass = await measureGlassToGlass({ seconds: quick ? 5 : 60 })
console.log(`glass-to-glass with LL-HLS parts and ${quick ? 3 : 6} viewers sharing, lowest latency then smoothest…`)
const lowLatency = await measureLowLatencyViewers({ viewers: quick ? 3 : 6, seconds: quick ? 10 : 60 })
console.log(`origin offload: ${quick ? 3 : 8} relays, 8 Chromium viewers, sharing peer-to-peer and not…`)
const offload = await measureOriginOffload({ relays: quick ? 3 : 8, viewers: quick ? 2 : 8, seconds: quick ? 5 : 30 })
const offloadNoP2p = await measureOriginOffload({ relays: quick ? 3 : 8, viewers: quick ? 2 : 8, seconds: quick ? 5 : 30, p2p: 'off' })
console.log('ladder encoding speed from a 1080p30 source…')
const ladder = await measureLadderSpeed({ seconds: quick ? 3 : 20 })
console.log('the optional AV1 renditions alone, from the same source…')
const av1Ladders = [await measureLadderSpeed({ seconds: quick ? 3 : 20, renditions: ['av1-480p'] }), await measureLadderSpeed({ seconds: quick ? 3 : 10, renditions: ['av1-720p'] })]
console.log('player startup in Chromium…')
const startup = await measurePlayerStartup({ loads: quick ? 1 : 7 })
console.log('caption delay: the live captioner -> a Chromium viewer with captions on…')
const captionDelay = await measureCaptionDelay({ captions: quick ? 2 : 10 })
console.log('peer share: 1 relay, Chromium viewers sharing over WebRTC…')
const peerShare = await measurePeerShare({ viewers: quick ? 3 : 6, seconds: quick ? 10 : 40 })
const bundles = await measureBundleSizes()
const embedBundle = bundles.find(b => b.page === 'embed.html')
const p2pChunk = embedBundle === undefined ? undefined : await measureLazyChunk('peer-swarm', embedBundle)

const ms = (s: Summary): string => `${s.p50.toFixed(0)} | ${s.p99.toFixed(0)} | ${s.min.toFixed(0)}–${s.max.toFixed(0)} | ${s.n}`
/** A publish-latency row; one whose fetching could not keep up says how far it got. */
const reached = (r: PublishLatencyResult): string => r.endToEnd === null || r.segments < r.asked
  ? `did not keep up: ${r.segments} of ${r.asked} segments reached every relay within ${r.deadlineSeconds} s | – | – | ${r.segments}`
  : ms(r.endToEnd)
const num = (s: Summary): string => `${s.p50.toFixed(0)} | – | ${s.min.toFixed(0)}–${s.max.toFixed(0)} | ${s.n}`
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`
const table = [
  '| benchmark | median | p99 | range | samples |',
  '|---|---|---|---|---|',
  `| publish latency, ms: ffmpeg finished -> stored on every relay (${publish.relays} relays, ${publish.renditions}) | ${reached(publish)} |`,
  ...(publish.originPublish === null ? [] : [`| of which origin, ms: ffmpeg finished -> announced | ${ms(publish.originPublish)} |`]),
  `| segment push, ms: ffmpeg finished -> stored on every relay (${pushed.relays} relays, ${pushed.renditions}, after warm-up) | ${reached(pushed)} |`,
  `| the same, relays fetching by turns (--push-fanout 0) | ${reached(byTurns)} |`,
  `| origin upload / stream bytes over libp2p, segment push (${pushed.relays} relays, no viewers) | ${pushed.originUploadPerStreamByte.toFixed(2)} | – | – | 1 |`,
  `| the same, relays fetching by turns | ${byTurns.originUploadPerStreamByte.toFixed(2)} | – | – | 1 |`,
  `| push simulation, ms: published -> held by the last of ${simulated.options.relays} relays (real relay code, modelled links ${DEFAULT_SIMULATION.delayMs.join('-')} ms, ${DEFAULT_SIMULATION.uploadMbps} Mbit/s, ${DEFAULT_SIMULATION.segmentBytes / 1024} KB segments; model bound ${simulated.boundMs.toFixed(0)} ms) | ${ms(simulated.lastRelayMs)} |`,
  `| the same, ${simulatedKills.killed.length} relay${simulatedKills.killed.length === 1 ? '' : 's'} killed after segment ${DEFAULT_SIMULATION.killAfterSegment} (${simulatedKills.missing} segments missing on live relays) | ${ms(simulatedKills.lastRelayMs)} |`,
  `| the same, ${simulatedSlow.slow.length} relays with a ${SLOW_UPLINK_MBPS} Mbit/s uplink (${simulatedSlow.slowLeaves} became leaves), from segment ${quick ? 0 : SLOW_SETTLE_SEGMENTS}; bytes received / held worst ${simulatedSlow.receivedPerHeld.max.toFixed(2)}, origin ${simulatedSlow.originUploadPerStreamByte.toFixed(2)} per stream byte | ${ms(slowSettled)} |`,
  `| push simulation: bytes received / bytes held per relay (1 = no duplicates), no kills; with kills | ${simulated.receivedPerHeld.p50.toFixed(2)}, worst ${simulated.receivedPerHeld.max.toFixed(2)}; ${simulatedKills.receivedPerHeld.p50.toFixed(2)}, worst ${simulatedKills.receivedPerHeld.max.toFixed(2)} | – | – | ${simulated.receivedPerHeld.n} |`,
  `| push simulation: origin upload / stream bytes, no kills; with kills | ${simulated.originUploadPerStreamByte.toFixed(2)}; ${simulatedKills.originUploadPerStreamByte.toFixed(2)} | – | – | 1 |`,
  `| push simulation: links from the origin to the farthest relay; bitswap wants (fallbacks) with kills, peers per want | ${Math.max(...simulated.segments.map(s => s.maxHops))}; ${simulatedKills.wants}, ${simulatedKills.peersPerWant.toFixed(1)} | – | – | 1 |`,
  `| listing lag, ms: origin announced -> listed in a relay's playlist (${listing.relays} relays pinning an interim recording every ${listing.recordingInterval} s, ${listing.seconds} s) | ${ms(listing.lagMs)} |`,
  ...(listing.pinBlocks === undefined || listing.pinMs === undefined
    ? ['| interim recording pin | none finished in the run | – | – | 0 |']
    : [`| interim recording pin: blocks fetched per pin (only what is new) | ${num(listing.pinBlocks)} |`, `| interim recording pin, ms | ${ms(listing.pinMs)} |`]),
  `| LL-HLS part, ms: its last frame (program date time) -> listed on every relay (${partLatency.relays} relays, 360p, ${partLatency.partDuration} s parts, ${partLatency.seconds} s) | ${ms(partLatency.partMs)} |`,
  `| the same for whole 1 s segments, same run (origin's part share, ffmpeg's bytes read -> announced: ${partLatency.originPartMs === null ? 'none' : `p50 ${partLatency.originPartMs.p50} / p99 ${partLatency.originPartMs.p99} ms`}) | ${ms(partLatency.segmentMs)} |`,
  `| relay HTTP, requests/s (${http.segments} segments of ~${kb(http.meanSegmentBytes)}, ${http.connections} connections) | ${num(http.relay.requestsPerSecond)} |`,
  `| nginx HTTP, requests/s (same files, same wrk) | ${num(http.nginx.requestsPerSecond)} |`,
  `| relay / nginx throughput ratio | ${http.ratio.toFixed(2)} | – | – | ${http.rounds} |`,
  `| relay peak memory (VmHWM), MiB | ${http.relayPeakRssMiB.toFixed(0)} | – | – | 1 |`,
  `| glass-to-glass latency, ms: wall clock - program date time on screen (1 s segments, ${glass.seconds} s of playback) | ${ms(glass.latencyMs)} |`,
  ...lowLatency.modes.map(m => `| glass-to-glass, ms, latency mode "${m.mode}" (${m.mode === 'lowest' ? `LL-HLS, ${lowLatency.partSeconds} s parts` : 'whole 1 s segments'}; ${m.viewers} viewers sharing, 1 relay, ${m.seconds} s): peer share ${(m.peerShare * 100).toFixed(0)} %, stalls per viewer-minute ${m.stallsPerViewerMinute.toFixed(2)} | ${ms(m.latencyMs)} |`),
  `| origin offload: origin upload / bytes to viewers (${offload.relays} relays, ${offload.viewers} viewers, ${offload.seconds} s) | ${offload.uploadPerViewerByte.toFixed(3)} | – | – | 1 |`,
  `| origin upload / stream bytes (1 = each segment sent once) | ${offload.uploadPerStreamByte.toFixed(2)} | – | – | 1 |`,
  `| the same with the viewers' peer-to-peer off (watch.html?p2p=off): origin upload / bytes to viewers | ${offloadNoP2p.uploadPerViewerByte.toFixed(3)} | – | – | 1 |`,
  `| the same with peer-to-peer off: origin upload / stream bytes | ${offloadNoP2p.uploadPerStreamByte.toFixed(2)} | – | – | 1 |`,
  `| ladder ${ladder.renditions.join('+')} from 1080p30: speed vs real time | ${ladder.speed.toFixed(2)}x | – | – | 1 |`,
  `| ladder CPU, cores busy while encoding flat out | ${ladder.cores.toFixed(2)} | – | – | 1 |`,
  ...av1Ladders.map(l => `| ${l.renditions.join('+')} (SVT-AV1 preset 10) alone from 1080p30: speed vs real time, cores busy | ${l.speed.toFixed(2)}x, ${l.cores.toFixed(2)} cores | – | – | 1 |`),
  `| player startup, ms: navigation -> first frame (Chromium, warm relays) | ${ms(startup.firstFrame)} |`,
  `| caption delay, ms: POST /captions -> cue shown in Chromium (1 s segments; the picture under it ${captionDelay.pictureOffsetMs.p50.toFixed(0)} ms median, ${captionDelay.pictureOffsetMs.max.toFixed(0)} ms at most from the typing) | ${ms(captionDelay.delayMs)} |`,
  `| peer share: bytes from other viewers / all segment bytes (${peerShare.viewers} viewers, ${peerShare.connected} with a peer, 1 relay, ${peerShare.seconds} s; overall ${(peerShare.overall * 100).toFixed(0)} %), % | ${(peerShare.share.p50 * 100).toFixed(0)} | – | ${(peerShare.share.min * 100).toFixed(0)}–${(peerShare.share.max * 100).toFixed(0)} | ${peerShare.share.n} |`,
  ...(p2pChunk === undefined ? [] : [`| lazy P2P chunk (${p2pChunk.files.length} file${p2pChunk.files.length === 1 ? '' : 's'}, loaded after the player starts unless p2p="off"), gzip JS | ${kb(p2pChunk.jsGzip)} | – | – | 1 |`]),
  ...bundles.map(b => `| ${b.page} bundle, gzip: JS ${kb(b.jsGzip)}, CSS ${kb(b.cssGzip)} | ${kb(b.jsGzip + b.cssGzip)} | – | – | 1 |`)
].join('\n')

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`
const results = { date: new Date().toISOString(), machine, quick, publishLatency: publish, segmentPush: { pushed, byTurns }, pushSimulation: { simulated, simulatedKills, simulatedSlow }, listingLag: listing, partLatency, httpThroughput: http, glassToGlass: glass, lowLatencyViewers: lowLatency, originOffload: offload, originOffloadNoP2p: offloadNoP2p, ladderSpeed: ladder, av1LadderSpeed: av1Ladders, playerStartup: startup, captionDelay, peerShare, bundles, p2pChunk }
await mkdir(new URL('../results/', import.meta.url), { recursive: true })
await writeFile(new URL('../results/latest.json', import.meta.url), JSON.stringify(results, null, 2) + '\n')
await writeFile(new URL('../results/latest.md', import.meta.url), `# Hivecast benchmarks\n\n${results.date}, ${machine}${quick ? ', quick run (numbers not meaningful)' : ''}\n\n${table}\n`)
console.log(`\n${table}\n\nwritten to bench/results/latest.json and latest.md`)
