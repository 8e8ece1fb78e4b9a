import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { MAX_RAW_BLOCK, roomTopic, verifyEnvelope, verifyRawBlock, verifyRoomMessage } from '@hivecast/shared'
import { createP2PNode, getBlock, loadOrCreateIdentity } from '@hivecast/shared/node'
import { eventually } from '@hivecast/devnet'
import type { SegmentAnnouncement } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import { startOrigin } from '../src/index.ts'
import type { Origin, OriginStatus } from '../src/index.ts'

const ROOM = 'origin-test'

async function getStatus (origin: Origin): Promise<OriginStatus> {
  const res = await fetch(new URL('status', origin.url))
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('access-control-allow-origin'), '*')
  return await res.json() as OriginStatus
}

function start (dataDir: string, logs: string[]): Promise<Origin> {
  return startOrigin({
    room: ROOM,
    dataDir,
    http: '127.0.0.1:0',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    renditions: ['240p'],
    log: line => logs.push(line)
  })
}

/** Subscribes a plain second node to the room topic and keeps every verified segment announcement. */
function listen (peer: P2PNode, key: string, into: SegmentAnnouncement[], rejected: string[]): void {
  peer.libp2p.services.pubsub.addEventListener('message', event => {
    if (event.detail.topic !== roomTopic(ROOM)) return
    void verifyRoomMessage(event.detail.data, [key]).then(result => {
      if (!result.ok) rejected.push(result.reason)
      else if (result.value.announcement.kind === 'segment') into.push(result.value.announcement)
    })
  })
  peer.libp2p.services.pubsub.subscribe(roomTopic(ROOM))
}

test('origin stores and announces finished segments, survives an ffmpeg crash and its own restart', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-origin-'))
  const originDir = join(dir, 'origin')
  const peerDir = join(dir, 'peer')
  const logs: string[] = []
  const running = new Set<{ stop: () => Promise<unknown> }>()
  let passed = false
  t.after(async () => {
    for (const thing of running) await thing.stop().catch(() => {})
    // libp2p still writes a peer store entry to the datastore about 1 s after stop() resolves.
    await new Promise(resolve => setTimeout(resolve, 1500))
    await rm(dir, { recursive: true, force: true })
    if (!passed) t.diagnostic(`origin log:\n${logs.join('\n')}`)
  })

  let origin = await start(originDir, logs)
  running.add(origin)
  assert.match(origin.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  assert.ok(origin.multiaddrs[0]?.endsWith(`/p2p/${origin.key}`), `multiaddr ${origin.multiaddrs[0]} ends in the key`)
  assert.ok(logs.includes('ffmpeg: /usr/bin/ffmpeg (from PATH)') || logs.some(l => /^ffmpeg: .+ \(from /.test(l)), 'says which ffmpeg runs')

  const peer = await createP2PNode({ identity: await loadOrCreateIdentity(peerDir), dataDir: peerDir, listen: ['/ip4/127.0.0.1/tcp/0'], peers: [origin.multiaddrs[0]!] })
  running.add(peer)
  const announcements: SegmentAnnouncement[] = []
  const rejected: string[] = []
  listen(peer, origin.key, announcements, rejected)

  // Run 1: segments appear in /status with rising seqs, from 0, each a block that hashes to its CID.
  const first = await eventually('5 published segments', async () => {
    const s = await getStatus(origin)
    return s.segmentsPublished >= 5 ? s : undefined
  }, 20_000)
  assert.equal(first.room, ROOM)
  assert.equal(first.key, origin.key)
  assert.deepEqual(first.renditions.map(r => [r.name, r.width, r.height, r.codecs, r.frameRate]), [['240p', 426, 240, 'avc1.640015,mp4a.40.2', 30]])
  assert.equal(first.ffmpeg.running, true)
  assert.deepEqual(first.recent.map(e => e.seq), first.recent.map((_, i) => i), 'seqs start at 0 and rise by one')
  for (const entry of first.recent) {
    assert.ok(entry.size > 1000 && entry.size <= MAX_RAW_BLOCK, `segment size ${entry.size}`)
    assert.ok(Math.abs(entry.duration - 1) < 0.05, `duration ${entry.duration}`)
    assert.ok(entry.finishedAt <= entry.publishedAt && entry.publishedAt - entry.finishedAt < 1000)
    assert.ok(Math.abs(entry.pdt - entry.finishedAt) < 5000, 'pdt is wall-clock time')
    const bytes = await getBlock(peer, CID.parse(entry.cid), { signal: AbortSignal.timeout(5000) })
    assert.equal(bytes.length, entry.size)
    assert.equal(await verifyRawBlock(entry.cid, bytes), true, `block ${entry.cid} hashes to its CID`)
    assert.equal(bytes[0], 0x47, 'an MPEG-TS segment')
  }
  // The announced codecs string is what the encoder really wrote: High profile (0x64), level 2.1 (0x15).
  const sample = join(dir, 'sample.ts')
  await writeFile(sample, await getBlock(peer, CID.parse(first.recent[1]!.cid), { signal: AbortSignal.timeout(5000) }))
  const probe = await promisify(execFile)('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=profile,level,width,height', '-of', 'json', sample])
  assert.deepEqual((JSON.parse(probe.stdout) as { streams: unknown[] }).streams[0], { profile: 'High', level: 21, width: 426, height: 240 })
  assert.equal(first.dropped.segments + first.dropped.playlistEntries + first.dropped.publishErrors, 0)

  const health = await fetch(new URL('healthz', origin.url))
  assert.equal(health.status, 200)
  assert.equal(await health.text(), 'ok\n')
  assert.equal((await fetch(new URL('nope', origin.url))).status, 404)
  assert.equal((await fetch(new URL('status', origin.url), { method: 'POST' })).status, 405)

  // Announcements reach the second node and verify with the room key.
  await eventually('3 announcements', () => announcements.length >= 3 ? true : undefined, 10_000)
  assert.deepEqual(rejected, [])
  const firstSeen = announcements[0]!
  assert.equal(firstSeen.room, ROOM)
  assert.equal(firstSeen.discontinuity, false, 'a fresh room starts without a discontinuity')
  assert.equal(firstSeen.cid, first.recent.find(e => e.seq === firstSeen.seq)?.cid, 'announced CID matches /status')
  const other = await loadOrCreateIdentity(join(dir, 'other'))
  const raw: Uint8Array[] = []
  peer.libp2p.services.pubsub.addEventListener('message', e => { raw.push(e.detail.data) })
  await eventually('a raw message', () => raw.length > 0 ? true : undefined, 5000)
  assert.equal((await verifyEnvelope(raw[0], [other.id])).ok, false, 'another key is refused')

  // ffmpeg dies: the origin restarts it, the sequence keeps rising, the next segment is a discontinuity.
  const pid = (await getStatus(origin)).ffmpeg.pid
  assert.ok(pid !== undefined)
  process.kill(pid, 'SIGKILL')
  const beforeCrash = Math.max(...announcements.map(a => a.seq))
  const afterCrash = await eventually('a segment from the restarted ffmpeg', () => announcements.find(a => a.discontinuity), 15_000)
  assert.ok(afterCrash.seq > beforeCrash, `seq ${afterCrash.seq} continues above ${beforeCrash}`)
  assert.equal((await getStatus(origin)).ffmpeg.restarts, 1)
  assert.ok(logs.some(l => /ffmpeg was stopped by SIGKILL; restarting in 1 s/.test(l)), 'logs why ffmpeg restarted')

  // A clean stop publishes the last finished segment, flagged as the end of the session.
  await origin.stop()
  running.delete(origin)
  const ended = await eventually('the end-of-session announcement', () => announcements.find(a => a.end), 5000)
  const oldMax = Math.max(...announcements.map(a => a.seq))
  assert.equal(ended.seq, oldMax, 'the end flag is on the last segment')
  const saved = JSON.parse(await readFile(join(originDir, 'state.json'), 'utf8')) as { renditions: Record<string, { nextSeq: number }> }
  assert.equal(saved.renditions['240p']?.nextSeq, oldMax + 1)

  // Origin restart on the same data dir: same key, seq continues, first new segment is a discontinuity.
  const key = origin.key
  origin = await start(originDir, logs)
  running.add(origin)
  assert.equal(origin.key, key, 'the room key survives a restart')
  await peer.libp2p.dial(multiaddr(origin.multiaddrs[0]!))
  const resumed = await eventually('a segment after the restart', () => announcements.find(a => a.seq > oldMax), 15_000)
  assert.equal(resumed.seq, oldMax + 1)
  assert.equal(resumed.discontinuity, true)
  assert.equal(resumed.end, false)
  const second = await getStatus(origin)
  assert.equal(second.recent[0]?.seq, oldMax + 1)
  assert.deepEqual(rejected, [])
  passed = true
})

test('a data dir with damaged sequence state, or another room\'s, is refused with what to do', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-origin-state-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'state.json'), '{"version":1,"room":"other-room","renditions":{}}')
  await assert.rejects(start(dir, []), /belongs to room "other-room", not "origin-test": give each room its own --data directory/)
  await writeFile(join(dir, 'state.json'), '{"version":1,"room":"origin-test","renditions":{"240p":{"nextSeq":-1}}}')
  await assert.rejects(start(dir, []), /state\.json is damaged \(bad nextSeq for 240p\)\. Sequence numbers must keep rising/)
})
