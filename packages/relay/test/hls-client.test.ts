import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import { startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const run = promisify(execFile)
const ROOM = 'hls'
let dir: string | undefined
let relay: Relay | undefined
let origin: OriginFixture | undefined

after(async () => {
  await relay?.stop()
  await origin?.stop()
  await removeDir(dir)
})

test('a stock HLS client (ffmpeg) plays the relay\'s master playlist from start to ENDLIST', async () => {
  dir = await tempDir('hls')
  const segmentsDir = join(dir, 'segments')
  await run('mkdir', ['-p', segmentsDir])
  await run('/usr/bin/ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac',
    '-f', 'segment', '-segment_time', '1', '-segment_format', 'mpegts', join(segmentsDir, 'seg%d.ts')], { timeout: 30_000 })
  const files = (await readdir(segmentsDir)).sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]))
  assert.ok(files.length >= 3, `ffmpeg cut ${files.length} segments`)

  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  relay = await startRelay({ origins: [origin.address], rooms: [ROOM], dataDir: join(dir, 'relay'), http: { host: '127.0.0.1', port: 0 }, log: () => {} })
  await origin.waitForSubscriber(relay.peerId)
  for (const [seq, file] of files.entries()) {
    const bytes = new Uint8Array(await readFile(join(segmentsDir, file)))
    await origin.publishSegment(seq, bytes.length, { duration: 1, end: seq === files.length - 1 }, bytes)
  }
  const master = new URL(`/hls/${ROOM}/master.m3u8`, relay.url).toString()
  await waitFor('the ended playlist', async () => (await (await fetch(new URL(`/hls/${ROOM}/720p.m3u8`, relay!.url))).text()).includes('#EXT-X-ENDLIST'))

  const { stderr } = await run('/usr/bin/ffmpeg', ['-hide_banner', '-nostdin', '-i', master, '-c', 'copy', '-f', 'null', '-'], { timeout: 30_000 })
  assert.match(stderr, /Video: h264/)
  assert.doesNotMatch(stderr, /allowed_segment_extensions|Invalid data/)
  const frames = Number(/frame=\s*(\d+)/.exec(stderr.split('\r').findLast(l => l.includes('frame=')) ?? '')?.[1])
  assert.ok(frames >= 70, `ffmpeg read ${frames} frames of 75`)
})
