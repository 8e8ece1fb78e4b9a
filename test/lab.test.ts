/**
 * The network lab's quick run (`npm run lab -- --quick`): 2 NATed homes (one symmetric) with 3 Chromium
 * viewers each on https pages named by lab hostnames, 4 relays (one slow), coturn, the origin's uplink
 * capped at 2.5x the ladder, homes at 20/5 Mbit/s. It asserts what the lab itself must get right: each
 * home's NAT behaves as built (probed), every viewer plays, and every figure is measured. Needs root
 * (network namespaces); skipped, saying so, without it.
 *
 * The first scenario asks for origin upload per stream byte <= 1.3, peer share >= 40 % and no
 * stall (12 viewers, 3 minutes); scaled for 6 viewers and 45 s that would be the same origin bound, a
 * lower peer share (a swarm of 3 per home reaches at most 1 - 1/3 of it) and no stall. Those goals are
 * printed beside the figures. What is asserted is looser, with room for the spread between runs on
 * this 2-core machine, but it fails on the saturated origin the lab found (docs/architecture.md, "The
 * loop, found"): before relays learnt to wait for late offers the origin sent 2.37-2.71 copies of the
 * stream and viewers shared 0-4.3 %; after it, 1.14-1.61 copies and 24.6-47 % in six runs, until a
 * CI run reached 2.69 again; since first hops wait for the origin's offer (docs/architecture.md, "The
 * same loop, once more"), 1.15-1.22 and 45-50 % in three. Stalls are printed, not asserted. After the
 * measured stretch the origin's uplink is squeezed to 1.2x for 15 s: relays may list gaps meanwhile, but
 * must fill every one in later, and the recording an archiving relay serves must hold every segment of
 * the squeeze. Then the link of the relay most viewers watch from is cut: every viewer must still receive
 * segments in the second half of the cut.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { RESULTS_DIR } from './src/devnet-fixture.ts'

const LAB = fileURLToPath(new URL('../lab/src/lab.ts', import.meta.url))

/** The first scenario, scaled for the quick run (see above). */
const SCENARIO = { originUploadPerStreamByte: 1.3, peerShare: 0.25, stalls: 0 }
/** What a run must reach: far from the saturated origin, with room for the spread between runs. */
const ASSERTED = { originUploadPerStreamByte: 1.8, peerShare: 0.15 }

interface LabResult {
  natViewers: number
  nat: Record<string, string>
  peerShare: number
  turnShare: number
  stalls: number
  originUploadPerStreamByte: number
  glassToGlassP50Ms: number
  originLagP50Ms: number
  turnOff: { stalls: number } | null
  squeeze: { gaps: number, filled: number, inStretch: number, open: number, behindAfter: number, stalls: number, recording: { cid: string, inStretch: number, missing: number, gaps: number } | null } | null
  linkCut: { relay: string, viewersOnIt: number, stalls: number, receiving: number } | null
}

test('the quick network lab: each home NATs as built, every NATed viewer plays over https by lab hostnames, and every figure is measured', { skip: process.getuid?.() !== 0 ? 'the network lab needs root' : false, timeout: 300_000 }, async () => {
  await mkdir(RESULTS_DIR, { recursive: true })
  const logFile = createWriteStream(`${RESULTS_DIR}lab.log`)
  const child = spawn(process.execPath, [LAB, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', line => {
      lines.push(line)
      logFile.write(`${line}\n`)
    })
  }
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  logFile.end()
  assert.equal(code, 0, `the lab exited with ${code}:\n${lines.slice(-30).join('\n')}`)
  const last = lines.findLast(line => line.startsWith('lab: {'))
  assert.ok(last !== undefined, `no result line:\n${lines.slice(-30).join('\n')}`)
  const result = JSON.parse(last.slice('lab: '.length)) as LabResult
  console.log(last)
  assert.deepEqual(result.nat, { 'home-1': 'endpoint-independent', 'home-2': 'symmetric' })
  assert.equal(result.natViewers, 6)
  for (const field of ['peerShare', 'turnShare', 'stalls', 'originUploadPerStreamByte', 'glassToGlassP50Ms'] as const) {
    assert.ok(Number.isFinite(result[field]) && result[field] >= 0, `${field} measured: ${result[field]}`)
  }
  // The origin's lag is the announcement minus the segment's end on the origin's own clock: only
  // ever slightly negative (program date time rounding), never missing.
  assert.ok(Number.isFinite(result.originLagP50Ms) && result.originLagP50Ms > -1000, `originLagP50Ms measured: ${result.originLagP50Ms}`)
  // Less than one copy of the stream cannot have left the origin if every viewer played.
  assert.ok(result.originUploadPerStreamByte >= 0.95, `origin upload per stream byte ${result.originUploadPerStreamByte}`)
  assert.ok(result.originUploadPerStreamByte <= ASSERTED.originUploadPerStreamByte, `the origin sent ${result.originUploadPerStreamByte.toFixed(2)} copies of the stream (at most ${ASSERTED.originUploadPerStreamByte}): see the counters in ${RESULTS_DIR}lab.log`)
  assert.ok(result.peerShare >= ASSERTED.peerShare, `viewers got ${(result.peerShare * 100).toFixed(1)} % from each other (at least ${ASSERTED.peerShare * 100} %)`)
  assert.ok(result.turnOff !== null && Number.isInteger(result.turnOff.stalls), 'the TURN-off stretch was watched')
  const { squeeze, linkCut } = result
  assert.ok(squeeze !== null && [squeeze.gaps, squeeze.filled, squeeze.inStretch, squeeze.open, squeeze.behindAfter, squeeze.stalls].every(Number.isInteger), 'the squeeze was run and every relay\'s gaps counted')
  // Relays get every segment, maybe later: a gap of the squeeze is fetched again and filled in. Read
  // from each relay's window by program time: counters of gaps and fills cannot tell the squeeze's gaps
  // from older ones (a start-up gap filled during the squeeze read as 1 of 0).
  assert.ok(squeeze.inStretch > 0, 'the relays\' windows hold the squeeze\'s stretch')
  assert.equal(squeeze.open, 0, `${squeeze.open} of the squeeze's ${squeeze.inStretch} segment records over the relays were still gaps at the end (${squeeze.gaps} gaps listed since it began, ${squeeze.filled} filled)`)
  // Nothing of the squeeze is lost from the recording an archiving relay serves.
  assert.ok(squeeze.recording !== null && squeeze.recording.inStretch > 0, `the squeeze's stretch is in a recording: ${JSON.stringify(squeeze.recording)}`)
  assert.deepEqual([squeeze.recording.missing, squeeze.recording.gaps], [0, 0], `segments missing and gaps in the recording's squeeze: ${JSON.stringify(squeeze.recording)}`)
  assert.ok(linkCut !== null && Number.isInteger(linkCut.stalls), 'the link cut was watched')
  // Its viewers moved on: a player gives a relay 4 s per attempt, and the second half of the cut is longer.
  assert.equal(linkCut.receiving, result.natViewers, `every viewer still received segments after ${linkCut.relay}'s link was cut: ${last}`)
  console.log(`scenario 1, scaled for --quick: origin upload per stream byte ${result.originUploadPerStreamByte.toFixed(2)} (goal <= ${SCENARIO.originUploadPerStreamByte}), ` +
    `peer share ${(result.peerShare * 100).toFixed(1)} % (goal >= ${SCENARIO.peerShare * 100} %), stalls ${result.stalls} (goal ${SCENARIO.stalls}); ` +
    `glass-to-glass p50 ${result.glassToGlassP50Ms} ms, of which the origin's lag ${result.originLagP50Ms} ms; ` +
    `TURN off: ${result.turnOff.stalls} stalls (goal 0); origin squeezed: ${squeeze.gaps} gaps over the relays, ${squeeze.filled} filled later, ${squeeze.stalls} stalls, ${squeeze.recording.inStretch} segments of it in the recording, none missing; ` +
    `${linkCut.relay} cut with ${linkCut.viewersOnIt} viewers on it: ${linkCut.stalls} stalls (goal 0)`)
})
