/**
 * The segment push at scale, by simulation (issue 14): 50 relays running the real SegmentPushes,
 * block fetcher and origin SegmentPusher on a modelled network (bench/src/push-simulation's
 * LinkScheduler: per-link delay 5-40 ms, 100 Mbit/s each way, a killed relay noticed within 0-200 ms),
 * two relays killed while a segment is on its way down the tree. The timings are real time on a
 * shared machine; the bench's 200-relay run reports the numbers.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_SIMULATION, simulatePush } from '../../../bench/src/push-simulation/push-simulation.ts'

/** What one process running 50 relays' timers on a busy 2-core machine may add to the model's bound. */
const MACHINE_SLACK_MS = 500

test('50 relays, 2 killed mid-run: every live relay holds every segment in time, from the nearest live ancestor, without duplicates', async () => {
  const result = await simulatePush({ ...DEFAULT_SIMULATION, relays: 50, segments: 8, kills: 2 })
  const summary = JSON.stringify({ ...result, options: undefined })
  assert.equal(result.killed.length, 2, summary)
  assert.equal(result.missing, 0, `every live relay holds every segment: ${summary}`)
  assert.ok(result.lastRelayMs.p99 <= result.boundMs + MACHINE_SLACK_MS, `the last relay holds a segment within the model's ${Math.round(result.boundMs)} ms (+${MACHINE_SLACK_MS}): ${summary}`)
  assert.ok(result.receivedPerHeld.max <= 1.25, `no relay receives more than 1.25x the bytes it holds: ${summary}`)
  assert.ok(result.originUploadPerStreamByte <= 1.15, `the origin sends each segment about once: ${summary}`)
  // Routed around, not fallen back: a want goes to one live ancestor, never to every relay.
  assert.ok(result.peersPerWant <= 1, `no want broadcast to every relay: ${summary}`)
  assert.ok(result.segments.every(s => s.maxHops <= 6), `the tree stays 6 links deep: ${summary}`)
})

test('the origin\'s uplink is busy before each offer: the first hop waits for the offer instead of asking the origin again', async () => {
  // Modelled fault: 2.5 s of other traffic ahead of each offer on the origin's uplink, longer than a
  // relay ever waits for a relay parent's offer (the lab's capped origin sent 2.7 copies so). First a
  // quick warm-up, in which each relay is a first hop at least once (the same CIDs from the same seed):
  // a relay learns from the origin's own offers that it pushes.
  const result = await simulatePush({ ...DEFAULT_SIMULATION, relays: 6, segments: 6, segmentMs: 3000, kills: 0, originBusyMs: 2500, warmupSegments: 20 })
  const summary = JSON.stringify({ ...result, options: undefined, segments: undefined })
  assert.equal(result.missing, 0, `every relay holds every segment: ${summary}`)
  assert.ok(result.originUploadPerStreamByte <= 1.05, `the origin sends each segment once: ${summary}`)
})

test('every relay\'s pushes are slow (a starved machine, or a network of thin uplinks): at most a third of them become leaves, and the tree still carries every segment', async t => {
  // 12 relays on 8 Mbit/s uplinks: a 256 KB push to each of two children at once takes ~530 ms and
  // more, over the 512 ms that makes a push slow, so every relay finds itself slow; the uplinks still
  // carry the tree (2 x 2 Mbit/s). Were each to become a leaf (as before the limit: 12 of 12), no relay
  // would pass segments on and every relay would fetch from the origin (1.44 copies, last relay p50 3.4 s).
  // 2 s segments: with 1 s ones the run collapsed now and then with or without this stop's changes (1 of
  // 3 runs of the code before them, up to 6.3 copies and 62 segment-relays missing); 5 of 5 held with 2 s.
  const relays = 12
  const result = await simulatePush({ ...DEFAULT_SIMULATION, relays, segments: 16, segmentMs: 2000, kills: 0, slowRelays: relays, slowUploadMbps: 8 })
  const summary = JSON.stringify({ ...result, options: undefined, segments: undefined, slow: undefined })
  t.diagnostic(`leaves at most ${result.maxLeaves} of ${relays}; origin ${result.originUploadPerStreamByte.toFixed(2)} copies; last relay p50 ${result.lastRelayMs.p50} ms, p99 ${result.lastRelayMs.p99} ms`)
  assert.ok(result.maxLeaves >= 1, `slow pushes made relays leaves: ${summary}`)
  assert.ok(result.maxLeaves <= relays / 3, `at most a third of the relays were leaves at once: ${summary}`)
  assert.equal(result.missing, 0, `every relay holds every segment: ${summary}`)
  // Measured 1.25-1.31 with the limit and 2 s segments (last relay p50 1.7 s); with 1 s segments 1.06-1.25 with it, 1.44 without.
  assert.ok(result.originUploadPerStreamByte <= 1.35, `the tree, not the origin, carries the segments: ${summary}`)
})
