/**
 * The network lab's quick run (`npm run lab -- --quick`): 2 NATed homes (one symmetric) with 3 Chromium
 * viewers each, 4 relays (one slow), the origin's uplink capped at 2.5x the ladder, homes at 20/5 Mbit/s.
 * It asserts the first scenario, scaled for a 60 s stretch with 6 viewers instead of 3 minutes
 * with 12 (see THRESHOLDS), and that with the TURN server stopped the viewers play on from relays without
 * a stall. Needs root (network namespaces); skipped, saying so, without it.
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

/**
 * The thresholds are for 12 viewers over 3 minutes: origin upload per stream byte <= 1.3, peer
 * share >= 40 %, no stall. The quick run keeps the origin bound and no stall; its peer share bound is
 * lower (25 %), because with 3 viewers per home a viewer has fewer peers that are ahead of it (the share
 * a swarm can reach is bounded by 1 - 1/N), and the stretch starts only 20 s after playback did.
 */
const THRESHOLDS = { originUploadPerStreamByte: 1.3, peerShare: 0.25, stalls: 0 }

interface LabResult {
  natViewers: number
  nat: Record<string, string>
  peerShare: number
  turnShare: number
  stalls: number
  originUploadPerStreamByte: number
  glassToGlassP50Ms: number
  turnOff: { stalls: number } | null
}

test('the quick network lab: NATed viewers share, the origin sends each byte about once, nobody stalls, and losing TURN stalls nobody', { skip: process.getuid?.() !== 0 ? 'the network lab needs root' : false, timeout: 300_000 }, async () => {
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
  assert.ok(result.originUploadPerStreamByte <= THRESHOLDS.originUploadPerStreamByte, `origin upload per stream byte ${result.originUploadPerStreamByte}`)
  assert.ok(result.peerShare >= THRESHOLDS.peerShare, `peer share ${result.peerShare}`)
  assert.ok(result.turnShare > 0, `nothing came through TURN (turn share ${result.turnShare}): the symmetric home shared with the other home only through TURN`)
  assert.equal(result.stalls, THRESHOLDS.stalls, `stalls: ${result.stalls}`)
  assert.equal(result.turnOff?.stalls, 0, `stalls after the TURN server stopped: ${result.turnOff?.stalls}`)
})
