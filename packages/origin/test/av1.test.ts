/**
 * The optional AV1 rendition: SVT-AV1 into fMP4 segments beside an H.264 one, from a 25 fps file (so
 * SVT-AV1 keys on its keyint in seconds, and the frame rate is probed). Each AV1 segment is announced
 * with its init section's CID, the init section is a block of its own, and init + segment decode as
 * the AV1 the codec string names. Real ffmpeg, real libp2p.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import { verifyRawBlock } from '@hivecast/shared'
import { getBlock } from '@hivecast/shared/node'
import { eventually } from '@hivecast/devnet'
import { startOrigin } from '../src/index.ts'
import { av01FromInit } from '../src/segment-probe.ts'
import { listenToRoom, scratch } from './room-listener.ts'

const run = promisify(execFile)
const ROOM = 'av1-test'

test('probe helpers: the AV1 codec string from an init section\'s av1C box; junk gives undefined', () => {
  // av1C: marker+version 0x81, profile 0 / level 8 (4.0), main tier, 8 bits.
  const box = [0, 0, 0, 12, 0x61, 0x76, 0x31, 0x43, 0x81, 0x08, 0x0c, 0]
  assert.equal(av01FromInit(new Uint8Array([0, 0, 0, 0, ...box])), 'av01.0.08M.08')
  // Profile 1, level 13 (5.1), high tier, 10 bits.
  assert.equal(av01FromInit(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 12, 0x61, 0x76, 0x31, 0x43, 0x81, 0x2d, 0xc0, 0, 0])), 'av01.1.13H.10')
  assert.equal(av01FromInit(new Uint8Array(64)), undefined)
})

test('an AV1 rendition is announced as fMP4 segments, each naming its init section, which decodes with them', async t => {
  const space = await scratch(t, 'av1')
  const source = join(space.dir, 'source.ts')
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=300',
    '-t', '5', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', source])

  const origin = await startOrigin({
    room: ROOM,
    dataDir: join(space.dir, 'origin'),
    http: '127.0.0.1:0',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    renditions: ['av1-360p', '240p'],
    input: { kind: 'file', path: source },
    thumbnailInterval: 0,
    log: line => space.logs.push(line)
  })
  space.running.add(origin)
  const { peer, segments } = await listenToRoom(origin, ROOM, space)

  const av1 = await eventually('three AV1 segments', () => {
    const list = segments.filter(s => s.rendition.name === 'av1-360p')
    return list.length >= 3 ? list : undefined
  }, 60_000)
  const h264 = segments.filter(s => s.rendition.name === '240p')
  assert.ok(h264.length > 0 && h264.every(s => s.init === undefined), 'MPEG-TS segments name no init section')
  assert.ok(av1.every(s => s.init !== undefined), 'every AV1 segment names its init section')
  assert.equal(new Set(av1.map(s => s.init!.cid)).size, 1, 'one ffmpeg run, one init section')
  // keyint=1s at 25 fps: a keyframe every 26 frames.
  for (const s of av1.slice(0, -1)) assert.ok(Math.abs(s.duration - 1.04) < 0.05, `AV1 segment of ${s.duration} s`)

  const first = av1[0]!
  const init = await getBlock(peer, CID.parse(first.init!.cid), { signal: AbortSignal.timeout(5000) })
  assert.equal(await verifyRawBlock(first.init!.cid, init), true)
  assert.equal(init.length, first.init!.size)
  const segment = await getBlock(peer, CID.parse(first.cid), { signal: AbortSignal.timeout(5000) })
  assert.equal(await verifyRawBlock(first.cid, segment), true)
  const video = av01FromInit(init)
  assert.match(video ?? '', /^av01\.0\.\d\dM\.08$/)
  assert.deepEqual([first.rendition.codecs, first.rendition.width, first.rendition.height, first.rendition.frameRate], [`${video},mp4a.40.2`, 640, 360, 25],
    'announced with the level SVT-AV1 chose and the probed frame rate')

  // The init section and the segment together are a playable fMP4 file of AV1 and AAC.
  const probe = await new Promise<string>((resolve, reject) => {
    const child = execFile('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', '-i', 'pipe:0'], (err, stdout) => { if (err === null) resolve(stdout); else reject(err) })
    child.stdin!.end(Buffer.concat([init, segment]))
  })
  assert.deepEqual(probe.trim().split('\n'), ['av1,640,360', 'aac'])
  space.passed()
})
