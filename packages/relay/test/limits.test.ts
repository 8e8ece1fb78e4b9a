import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { CID } from 'multiformats/cid'
import { evictionOrder, startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { PublishedSegment } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'
import type { Socket } from 'node:net'

const ROOM = 'limits'
const SEGMENT_BYTES = 100_000
let dir: string | undefined
let origin: OriginFixture | undefined
let quotaRelay: Relay | undefined
let limitedRelay: Relay | undefined
let smallRelay: Relay | undefined
let perIpRelay: Relay | undefined
let throttledRelay: Relay | undefined
/** The upload limit of `throttledRelay`: 8 Mbit/s. */
const UPLOAD_BYTES_PER_SECOND = 1_000_000
const sockets: Socket[] = []

before(async () => {
  dir = await tempDir('limits')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  const common = { origins: [origin.address], rooms: [ROOM], http: { host: '127.0.0.1', port: 0 }, log: () => {} }
  quotaRelay = await startRelay({ ...common, dataDir: join(dir, 'quota'), diskQuotaBytes: 5 * SEGMENT_BYTES + 1000 })
  limitedRelay = await startRelay({ ...common, dataDir: join(dir, 'limited'), requestsPerSecondPerIp: 5 })
  smallRelay = await startRelay({ ...common, dataDir: join(dir, 'small'), maxConnections: 2 })
  perIpRelay = await startRelay({ ...common, dataDir: join(dir, 'per-ip'), maxConnectionsPerIp: 2 })
  throttledRelay = await startRelay({ ...common, dataDir: join(dir, 'throttled'), maxUploadBytesPerSecond: UPLOAD_BYTES_PER_SECOND })
  await origin.waitForSubscriber(throttledRelay.peerId)
  await origin.waitForSubscriber(quotaRelay.peerId)
  await origin.waitForSubscriber(limitedRelay.peerId)
})

after(async () => {
  for (const socket of sockets) socket.destroy()
  await quotaRelay?.stop()
  await limitedRelay?.stop()
  await smallRelay?.stop()
  await perIpRelay?.stop()
  await throttledRelay?.stop()
  await origin?.stop()
  await removeDir(dir)
})

test('the eviction order takes live segments oldest first and never a pinned recording', () => {
  const segment = (seq: number, storedAt: number, pinned: boolean): { room: string, rendition: string, seq: number, size: number, storedAt: number, pinned: boolean } =>
    ({ room: 'r', rendition: '720p', seq, size: 1, storedAt, pinned })
  const order = evictionOrder([segment(5, 50, false), segment(1, 10, true), segment(3, 30, false), segment(4, 30, false), segment(2, 5, true)])
  assert.deepEqual(order.map(s => s.seq), [3, 4, 5])
})

test('a relay over its disk quota deletes the oldest live segments and keeps serving the newest', async () => {
  const relay = quotaRelay!
  const published: PublishedSegment[] = []
  for (let seq = 0; seq < 8; seq++) {
    published.push(await origin!.publishSegment(seq, SEGMENT_BYTES))
    // One at a time, so "oldest" is unambiguous.
    await waitFor(`seq ${seq} stored`, () => relay.status().rooms[ROOM]!.renditions['720p']?.latestSeq === seq && relay.status().rooms[ROOM]!.renditions['720p']!.behind === 0)
  }
  await waitFor('the quota to be enforced', () => relay.status().disk.evicted === 3)
  const { disk } = relay.status()
  assert.ok(disk.heldBytes <= disk.quotaBytes!, `${disk.heldBytes} bytes held under a quota of ${disk.quotaBytes}`)
  for (const old of published.slice(0, 3)) {
    assert.equal((await fetch(new URL(`/ipfs/${old.cid}`, relay.url))).status, 404)
    assert.equal(await relay.node.blockstore.has(CID.parse(old.cid)), false, 'deleted from disk')
  }
  for (const kept of published.slice(3)) {
    const res = await fetch(new URL(`/ipfs/${kept.cid}`, relay.url))
    assert.equal(res.status, 200)
    assert.equal((await res.arrayBuffer()).byteLength, SEGMENT_BYTES)
  }
  const media = await (await fetch(new URL(`/hls/${ROOM}/720p.m3u8`, relay.url))).text()
  assert.ok(media.includes(`#EXT-X-GAP\n#EXTINF:2.000,\n/ipfs/${published[0]!.cid}?filename=0.ts`), 'an evicted segment still in the window is a gap')
  assert.ok(media.includes(`/ipfs/${published[7]!.cid}?filename=7.ts`))
})

test('/metrics is Prometheus text with traffic, hits and misses, segments held, lag, peers and rejections', async () => {
  const relay = quotaRelay!
  await origin!.publishBytes(new TextEncoder().encode('not an envelope'))
  await waitFor('the junk to be counted', () => relay.status().rooms[ROOM]!.rejected.malformed === 1)
  const res = await fetch(new URL('/metrics', relay.url))
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  const value = (series: string): number => {
    const line = text.split('\n').find(l => l.startsWith(`${series} `))
    assert.ok(line !== undefined, `${series} in /metrics`)
    return Number(line.split(' ')[1])
  }
  assert.equal(value('hivecast_relay_block_requests_total{result="hit"}'), 5)
  assert.equal(value('hivecast_relay_block_requests_total{result="miss"}'), 3)
  assert.equal(value(`hivecast_relay_segments_held{room="${ROOM}",rendition="720p"}`), 5)
  assert.equal(value(`hivecast_relay_segments_behind{room="${ROOM}",rendition="720p"}`), 0)
  assert.equal(value(`hivecast_relay_segment_gaps_total{room="${ROOM}",rendition="720p"}`), 0)
  assert.ok(value(`hivecast_relay_seconds_since_stored{room="${ROOM}"}`) >= 0)
  assert.equal(value(`hivecast_relay_announcements_rejected_total{room="${ROOM}",reason="malformed"}`), 1)
  assert.equal(value('hivecast_relay_segments_evicted_total'), 3)
  assert.equal(value('hivecast_relay_disk_bytes{kind="held"}'), 5 * SEGMENT_BYTES)
  assert.ok(value('hivecast_relay_peers') >= 1)
  assert.ok(value('hivecast_relay_bytes_served_total{source="http"}') >= 5 * SEGMENT_BYTES)
  assert.ok(value('hivecast_relay_http_requests_total{code="200"}') >= 6)
  assert.equal(value('hivecast_relay_http_requests_total{code="404"}'), 3)
  assert.equal(value('hivecast_relay_viewers'), 1)
  assert.equal(value('hivecast_relay_directory_relays'), 1)
})

test('over the per-IP request limit the relay answers 429 with Retry-After, then serves again', async () => {
  const url = new URL('/healthz', limitedRelay!.url)
  const responses: Response[] = []
  for (let i = 0; i < 30; i++) {
    const res = await fetch(url)
    await res.arrayBuffer()
    responses.push(res)
  }
  const limited = responses.filter(r => r.status === 429)
  assert.ok(limited.length >= 10, `${limited.length} of 30 quick requests refused with 5/s and a burst of 10`)
  const retryAfter = Number(limited[0]!.headers.get('retry-after'))
  assert.ok(retryAfter >= 1, 'Retry-After says when to come back')
  await new Promise(resolve => setTimeout(resolve, retryAfter * 1000))
  const again = await fetch(url)
  assert.notEqual(again.status, 429)
  await again.arrayBuffer()
  assert.equal(limitedRelay!.status().requests, 31)
})

test('at --max-connections a new connection closes the one idle longest, not an active one', async () => {
  const { hostname, port } = new URL(smallRelay!.url)
  const open = async (): Promise<Socket> => {
    const socket = connect(Number(port), hostname)
    sockets.push(socket)
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    return socket
  }
  const ask = async (socket: Socket): Promise<string> => {
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`)
    return await new Promise(resolve => {
      let text = ''
      if (socket.closed) {
        resolve(text)
        return
      }
      const done = (): void => { resolve(text) }
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (text.includes('\r\n\r\n')) done()
      })
      socket.once('close', done)
    })
  }
  const first = await open()
  const second = await open()
  assert.match(await ask(second), /^HTTP\/1\.1 (200|503)/)
  const third = await open()
  assert.match(await ask(third), /^HTTP\/1\.1 (200|503)/, 'the new connection is served')
  assert.equal(await ask(first), '', 'the connection idle longest was closed to make room')
  assert.match(await ask(second), /^HTTP\/1\.1 (200|503)/)
})

/** Opens a raw HTTP connection to `relay` (closed in `after` whatever happens). */
async function openSocket (relay: Relay): Promise<Socket> {
  const { hostname, port } = new URL(relay.url)
  const socket = connect(Number(port), hostname)
  sockets.push(socket)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return socket
}

/** Sends GET `path` on a raw connection; resolves with the response head and whether the relay closed it. */
async function askOn (socket: Socket, path: string): Promise<{ head: string, closed: boolean }> {
  socket.write(`GET ${path} HTTP/1.1\r\nHost: relay\r\n\r\n`)
  return await new Promise(resolve => {
    let text = ''
    const onData = (chunk: Buffer): void => {
      text += chunk.toString()
      if (!text.includes('\r\n\r\n')) return
      socket.off('data', onData)
      const head = text.slice(0, text.indexOf('\r\n\r\n'))
      if (/^connection: close$/im.test(head)) socket.once('close', () => { resolve({ head, closed: true }) })
      else resolve({ head, closed: false })
    }
    socket.on('data', onData)
  })
}

test('over --max-connections-per-ip a further connection is answered 503 with Retry-After and closed; counted', async () => {
  const relay = perIpRelay!
  const first = await openSocket(relay)
  const second = await openSocket(relay)
  assert.match((await askOn(first, '/status')).head, /^HTTP\/1\.1 200/)
  assert.match((await askOn(second, '/status')).head, /^HTTP\/1\.1 200/)
  const third = await openSocket(relay)
  const refused = await askOn(third, '/status')
  assert.match(refused.head, /^HTTP\/1\.1 503/)
  assert.match(refused.head, /^retry-after: \d+$/im)
  assert.equal(refused.closed, true, 'the relay closes the connection over the limit')
  // The two within the limit keep working, and once one closes a new connection is served.
  assert.match((await askOn(first, '/status')).head, /^HTTP\/1\.1 200/)
  second.destroy()
  await waitFor('a new connection served after one closed', async () => {
    const socket = await openSocket(relay)
    const served = /^HTTP\/1\.1 200/.test((await askOn(socket, '/status')).head)
    socket.destroy()
    return served
  })
  first.destroy()
  const metrics = await waitFor('/metrics once the connections closed', async () => {
    const res = await fetch(new URL('/metrics', relay.url))
    const text = await res.text()
    return res.status === 200 ? text : undefined
  })
  assert.match(metrics, /^hivecast_relay_connections_refused_total [1-9]\d*$/m)
})

test('--max-upload holds the relay\'s HTTP bytes over time under the limit, shared by every client', async () => {
  const relay = throttledRelay!
  const size = 300_000
  const published: PublishedSegment[] = []
  for (let seq = 8; seq < 11; seq++) published.push(await origin!.publishSegment(seq, size))
  await waitFor('the segments stored', () => published.every(p => relay.status().rooms[ROOM]!.renditions['720p'] !== undefined &&
    relay.status().rooms[ROOM]!.renditions['720p']!.latestSeq === 10 && relay.status().rooms[ROOM]!.renditions['720p']!.behind === 0))
  const started = performance.now()
  let received = 0
  const samples: Array<{ at: number, bytes: number }> = []
  // Six clients at once, two per segment: 1.8 MB that loopback would carry in milliseconds.
  await Promise.all([...published, ...published].map(async segment => {
    const res = await fetch(new URL(`/ipfs/${segment.cid}`, relay.url))
    assert.equal(res.status, 200)
    const chunks: Uint8Array[] = []
    const reader = res.body!.getReader()
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value)
      received += read.value.length
      samples.push({ at: (performance.now() - started) / 1000, bytes: received })
    }
    assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), segment.bytes)
  }))
  assert.equal(received, 6 * size)
  // At every moment no more than the burst (0.1 s) plus the rate so far, with a generous margin.
  for (const { at, bytes } of samples) {
    const allowed = UPLOAD_BYTES_PER_SECOND * (0.1 + at) * 1.25 + 64 * 1024
    assert.ok(bytes <= allowed, `${bytes} bytes received after ${at.toFixed(3)} s; the limit allows about ${Math.round(allowed)}`)
  }
  const seconds = samples.at(-1)!.at
  process.stdout.write(`# --max-upload 8 Mbit/s: ${received} bytes to 6 clients in ${seconds.toFixed(2)} s = ${(received * 8 / seconds / 1e6).toFixed(2)} Mbit/s\n`)
})
