/**
 * The whole live path on real processes: origin (ffmpeg test pattern) -> gossipsub + bitswap -> two
 * relays -> HTTP. Checks what any client sees: the same playlists on both relays, every listed CID
 * fetchable from both and matching its bytes, forged announcements refused, and ffmpeg able to play.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { request } from 'node:http'
import fc from 'fast-check'
import { encodeEnvelope, rawCid, roomTopic, signAnnouncement, verifyRawBlock } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { eventually, waitForGossipPeer } from '@hivecast/devnet'
import { devnetForTest } from './src/devnet-fixture.ts'
import type { SegmentAnnouncement } from '@hivecast/shared'

const devnet = await devnetForTest('live-path', { relays: 2, renditions: '360p' })
const [relayA, relayB] = devnet.relays as [typeof devnet.relays[0], typeof devnet.relays[0]]

async function text (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200, `${url} answered ${res.status}`)
  return await res.text()
}

/** The CIDs a media playlist lists, from segment URIs like `/ipfs/<cid>?filename=12.ts`. */
function segmentCids (playlist: string): string[] {
  return playlist.split('\n').filter(line => line.startsWith('/ipfs/')).map(uri => new URL(uri, 'http://relay').pathname.slice('/ipfs/'.length))
}

interface RelayStatus {
  rooms: Record<string, { rejected: Record<string, number> }>
}

async function rejectedCount (relayUrl: string): Promise<number> {
  const status = await (await fetch(`${relayUrl}/status`)).json() as RelayStatus
  return Object.values(status.rooms[devnet.room]?.rejected ?? {}).reduce((a, b) => a + b, 0)
}

test('after 10 s both relays serve the same playlist, and every CID is fetchable from both and verifies', async () => {
  const path = `/hls/${devnet.room}/360p.m3u8`
  await eventually('a first listed segment', async () => segmentCids(await text(relayA.url + path)).length > 0 ? true : undefined, 30_000)
  await new Promise(resolve => setTimeout(resolve, 10_000))
  // Both relays store each new segment within milliseconds of each other; catch them between two.
  const a = await eventually('identical playlists on both relays', async () => {
    const [fromA, fromB] = [await text(relayA.url + path), await text(relayB.url + path)]
    return fromA === fromB ? fromA : undefined
  }, 10_000, 100)
  const cids = segmentCids(a)
  assert.ok(cids.length >= 8, `expected >= 8 segments after 10 s, got ${cids.length}`)
  assert.equal(a.split('\n').filter(l => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')).length, cids.length, 'every segment has a program date time')
  for (const cid of cids) {
    for (const relay of [relayA, relayB]) {
      const res = await fetch(`${relay.url}/ipfs/${cid}?format=raw`)
      assert.equal(res.status, 200, `${relay.url}/ipfs/${cid}`)
      assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.raw')
      assert.match(res.headers.get('cache-control') ?? '', /immutable/)
      assert.ok(await verifyRawBlock(cid, new Uint8Array(await res.arrayBuffer())), `${cid} from ${relay.url} does not match its CID`)
    }
  }
  const master = await text(`${relayA.url}/hls/${devnet.room}/master.m3u8`)
  assert.match(master, /#EXT-X-STREAM-INF:BANDWIDTH=\d+,RESOLUTION=640x360,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/)
})

test('a forged announcement is rejected by the relay and never appears in its playlist', async () => {
  const dataDir = join(tmpdir(), `hivecast-forger-${process.pid}`)
  const forger = await loadOrCreateIdentity(dataDir)
  const node = await createP2PNode({ identity: forger, dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], peers: [relayA.multiaddr] })
  try {
    const topic = roomTopic(devnet.room)
    node.libp2p.services.pubsub.subscribe(topic)
    await waitForGossipPeer(node, relayA.multiaddr.split('/p2p/')[1]!, topic)
    const bytes = new TextEncoder().encode('not the origin\'s video')
    const cid = await rawCid(bytes)
    await node.blockstore.put(cid, bytes)
    const forged: SegmentAnnouncement = {
      kind: 'segment',
      room: devnet.room,
      rendition: { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 },
      seq: 1_000_000,
      cid: cid.toString(),
      size: bytes.length,
      duration: 1,
      pdt: Date.now(),
      discontinuity: false,
      end: false
    }
    const before = await rejectedCount(relayA.url)
    // Signed by the forger's own key, and signed by it while claiming the origin's key.
    await node.libp2p.services.pubsub.publish(topic, encodeEnvelope(await signAnnouncement(forged, forger.privateKey, forger.id)))
    await node.libp2p.services.pubsub.publish(topic, encodeEnvelope(await signAnnouncement({ ...forged, seq: 1_000_001 }, forger.privateKey, devnet.origin.key)))
    await eventually('both forgeries counted as rejected', async () => await rejectedCount(relayA.url) >= before + 2 ? true : undefined, 10_000)
    await new Promise(resolve => setTimeout(resolve, 1500))
    for (const relay of devnet.relays) {
      const playlist = await text(`${relay.url}/hls/${devnet.room}/360p.m3u8`)
      assert.ok(!playlist.includes(cid.toString()), `${relay.url} lists the forged CID`)
      assert.equal((await fetch(`${relay.url}/ipfs/${cid.toString()}`)).status, 404, 'the forged CID is not served')
    }
  } finally {
    await node.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
})

test('any HLS client plays from a relay: ffmpeg reads 5 s of the master playlist', async () => {
  const { stderr } = await promisify(execFile)('ffmpeg', [
    '-hide_banner', '-nostdin', '-i', `${relayA.url}/hls/${devnet.room}/master.m3u8`, '-t', '5', '-c', 'copy', '-f', 'null', '-'
  ], { timeout: 30_000 })
  assert.match(stderr, /Stream #0:\d+.*Video: h264/)
  assert.match(stderr, /Stream #0:\d+.*Audio: aac/)
  const time = /time=(\d+):(\d+):(\d+\.\d+)/g
  const last = [...stderr.matchAll(time)].at(-1)
  assert.ok(last !== undefined, 'ffmpeg reported no progress')
  assert.ok(Number(last[3]) + Number(last[2]) * 60 >= 4.5, `ffmpeg read only ${last[0]}`)
})

test('a relay restarted mid-stream catches up the window from its peers within 5 s', async () => {
  const path = `/hls/${devnet.room}/360p.m3u8`
  await devnet.relays[1]!.process.kill()
  await new Promise(resolve => setTimeout(resolve, 3000))
  const restarted = await devnet.restartRelay(1)
  const back = Date.now()
  const reference = segmentCids(await text(relayA.url + path))
  await eventually('the restarted relay to list the window it missed', async () => {
    const listed = segmentCids(await text(restarted.url + path).catch(() => ''))
    return reference.every(cid => listed.includes(cid)) ? true : undefined
  }, 5_000, 100)
  console.log(`restarted relay listed the ${reference.length}-segment window ${Date.now() - back} ms after it was ready`)
})

/** One raw HTTP request (the path goes on the wire as given, unlike fetch, which normalises it). */
async function rawRequest (base: string, method: string, path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, timeout: 5000 }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path}`)))
    req.end()
  })
}

test('junk URLs, methods and headers get a clear 4xx from the relay, never a crash or a 5xx', async () => {
  const cid = segmentCids(await text(`${relayA.url}/hls/${devnet.room}/360p.m3u8`))[0]!
  const printable = fc.string({ unit: fc.constantFrom(...'abcxyz019-_.~%/?=&;:@+,!$*()[]'.split('')), maxLength: 60 })
  const path = fc.oneof(
    fc.webPath().map(p => p === '' ? '/' : p),
    printable.map(p => `/${p}`),
    fc.constantFrom('/ipfs/', '/ipfs/..%2f..%2fetc%2fpasswd', '/hls/../../etc/passwd', '/hls/%00/master.m3u8',
      `/ipfs/${cid}/../../status`, `/ipfs/${cid}?format=car`, `/ipfs/${cid}?format=raw&format=car`, '/rooms/demo/window.json/..',
      `/hls/${devnet.room}/..%2f360p.m3u8`, `/hls/${devnet.room}/${'x'.repeat(3000)}.m3u8`),
    printable.map(p => `/ipfs/${cid}${p}`),
    printable.map(p => `/hls/${devnet.room}/${p}`)
  )
  const headers = fc.record({
    range: fc.oneof(fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=99999999-', 'bytes=5-1', 'bytes=0-1,4-5', 'items=0-1'), printable),
    accept: fc.oneof(fc.constantFrom('application/vnd.ipld.raw', 'application/vnd.ipld.car', '*/*'), printable),
    'if-none-match': fc.oneof(fc.constant(`"${cid}"`), printable)
  }, { requiredKeys: [] })
  const method = fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH')
  await fc.assert(fc.asyncProperty(method, path, headers, async (m, p, h) => {
    const status = await rawRequest(relayA.url, m, p, h)
    assert.ok(status >= 200 && status < 500 && status !== 0, `${m} ${p} ${JSON.stringify(h)} answered ${status}`)
  }), { numRuns: 400 })
  assert.equal((await fetch(`${relayA.url}/healthz`)).status, 200, 'the relay is still healthy after the junk')
})
