import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DIRECTORY_TOPIC, encodeEnvelope, signDirectoryRecord, verifyDirectoryEnvelope } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import { startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { DirectoryRecord, SignedEnvelope } from '@hivecast/shared'
import type { Relay } from '../src/index.ts'
import type { ChildProcess } from 'node:child_process'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const ROOM = 'directory'
let dir: string | undefined
let origin: OriginFixture | undefined
let child: ChildProcess | undefined
const relays: Relay[] = []

after(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(relays.map(async r => { await r.stop() }))
  await origin?.stop()
  await removeDir(dir)
})

interface DirectoryJson { relays: Array<{ record: DirectoryRecord, envelope: SignedEnvelope }> }

async function listed (relay: Relay): Promise<DirectoryJson['relays']> {
  const res = await fetch(new URL('/directory.json', relay.url))
  assert.equal(res.status, 200)
  return (await res.json() as DirectoryJson).relays
}

test('relays list each other in /directory.json with signed records; one that leaves or is killed drops out', async () => {
  dir = await tempDir('directory')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  const logs: string[] = []
  const first = await startRelay({ origins: [origin.address], rooms: [ROOM], dataDir: join(dir, 'relay-1'), http: { host: '127.0.0.1', port: 0 }, publicUrl: 'https://relay-1.example.org/', log: line => { logs.push(line) } })
  relays.push(first)
  const second = await startRelay({ origins: [], peers: [first.multiaddrs[0]!], roomKeys: [origin.identity.id], rooms: [ROOM], dataDir: join(dir, 'relay-2'), http: { host: '127.0.0.1', port: 0 }, log: () => {} })
  relays.push(second)
  // The third is a real process, so it can be killed without a goodbye.
  child = spawn(process.execPath, [CLI, '--peer', first.multiaddrs[0]!, '--room-key', origin.identity.id, '--room', ROOM, '--data', join(dir, 'relay-3'), '--http', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr!.resume()
  const [, thirdUrl, thirdAddress] = await waitFor('the third relay\'s ready lines', () => /^relay: (\S+)\nrelay libp2p: (\S+)\n/.exec(out) ?? undefined)
  const thirdId = thirdAddress!.split('/p2p/')[1]!

  for (const relay of [first, second]) {
    const entries = await waitFor(`${relay.url} to list all three`, async () => { const l = await listed(relay); return l.length === 3 ? l : undefined })
    assert.deepEqual(entries.map(e => e.record.peerId).sort(), [first.peerId, second.peerId, thirdId].sort())
    for (const { record, envelope } of entries) {
      const verified = await verifyDirectoryEnvelope(envelope)
      assert.ok(verified.ok, 'a reader can check every record itself')
      assert.deepEqual(verified.value.record, record)
      assert.deepEqual(record.rooms, [ROOM])
      assert.ok(record.multiaddrs.length > 0 && record.multiaddrs.every(a => a.endsWith(`/p2p/${record.peerId}`)))
      assert.equal(record.leaving, false)
    }
    const urls = entries.map(e => e.record.url)
    assert.ok(urls.includes('https://relay-1.example.org/'), '--public-url is what the directory shows')
    assert.ok(urls.includes(second.url) && urls.includes(thirdUrl!), 'the HTTP URL by default')
  }
  await waitFor('the second and third relays to connect to each other through the directory', () =>
    second.node.libp2p.getPeers().some(p => p.toString() === thirdId))

  // Forged records: signed by one key, claiming another relay; junk bytes. Rejected and counted.
  const stranger = await loadOrCreateIdentity(join(dir, 'stranger'))
  const claim: DirectoryRecord = { kind: 'relay', peerId: second.peerId, url: 'https://evil.example/', multiaddrs: [], rooms: [ROOM], load: { requestsPerSecond: 0, bytesPerSecond: 0 }, timestamp: Date.now(), leaving: false }
  const forged = await signDirectoryRecord(claim, stranger.privateKey, stranger.id)
  const pubsub = origin.node.libp2p.services.pubsub
  await pubsub.publish(DIRECTORY_TOPIC, encodeEnvelope(forged))
  await pubsub.publish(DIRECTORY_TOPIC, new TextEncoder().encode('{"v":1,"junk":true}'))
  await waitFor('both forgeries counted', () => (first.status().directoryRejected.invalid ?? 0) >= 2)
  assert.ok(!(await listed(first)).some(e => e.record.url === 'https://evil.example/'))

  // A clean stop sends a final "leaving" record: the others drop it without waiting for it to age out.
  await second.stop()
  await waitFor('the leaving record to reach the first relay', () => logs.some(l => l.includes(`(${second.peerId}) left`)))
  assert.deepEqual((await listed(first)).map(e => e.record.peerId).sort(), [first.peerId, thirdId].sort())

  // A killed relay says nothing: it drops out once its last record is older than 15 s.
  child.kill('SIGKILL')
  await once(child, 'exit')
  await waitFor('the killed relay to drop out', async () => (await listed(first)).length === 1, 25_000)
  assert.deepEqual((await listed(first)).map(e => e.record.peerId), [first.peerId])
  assert.equal((await fetch(new URL('/healthz', first.url))).status, 503, 'no segment yet, but still serving')
})
