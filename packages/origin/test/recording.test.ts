/**
 * Recordings end to end, with real processes: an origin (its CLI, so it can be SIGKILLed like a crash)
 * records a short 240p session, is killed and restarted mid-session, then stopped cleanly; an archiving
 * relay pins the final recording and ffmpeg plays it start to end from the relay by its directory CID.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeEnvelope, roomTopic, signAnnouncement, verifyRoomMessage } from '@hivecast/shared'
import type { RecordingAnnouncement, SignedEnvelope } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { startRelay } from '@hivecast/relay'
import { eventually, freeTcpPort, waitForGossipPeer } from '@hivecast/devnet'
import type { Relay } from '@hivecast/relay'

const ROOM = 'rec-test'
const NODE = process.execPath
const CLI = join(import.meta.dirname, '..', 'src', 'cli.ts')

interface ListedRecording {
  envelope: SignedEnvelope
  archive: string
}

/** The origin CLI as a child process; resolves with its status URL once it prints its ready lines. */
function startOriginProcess (dataDir: string, port: number, logs: string[]): Promise<{ child: ChildProcess, url: string, key: string }> {
  const child = spawn(NODE, [CLI, '--room', ROOM, '--data', dataDir, '--http', '127.0.0.1:0', '--listen', `/ip4/127.0.0.1/tcp/${port}`,
    '--renditions', '240p', '--recording-interval', '4'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stderr!.on('data', (chunk: Buffer) => { logs.push(chunk.toString()) })
  return new Promise((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`origin exited with ${code} before it was ready:\n${out}`)) })
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      logs.push(chunk.toString())
      const url = /^origin: (\S+)$/m.exec(out)?.[1]
      const key = /^room key: (\S+)$/m.exec(out)?.[1]
      if (url !== undefined && key !== undefined) resolve({ child, url, key })
    })
  })
}

async function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise(resolve => child.once('exit', resolve))
}

async function segmentsPublished (url: string): Promise<number> {
  const status = await (await fetch(new URL('status', url))).json() as { segmentsPublished: number }
  return status.segmentsPublished
}

async function listed (relay: Relay): Promise<Array<{ announcement: RecordingAnnouncement, archive: string }>> {
  const res = await fetch(new URL(`rooms/${ROOM}/recordings.json`, relay.url))
  assert.equal(res.status, 200)
  const body = await res.json() as { recordings: ListedRecording[] }
  const out = []
  for (const r of body.recordings) {
    const verified = await verifyRoomMessage(r.envelope, relay.status().rooms[ROOM]!.keys)
    assert.ok(verified.ok, 'recordings.json hands on envelopes that verify')
    assert.equal(verified.value.announcement.kind, 'recording')
    out.push({ announcement: verified.value.announcement as RecordingAnnouncement, archive: r.archive })
  }
  return out
}

test('a session is recorded across an origin crash; an archiving relay serves it and ffmpeg plays it to the end', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-recording-'))
  process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  const logs: string[] = []
  const children = new Set<ChildProcess>()
  const running = new Set<{ stop: () => Promise<unknown> }>()
  let passed = false
  t.after(async () => {
    for (const child of children) process.kill(-child.pid!, 'SIGKILL')
    for (const child of children) await exited(child)
    for (const thing of running) await thing.stop().catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 1000))
    await rm(dir, { recursive: true, force: true })
    if (!passed) t.diagnostic(`log:\n${logs.join('')}`)
  })
  const originDir = join(dir, 'origin')
  const port = await freeTcpPort()

  // Run 1 of the origin, followed by an archiving relay and a plain one.
  let origin = await startOriginProcess(originDir, port, logs)
  children.add(origin.child)
  const address = `/ip4/127.0.0.1/tcp/${port}/p2p/${origin.key}`
  const relayOptions = { origins: [address], rooms: [ROOM], http: { host: '127.0.0.1', port: 0 }, log: (line: string) => logs.push(`[relay] ${line}\n`) }
  const archiving = await startRelay({ ...relayOptions, dataDir: join(dir, 'relay-a'), archive: true })
  running.add(archiving)
  const plain = await startRelay({ ...relayOptions, dataDir: join(dir, 'relay-b') })
  running.add(plain)

  // An interim recording while live (every 4 s here).
  const interim = await eventually('an interim recording at the archiving relay', async () => (await listed(archiving)).find(r => !r.announcement.final), 30_000)
  assert.equal(interim.announcement.room, ROOM)

  // The origin crashes mid-session (its whole process group, ffmpeg too, as systemd kills a unit) and
  // comes back on the same data dir: the same session continues.
  const beforeCrash = await segmentsPublished(origin.url)
  process.kill(-origin.child.pid!, 'SIGKILL')
  await exited(origin.child)
  children.delete(origin.child)
  origin = await startOriginProcess(originDir, port, logs)
  children.add(origin.child)
  await eventually('4 segments after the restart', async () => await segmentsPublished(origin.url) >= 4 ? true : undefined, 30_000)
  const afterRestart = await segmentsPublished(origin.url)

  // A clean stop ends the session: the final recording holds what both runs announced.
  origin.child.kill('SIGTERM')
  await exited(origin.child)
  children.delete(origin.child)
  const final = await eventually('the final recording, pinned', async () => (await listed(archiving)).find(r => r.announcement.final && r.archive === 'pinned'), 30_000)
  const recording = final.announcement
  assert.equal(recording.session, interim.announcement.session, 'the restarted origin continued the session')
  assert.equal(recording.started, interim.announcement.started, 'the earliest segments are kept')
  assert.ok(recording.segments >= beforeCrash + afterRestart, `${recording.segments} segments recorded, ${beforeCrash} + ${afterRestart} announced`)
  assert.ok(recording.segments <= beforeCrash + afterRestart + 2, `${recording.segments} segments recorded, ${beforeCrash} + ${afterRestart} announced`)
  // 1 s segments; the last one, cut by the stop, may be shorter.
  assert.ok(recording.duration > recording.segments - 1 && recording.duration < recording.segments + 0.2, `${recording.duration} s for ${recording.segments} segments`)

  // The playlists: a VOD master and rendition playlist with relative URIs and the join marked.
  const base = new URL(`ipfs/${recording.cid}/`, archiving.url)
  const master = await fetch(new URL('index.m3u8', base))
  assert.equal(master.status, 200)
  assert.equal(master.headers.get('content-type'), 'application/vnd.apple.mpegurl')
  assert.match(await master.text(), /^240p\.m3u8$/m)
  const media = await (await fetch(new URL('240p.m3u8', base))).text()
  assert.match(media, /^#EXT-X-PLAYLIST-TYPE:VOD$/m)
  assert.match(media, /^#EXT-X-ENDLIST$/m)
  assert.match(media, /^#EXT-X-DISCONTINUITY$/m, 'the crash is a discontinuity')
  assert.match(media, /^#EXT-X-PROGRAM-DATE-TIME:/m)
  const uris = media.split('\n').filter(l => l !== '' && !l.startsWith('#'))
  assert.equal(uris.length, recording.segments)
  assert.ok(uris.every(u => /^240p\/\d+\.ts$/.test(u)), 'segment URIs are relative')
  const segment = await fetch(new URL(uris[0]!, base))
  assert.equal(segment.headers.get('content-type'), 'video/mp2t')
  assert.equal((await segment.arrayBuffer()).byteLength > 1000, true)

  // ffmpeg plays it from the relay, start to end: every segment opened, none failed.
  const played = await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'info', '-i', new URL('index.m3u8', base).toString(), '-c', 'copy', '-f', 'null', '-'], { maxBuffer: 8 * 1024 * 1024 })
  const opened = new Set([...played.stderr.matchAll(/Opening '[^']*\/240p\/(\d+)\.ts' for reading/g)].map(m => m[1]))
  assert.equal(opened.size, recording.segments, `ffmpeg opened ${opened.size} of ${recording.segments} segments`)
  assert.doesNotMatch(played.stderr, /Failed to open segment|HTTP error|Server returned/)
  // And it lasts as long as the session: ffmpeg's clock at the end of the copy is the session's program
  // time, within a segment. Timestamps follow the wall clock across the crash (docs/architecture.md,
  // "Timestamps only go forward"), so the outage is a gap in the timeline, as in the date-times.
  const clock = [...played.stderr.matchAll(/time=(\d+):(\d+):([\d.]+)/g)].at(-1)
  assert.ok(clock !== undefined, 'ffmpeg reports how far it played')
  const playedSeconds = Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3])
  const programSeconds = (recording.ended - recording.started) / 1000
  assert.ok(Math.abs(playedSeconds - programSeconds) <= 1, `played ${playedSeconds} s of a recording of ${recording.duration} s of media over ${programSeconds} s of program time`)

  // The plain relay lists the recording but serves none of it.
  const plainList = await eventually('the recording at the plain relay', async () => (await listed(plain)).find(r => r.announcement.cid === recording.cid), 10_000)
  assert.equal(plainList.archive, 'not-archived')
  assert.equal((await fetch(new URL(`ipfs/${recording.cid}/index.m3u8`, plain.url))).status, 404)
  assert.equal((await fetch(new URL(`ipfs/${recording.cid}/../index.m3u8`.replace('../', '%2e%2e/'), archiving.url))).status, 400)

  // A recording announcement signed by another key is rejected and not listed.
  const forgerDir = join(dir, 'forger')
  const forger = await loadOrCreateIdentity(forgerDir)
  const forgerNode = await createP2PNode({ identity: forger, dataDir: forgerDir, listen: ['/ip4/127.0.0.1/tcp/0'], allowPublishToZeroTopicPeers: true })
  running.add(forgerNode)
  forgerNode.libp2p.services.pubsub.subscribe(roomTopic(ROOM))
  await forgerNode.libp2p.dial(multiaddr(archiving.multiaddrs[0]!))
  await waitForGossipPeer(forgerNode, archiving.peerId, roomTopic(ROOM))
  const forged: RecordingAnnouncement = { ...recording, session: 'forged', final: true }
  await forgerNode.libp2p.services.pubsub.publish(roomTopic(ROOM), encodeEnvelope(await signAnnouncement(forged, forger.privateKey, forger.id)))
  await eventually('the forged recording to be rejected', () => (archiving.status().rooms[ROOM]!.rejected['wrong-key'] ?? 0) >= 1 ? true : undefined, 10_000)
  assert.ok((await listed(archiving)).every(r => r.announcement.session !== 'forged'), 'the forged recording is not listed')
  passed = true
})
