/**
 * Every input kind with a real ffmpeg sender on 127.0.0.1: the origin's ffmpeg receives it, and
 * segments are published. Senders are plain ffmpeg processes, restarted while the test runs, since
 * a listener may not be up yet when the sender first tries.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually, freeTcpPort, freeUdpPort } from '@hivecast/devnet'
import type { ChildProcess } from 'node:child_process'
import type { TestContext } from 'node:test'
import { startOrigin } from '../src/index.ts'
import type { Origin, OriginStatus, StreamInput } from '../src/index.ts'

const KEY = 'room-key-0123456789'
const PASSPHRASE = 'correct horse battery'.replaceAll(' ', '-')
/** A small live source: 320x240 at 30 fps with a tone, keyframe every second. */
const SOURCE = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30',
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '60',
  '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k']

/** An ffmpeg sender that is started again whenever it exits, until stopped. */
class Sender {
  #child: ChildProcess | undefined
  #stopped = false
  #exited: Promise<void> = Promise.resolve()
  exits = 0
  output = ''

  constructor (args: string[]) {
    const run = (): void => {
      if (this.#stopped) return
      const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] })
      this.#child = child
      child.stderr!.setEncoding('utf8').on('data', (s: string) => { this.output = (this.output + s).slice(-2000) })
      this.#exited = new Promise(resolve => child.once('exit', () => {
        this.exits++
        resolve()
        setTimeout(run, 300)
      }))
    }
    run()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    this.#child?.kill('SIGKILL')
    await this.#exited
  }
}

async function status (origin: Origin): Promise<OriginStatus> {
  return await (await fetch(new URL('status', origin.url))).json() as OriginStatus
}

interface Harness { origin: Origin, logs: string[], send: (args: string[]) => Sender }

async function harness (t: TestContext, input: StreamInput): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-input-'))
  const logs: string[] = []
  const senders: Sender[] = []
  // Assigned after the cleanup is registered, so the cleanup also runs when startOrigin throws.
  // eslint-disable-next-line prefer-const
  let origin: Origin | undefined
  t.after(async () => {
    for (const s of senders) await s.stop()
    await origin?.stop()
    // libp2p still writes a peer store entry to the datastore about 1 s after stop() resolves.
    await new Promise(resolve => setTimeout(resolve, 1200))
    await rm(dir, { recursive: true, force: true })
  })
  origin = await startOrigin({ room: 'input-test', dataDir: join(dir, 'origin'), http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p'], input, log: line => logs.push(line) })
  return {
    origin,
    logs,
    send: args => {
      const sender = new Sender(args)
      senders.push(sender)
      return sender
    }
  }
}

async function published (h: Harness, count: number, timeoutMs = 25_000): Promise<OriginStatus> {
  return await eventually(`${count} segments`, async () => {
    const s = await status(h.origin)
    return s.segmentsPublished >= count && s.input.state === 'receiving' ? s : undefined
  }, timeoutMs).catch((err: Error) => { throw new Error(`${err.message}\norigin log:\n${h.logs.slice(-20).join('\n')}`) })
}

test('MPEG-TS over TCP: waiting for signal, then segments, then waiting again when the sender drops', async t => {
  const port = await freeTcpPort()
  const h = await harness(t, { kind: 'tcp', listen: `127.0.0.1:${port}` })
  const idle = await status(h.origin)
  assert.equal(idle.input.state, 'waiting for signal')
  assert.equal(idle.input.kind, 'tcp')
  const sender = h.send([...SOURCE, '-f', 'mpegts', `tcp://127.0.0.1:${port}`])
  const live = await published(h, 3)
  assert.equal(live.input.up, true)
  const metrics = await (await fetch(new URL('metrics', h.origin.url))).text()
  assert.match(metrics, /^hivecast_origin_segments_published_total\{rendition="240p",room="input-test"\} [1-9]\d*$/m)
  assert.match(metrics, /^hivecast_origin_input_up\{room="input-test"\} 1$/m)
  assert.match(metrics, /^hivecast_origin_ffmpeg_up\{room="input-test"\} 1$/m)
  assert.match(metrics, /^hivecast_origin_publish_latency_seconds_count\{room="input-test",rendition="240p"\} [1-9]\d*$/m)
  // ffmpeg spends its first seconds probing a network input, then reports -progress every 0.5 s.
  await eventually('ingest fps in /metrics', async () => {
    const text = await (await fetch(new URL('metrics', h.origin.url))).text()
    return /^hivecast_origin_ingest_fps\{room="input-test"\} (?!0$)\d/m.test(text) ? true : undefined
  }, 10_000)
  assert.ok((await status(h.origin)).input.fps! > 0, 'fps in /status too')

  await sender.stop()
  const waiting = await eventually('ffmpeg listening again after the drop', async () => {
    const s = await status(h.origin)
    return s.ffmpeg.restarts >= 1 && s.ffmpeg.running ? s : undefined
  }, 15_000)
  assert.equal(waiting.input.state, 'waiting for signal')
  assert.equal(waiting.input.up, false)
  h.send([...SOURCE, '-f', 'mpegts', `tcp://127.0.0.1:${port}`])
  const back = await published(h, waiting.segmentsPublished + 2)
  assert.ok(back.ffmpeg.restarts >= 1, 'ffmpeg exited with the input and was restarted')
  assert.ok(back.recent.at(-1)!.seq > waiting.recent.at(-1)!.seq, 'sequence numbers keep rising')
})

test('MPEG-TS over UDP (unicast)', async t => {
  const port = await freeUdpPort()
  const h = await harness(t, { kind: 'udp', listen: `127.0.0.1:${port}` })
  h.send([...SOURCE, '-f', 'mpegts', `udp://127.0.0.1:${port}?pkt_size=1316`])
  await published(h, 3)
})

test('SRT listener with passphrase: a wrong passphrase is refused, the right one is received', async t => {
  const port = await freeUdpPort()
  const h = await harness(t, { kind: 'srt', mode: 'listener', address: `127.0.0.1:${port}`, passphrase: PASSPHRASE })
  const wrong = h.send([...SOURCE, '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=caller&passphrase=wrong-passphrase-42`])
  await eventually('two refused SRT callers', () => wrong.exits >= 2 ? true : undefined, 30_000)
  await wrong.stop()
  assert.equal((await status(h.origin)).segmentsPublished, 0, 'nothing from a caller with the wrong passphrase')
  h.send([...SOURCE, '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=caller&passphrase=${PASSPHRASE}`])
  await published(h, 3)
})

test('SRT caller: the origin pulls from an SRT listener', async t => {
  const port = await freeUdpPort()
  const h = await harness(t, { kind: 'srt', mode: 'caller', address: `127.0.0.1:${port}` })
  h.send([...SOURCE, '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=listener`])
  await published(h, 3)
})

test('RTMP push: a wrong stream key is refused and logged, the room key is received', async t => {
  const port = await freeTcpPort()
  const h = await harness(t, { kind: 'rtmp', listen: `127.0.0.1:${port}`, key: KEY })
  const wrong = h.send([...SOURCE, '-f', 'flv', `rtmp://127.0.0.1:${port}/live/not-the-key-at-all`])
  await eventually('two refused publishers', async () => (await status(h.origin)).input.refused >= 2 ? true : undefined, 30_000)
  await wrong.stop()
  assert.ok(h.logs.some(l => /RTMP publisher 127\.0\.0\.1:\d+ refused: wrong stream key in (releaseStream|FCPublish|publish)/.test(l)), `the refusal is logged:\n${h.logs.join('\n')}`)
  assert.equal((await status(h.origin)).segmentsPublished, 0, 'nothing from a publisher with the wrong key')
  assert.match(await (await fetch(new URL('metrics', h.origin.url))).text(), /^hivecast_origin_rtmp_refused_total\{room="input-test"\} [2-9]$/m)
  h.send([...SOURCE, '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${KEY}`])
  await published(h, 3)
  assert.ok(h.logs.some(l => /RTMP publisher 127\.0\.0\.1:\d+ accepted/.test(l)))
  assert.deepEqual(h.logs.filter(l => l.includes(KEY)), [], 'the stream key never appears in the log')
})

test('HTTP pull of a live .ts stream', async t => {
  const port = await freeTcpPort()
  const h = await harness(t, { kind: 'http', url: `http://127.0.0.1:${port}/live.ts` })
  // ffmpeg serves one HTTP client, then exits; the loop serves the origin's next attempt.
  h.send([...SOURCE, '-listen', '1', '-f', 'mpegts', `http://127.0.0.1:${port}/live.ts`])
  await published(h, 3)
})

test('a file, looped in real time', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-input-file-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'talk.mp4')
  const make = spawn('ffmpeg', [...SOURCE.filter(a => a !== '-re').map(a => a === '60' ? '2' : a), '-y', file], { stdio: 'ignore' })
  assert.equal(await new Promise(resolve => make.once('exit', resolve)), 0)
  const h = await harness(t, { kind: 'file', path: file })
  // Two seconds of file, looped: more than two segments means it came round again.
  const s = await published(h, 4)
  assert.match(s.input.description, /talk\.mp4 \(looped\)/)
  const metrics = await (await fetch(new URL('metrics', h.origin.url))).text()
  assert.match(metrics, /^hivecast_origin_ingest_fps\{room="input-test"\} (?!0$)\d/m, `fps read from -progress:\n${metrics}`)
  assert.match(metrics, /^hivecast_origin_ffmpeg_speed\{room="input-test"\} (?!0$)\d/m)
})
