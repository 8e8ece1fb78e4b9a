/**
 * Attacks on the origin's RTMP stream-key gate (audit issue 11, findings 1 and 2), against a real
 * origin with real ffmpeg: a publisher that splits its commands with Set Chunk Size 8, and an
 * attacker that opens idle connections to lock the real publisher out.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { connect } from 'node:net'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { eventually, freeTcpPort } from '@hivecast/devnet'
import { startOrigin } from '@hivecast/origin'
import type { Origin, OriginStatus } from '@hivecast/origin'
import { publishRtmp } from './rtmp-publisher.ts'

const KEY = 'room-key-0123456789'
const INPUTS = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30',
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000']
const CODECS = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k']

interface Harness { origin: Origin, logs: string[], port: number, dir: string }

async function harness (t: TestContext): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-rtmp-attack-'))
  const port = await freeTcpPort()
  const logs: string[] = []
  const origin = await startOrigin({ room: 'rtmp-attack', dataDir: join(dir, 'origin'), http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p'], input: { kind: 'rtmp', listen: `127.0.0.1:${port}`, key: KEY }, log: line => logs.push(line) })
  t.after(async () => {
    await origin.stop()
    await new Promise(resolve => setTimeout(resolve, 1200))
    await rm(dir, { recursive: true, force: true })
  })
  return { origin, logs, port, dir }
}

async function status (origin: Origin): Promise<OriginStatus> {
  return await (await fetch(new URL('status', origin.url))).json() as OriginStatus
}

/** A short clip as FLV, made by ffmpeg: what the attacker publishes. */
async function clip (dir: string): Promise<Buffer> {
  const file = join(dir, 'clip.flv')
  await promisify(execFile)('ffmpeg', [...INPUTS, '-t', '6', ...CODECS, '-f', 'flv', file])
  return await readFile(file)
}

test('a publisher that splits its commands with Set Chunk Size 8 cannot get a wrong key past the gate; with the right key it publishes', async t => {
  const h = await harness(t)
  const flv = await clip(h.dir)
  const wrong = await publishRtmp({ port: h.port, name: 'not-the-room-key-at-all', flv })
  assert.equal(wrong.published, false, 'the gate did not let a wrong key publish')
  // Give ffmpeg time to cut what it would have received.
  await new Promise(resolve => setTimeout(resolve, 6000))
  assert.equal((await status(h.origin)).segmentsPublished, 0, 'no segment from a wrong key')
  assert.ok(h.logs.some(l => /RTMP publisher 127\.0\.0\.1:\d+ refused: wrong stream key in releaseStream/.test(l)), `the refusal is logged:\n${h.logs.join('\n')}`)

  // The right key where the gate might look first, a wrong one in publish itself.
  const switched = await publishRtmp({ port: h.port, name: 'not-the-room-key-at-all', preparedName: KEY, flv })
  assert.equal(switched.published, false)
  assert.ok(h.logs.some(l => /refused: wrong stream key in publish/.test(l)), 'publish itself is checked')

  // Something that is not RTMP is refused too, and counted.
  const garbage = connect(h.port, '127.0.0.1')
  garbage.on('error', () => {})
  garbage.end('GET / HTTP/1.1\r\n\r\n')
  await eventually('the non-RTMP client refused', () => h.logs.some(l => /refused: not RTMP/.test(l)) ? true : undefined, 10_000)
  assert.match(await (await fetch(new URL('metrics', h.origin.url))).text(), /^hivecast_origin_rtmp_refused_total\{room="rtmp-attack"\} [2-9]$/m)

  assert.equal((await status(h.origin)).segmentsPublished, 0, 'still no segment before the right key')
  const right = await publishRtmp({ port: h.port, name: KEY, flv })
  assert.equal(right.published, true, `the right key publishes:\n${h.logs.slice(-10).join('\n')}`)
  await eventually('segments from the right key', async () => (await status(h.origin)).segmentsPublished >= 2 ? true : undefined, 30_000)
  assert.deepEqual(h.logs.filter(l => l.includes(KEY)), [], 'the key never appears in the log')
})

test('idle connections every 150 ms do not lock the real publisher out', async t => {
  const h = await harness(t)
  const idle: Socket[] = []
  const attackOver = new AbortController()
  // The attacker comes from another loopback address, so the per-address limit is the attacker's alone.
  const attack = (async () => {
    const end = Date.now() + 45_000
    while (!attackOver.signal.aborted && Date.now() < end && idle.length < 300) {
      const s = connect({ port: h.port, host: '127.0.0.1', localAddress: '127.0.0.2' })
      s.on('error', () => {})
      idle.push(s)
      await new Promise(resolve => setTimeout(resolve, 150))
    }
  })()
  let publisher: ChildProcess | undefined
  let attempts = 0
  const publish = (): void => {
    if (attackOver.signal.aborted || attempts >= 20) return
    attempts++
    publisher = spawn('ffmpeg', ['-re', ...INPUTS, '-t', '60', ...CODECS, '-f', 'flv', `rtmp://127.0.0.1:${h.port}/live/${KEY}`], { stdio: 'ignore' })
    publisher.once('exit', () => setTimeout(publish, 300))
  }
  t.after(async () => {
    attackOver.abort()
    publisher?.kill('SIGKILL')
    for (const s of idle) s.destroy()
    await attack
  })
  await new Promise(resolve => setTimeout(resolve, 1000))
  publish()
  await eventually('segments from the real publisher under attack', async () => (await status(h.origin)).segmentsPublished >= 3 ? true : undefined, 40_000)
    .catch((err: Error) => { throw new Error(`${err.message} after ${attempts} attempts\n${h.logs.slice(-15).join('\n')}`) })
  assert.ok(idle.length >= 10, 'the attacker was at work')
  assert.ok(h.logs.some(l => /RTMP publisher 127\.0\.0\.2:\d+ refused: too many connections/.test(l)), 'the attacker hit the per-address limit')
})
