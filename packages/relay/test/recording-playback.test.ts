/**
 * Recording playback end to end: a real origin (ffmpeg test pattern) records its live session, a relay
 * with --archive pins the recording, and a stock HLS client (ffmpeg) plays
 * /hls/recordings/<cid>/master.m3u8 from start to end, whole and cut to a range by from/to; and the
 * AV1 rendition's recording (fMP4 with its init section) plays to the end too.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import { startDevnet } from '@hivecast/devnet'
import type { Devnet } from '@hivecast/devnet'
import { waitFor } from './origin-fixture.ts'

const run = promisify(execFile)
let net: Devnet | undefined

after(async () => { await net?.stop() })

interface Listed { envelope: { payload: string }, archive: string }
interface Recording { cid: string, duration: number, segments: number }

/** The first recording the devnet's relay has pinned with at least `segments` segments. */
async function pinnedRecording (devnet: Devnet, segments: number): Promise<Recording> {
  const relay = devnet.relays[0]!.url
  return await waitFor(`a pinned recording of ${segments} or more segments`, async () => {
    const res = await fetch(`${relay}/rooms/${devnet.room}/recordings.json`)
    if (res.status !== 200) return undefined
    const { recordings } = await res.json() as { recordings: Listed[] }
    return recordings.filter(r => r.archive === 'pinned').map(r => JSON.parse(r.envelope.payload) as Recording).find(r => r.segments >= segments)
  }, 60_000)
}

/** Plays `url` to the end with ffmpeg; returns the media time it reached, in seconds. */
async function play (url: string): Promise<number> {
  const { stderr } = await run('/usr/bin/ffmpeg', ['-hide_banner', '-nostdin', '-i', url, '-c', 'copy', '-f', 'null', '-'], { timeout: 60_000 })
  assert.doesNotMatch(stderr, /Invalid data|Error|allowed_segment_extensions/, stderr)
  const time = /time=(\d+):(\d+):([\d.]+)/.exec(stderr.split('\r').findLast(l => l.includes('time=')) ?? '')
  assert.ok(time !== null, `ffmpeg printed no progress: ${stderr}`)
  return Number(time[1]) * 3600 + Number(time[2]) * 60 + Number(time[3])
}

test('a pinned recording of a real origin\'s session plays start to end with ffmpeg, whole and cut by from/to', async () => {
  net = await startDevnet({ relays: 1, renditions: '360p', archive: true, recordingInterval: 6, log: null })
  const relay = net.relays[0]!.url
  // An interim recording with a few seconds in it, pinned by the relay.
  const announcement = await pinnedRecording(net, 4)

  const master = `${relay}/hls/recordings/${announcement.cid}/master.m3u8`
  const whole = await play(master)
  assert.ok(Math.abs(whole - announcement.duration) <= 1, `ffmpeg played ${whole} s of a ${announcement.duration} s recording`)

  // The cut: from the start of the second segment to the start of the fourth.
  const media = await (await fetch(`${relay}/hls/recordings/${announcement.cid}/360p.m3u8`)).text()
  const times = [...media.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/g)].map(m => Date.parse(m[1]!))
  const durations = [...media.matchAll(/#EXTINF:([\d.]+),/g)].map(m => Number(m[1]))
  assert.equal(times.length, announcement.segments)
  const range = `from=${times[1]}&to=${times[3]}`
  const cutMedia = await (await fetch(`${relay}/hls/recordings/${announcement.cid}/360p.m3u8?${range}`)).text()
  assert.equal(cutMedia.split('\n').filter(l => l.startsWith('/ipfs/')).length, 2, cutMedia)
  const cut = await play(`${master}?${range}`)
  const expected = durations[1]! + durations[2]!
  assert.ok(Math.abs(cut - expected) <= 0.5, `ffmpeg played ${cut} s of a ${expected} s cut`)
  process.stdout.write(`# recording of ${announcement.duration} s (${announcement.segments} segments): ffmpeg played ${whole} s; a ${expected.toFixed(2)} s cut played ${cut} s\n`)
})

test('the AV1 rendition of a pinned recording plays to the end with ffmpeg, init section and all', async () => {
  await net?.stop()
  net = await startDevnet({ relays: 1, renditions: '240p,av1-360p', archive: true, recordingInterval: 6, log: null })
  const relay = net.relays[0]!.url
  const announcement = await pinnedRecording(net, 4)
  const media = await (await fetch(`${relay}/hls/recordings/${announcement.cid}/av1-360p.m3u8`)).text()
  assert.match(media, /^#EXTM3U\n#EXT-X-VERSION:6\n/)
  assert.match(media, /#EXT-X-MAP:URI="\/ipfs\/[a-z0-9]+\?filename=init\.mp4"\n/)
  const durations = [...media.matchAll(/#EXTINF:([\d.]+),/g)].map(m => Number(m[1]))
  assert.ok(durations.length >= 4, media)
  const played = await play(`${relay}/hls/recordings/${announcement.cid}/av1-360p.m3u8`)
  const expected = durations.reduce((a, b) => a + b, 0)
  assert.ok(Math.abs(played - expected) <= 1, `ffmpeg played ${played} s of a ${expected} s AV1 recording`)
  const probe = await run('/usr/bin/ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width', '-of', 'csv=p=0', `${relay}/hls/recordings/${announcement.cid}/av1-360p.m3u8`], { timeout: 30_000 })
  // ffprobe lists an HLS input's streams once per program and once more on their own.
  assert.deepEqual([...new Set(probe.stdout.split('\n').filter(line => line !== ''))], ['av1,640'])
})
