/**
 * The slate with a real ffmpeg sender: while a TCP input has no sender the origin publishes the slate
 * (a still image) and says "waiting for signal"; when the sender connects the input's segments take
 * over, and when it drops the slate comes back. Each join is a discontinuity; sequence numbers rise
 * throughout.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { eventually, freeTcpPort } from '@hivecast/devnet'
import type { ChildProcess } from 'node:child_process'
import { startOrigin } from '../src/index.ts'
import type { OriginStatus } from '../src/index.ts'
import { listenToRoom, scratch } from './room-listener.ts'

const ROOM = 'slate-test'

test('no sender: the slate is published while the status says waiting for signal; the input takes over and gives way again', async t => {
  let sender: ChildProcess | undefined
  let sending = true
  const space = await scratch(t, 'slate', () => {
    sending = false
    sender?.kill('SIGKILL')
  })
  const { dir, logs, running } = space
  const slate = join(dir, 'be-right-back.png')
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=navy:s=640x360', '-frames:v', '1', slate])
  const port = await freeTcpPort()
  const origin = await startOrigin({
    room: ROOM,
    dataDir: join(dir, 'origin'),
    http: '127.0.0.1:0',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    renditions: ['240p'],
    input: { kind: 'tcp', listen: `127.0.0.1:${port}` },
    slate,
    thumbnailInterval: 0,
    log: line => logs.push(line)
  })
  running.add(origin)
  const { segments: announced } = await listenToRoom(origin, ROOM, space)
  const status = async (): Promise<OriginStatus> => await (await fetch(new URL('status', origin.url))).json() as OriginStatus
  /** Whether the segment announced as `seq` was the slate's, from the origin's own record. */
  const slateSeqs = new Map<number, boolean>()
  const remember = async (): Promise<OriginStatus> => {
    const s = await status()
    for (const r of s.recent) slateSeqs.set(r.seq, r.slate)
    return s
  }

  // 1. Nobody sends: slate segments go out, and the input says it is waiting.
  const showing = await eventually('slate segments', async () => {
    const s = await remember()
    return s.recent.filter(r => r.slate).length >= 2 ? s : undefined
  }, 40_000)
  assert.equal(showing.input.state, 'waiting for signal')
  assert.equal(showing.input.slate, true)
  assert.equal(showing.input.up, false)
  assert.ok(logs.some(l => /showing the slate .*be-right-back\.png \(waiting for signal\)/.test(l)))
  const health = await fetch(new URL('healthz', origin.url))
  assert.equal(health.status, 503)
  assert.match(await health.text(), /^showing the slate: waiting for signal from MPEG-TS over TCP listening on 127\.0\.0\.1:\d+\n$/)

  // 2. A sender connects: its segments replace the slate, the first of them a discontinuity.
  const startSender = (): void => {
    sender = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30',
      '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', `tcp://127.0.0.1:${port}`], { stdio: 'ignore' })
    // The origin's ffmpeg may be between runs: try again until the test says stop.
    sender.on('exit', () => { if (sending) setTimeout(startSender, 500) })
  }
  startSender()
  const live = await eventually('input segments', async () => {
    const s = await remember()
    return s.input.state === 'receiving' && s.recent.at(-1)?.slate === false ? s : undefined
  }, 40_000)
  assert.equal(live.input.slate, false, 'the slate is off while the input arrives')
  assert.ok(logs.some(l => l === 'input is back: slate off'))

  // 3. The sender goes away: after the silence the slate is back, again after a discontinuity.
  sending = false
  sender?.kill('SIGKILL')
  const lastLive = Math.max(...live.recent.map(r => r.seq))
  await eventually('the slate again', async () => {
    const s = await remember()
    return s.input.slate && s.recent.some(r => r.slate && r.seq > lastLive) ? true : undefined
  }, 40_000)
  assert.equal((await status()).input.state, 'waiting for signal')

  // What went out, in order: slate, input, slate, with a discontinuity at each join. Sequence numbers rise throughout.
  await eventually('the last announcements to arrive', () => announced.some(a => slateSeqs.get(a.seq) === true && a.seq > lastLive) ? true : undefined, 5000)
  const seqs = announced.map(a => a.seq)
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'sequence numbers rise')
  assert.equal(new Set(seqs).size, seqs.length)
  const kinds = announced.filter(a => slateSeqs.has(a.seq)).map(a => ({ seq: a.seq, slate: slateSeqs.get(a.seq)!, discontinuity: a.discontinuity }))
  const joins = kinds.filter((k, i) => i > 0 && k.slate !== kinds[i - 1]!.slate)
  assert.equal(joins.length, 2, `slate -> input -> slate: ${JSON.stringify(kinds)}`)
  for (const join of joins) assert.equal(join.discontinuity, true, `the join at seq ${join.seq} is a discontinuity`)
  space.passed()
})
