/**
 * Attacks on the relay's HTTP face (security audit, issue 11, findings 7 and 10): a real relay (the
 * relay package's origin fixture feeds it a room) on 127.0.0.1, clients bound to distinct loopback
 * addresses (127.0.0.2, 127.0.0.3, ...) so they are distinct viewers to the relay.
 */
import assert from 'node:assert/strict'
import { request, createServer } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { parseViewersAnswer, encodeSwarmMessage, VIEWERS_PROTOCOL } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { startRelay } from '@hivecast/relay'
import { OriginFixture, removeDir, tempDir } from '../../packages/relay/test/origin-fixture.ts'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { P2PNode } from '@hivecast/shared/node'
import type { Relay, RelayOptions } from '@hivecast/relay'

const ROOM = 'relay-http'
/** The relay's header timeout (gateway.ts HEADERS_TIMEOUT_MS). */
const HEADERS_TIMEOUT_MS = 10_000
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

let dir: string
let origin: OriginFixture
const relays: Relay[] = []
const sockets: Socket[] = []
const servers: Server[] = []
const nodes: P2PNode[] = []

before(async () => {
  dir = await tempDir('relay-http')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
})

after(async () => {
  for (const socket of sockets) socket.destroy()
  for (const server of servers) server.close()
  await Promise.all(nodes.map(async node => { await node.stop() }))
  for (const relay of relays) await relay.stop()
  await origin.stop()
  await removeDir(dir)
})

async function relayWith (name: string, options: Partial<RelayOptions>): Promise<Relay> {
  const relay = await startRelay({ origins: [origin.address], rooms: [ROOM], dataDir: join(dir, name), http: { host: '127.0.0.1', port: 0 }, log: () => {}, ...options })
  relays.push(relay)
  return relay
}

/** GET `url` on a fresh connection from local address `from`: the status, or the error's code. */
async function get (url: string, from: string, headers: Record<string, string> = {}): Promise<{ status: number | string, headers: Record<string, string | string[] | undefined> }> {
  return await new Promise(resolve => {
    const req = request(url, { localAddress: from, agent: false, headers, signal: AbortSignal.timeout(10_000) }, res => {
      res.resume()
      res.once('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers }) })
    })
    req.once('error', (err: NodeJS.ErrnoException) => { resolve({ status: err.code ?? err.message, headers: {} }) })
    req.end()
  })
}

/** A raw connection from `from`, closed in `after` whatever happens. */
async function open (url: string, from: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  const socket = connect({ port: Number(port), host: hostname, localAddress: from })
  sockets.push(socket)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return socket
}

/**
 * Fixture: a tiny reverse proxy in front of the relay, as nginx would be: it forwards each request
 * with X-Forwarded-For set to the client's address.
 */
async function reverseProxy (target: string): Promise<string> {
  const server = createServer((req, res) => {
    const forwarded = req.socket.remoteAddress ?? ''
    const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, 'x-forwarded-for': forwarded } }, answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.once('error', () => { res.destroy() })
    upstream.end()
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return `http://127.0.0.1:${port}/`
}

test('behind a trusted proxy the rate limit counts each client, not the proxy: A at 40 req/s is limited, B never', async () => {
  const relay = await relayWith('proxied', { requestsPerSecondPerIp: 20, trustedProxies: ['127.0.0.1'] })
  const proxy = await reverseProxy(relay.url)
  const statusA: Array<number | string> = []
  const statusB: Array<number | string> = []
  const flood = (async () => {
    // Client A: 40 requests per second for 3 s, 120 requests in all.
    for (let i = 0; i < 120; i++) {
      const started = Date.now()
      statusA.push((await get(`${proxy}status`, '127.0.0.2')).status)
      await sleep(Math.max(0, 25 - (Date.now() - started)))
    }
  })()
  for (let i = 0; i < 6; i++) {
    await sleep(400)
    statusB.push((await get(`${proxy}status`, '127.0.0.3')).status)
  }
  await flood
  assert.ok(statusA.includes(429), `client A over the limit is answered 429 (got ${[...new Set(statusA)].join(', ')})`)
  assert.deepEqual(statusB, Array(6).fill(200), 'client B, well within the limit, is never refused')
  // X-Forwarded-For from a client that is not a trusted proxy is ignored: it cannot pick its own bucket.
  const direct = await relayWith('direct', { requestsPerSecondPerIp: 1 })
  const spoofed = []
  for (let i = 0; i < 5; i++) spoofed.push((await get(`${direct.url}status`, '127.0.0.4', { 'X-Forwarded-For': `198.51.100.${i}` })).status)
  assert.ok(spoofed.includes(429), 'a forged X-Forwarded-For does not escape the limit')
})

test('idle connections (within the per-IP limit, at the total limit) do not lock out active clients', async () => {
  const relay = await relayWith('idle', { maxConnections: 20, maxConnectionsPerIp: 5 })
  // 20 silent connections from four addresses, five each: the total limit, each address at its own.
  for (const from of ['127.0.0.10', '127.0.0.11', '127.0.0.12', '127.0.0.13']) {
    for (let i = 0; i < 5; i++) await open(relay.url, from)
  }
  const statuses: Array<number | string> = []
  for (let i = 0; i < 10; i++) statuses.push((await get(`${relay.url}status`, '127.0.0.1')).status)
  assert.deepEqual(statuses, Array(10).fill(200), 'every request of the active client is answered')
})

test('a connection that sends no request is closed after the header timeout', async () => {
  const relay = await relayWith('timeout', {})
  const socket = await open(relay.url, '127.0.0.1')
  const opened = Date.now()
  // Two timers race to close it: the socket timeout closes it silently, Node's header-timeout check
  // answers 408 first. Read what arrives, as a real client does: a socket whose data nobody reads
  // never sees the peer's close.
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  const closedAfter = await Promise.race([
    new Promise<number>(resolve => socket.once('close', () => { resolve(Date.now() - opened) })),
    sleep(HEADERS_TIMEOUT_MS + 5_000).then(() => Infinity)
  ])
  assert.ok(closedAfter <= HEADERS_TIMEOUT_MS + 3_000, `the silent connection is closed within ${HEADERS_TIMEOUT_MS / 1000} s (+ 3 s slack); it was ${closedAfter === Infinity ? 'still open' : `closed after ${closedAfter} ms`}`)
  assert.ok(received === '' || received.startsWith('HTTP/1.1 408 '), `the relay closes silently or answers 408, got: ${received.split('\r\n')[0] ?? ''}`)
})

test('Transfer-Encoding other than chunked is refused; error answers carry nosniff', async () => {
  const relay = await relayWith('framing', {})
  const socket = await open(relay.url, '127.0.0.1')
  socket.write('GET /status HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: gzip\r\n\r\n')
  const head = await new Promise<string>(resolve => {
    let text = ''
    socket.on('data', (chunk: Buffer) => { text += chunk.toString() })
    socket.once('close', () => { resolve(text) })
  })
  assert.match(head, /^HTTP\/1\.1 (400|501) /, `Transfer-Encoding: gzip is refused, got: ${head.split('\r\n')[0] ?? '(nothing)'}`)
  const notFound = await get(`${relay.url}no-such-thing`, '127.0.0.1')
  assert.equal(notFound.status, 404)
  assert.equal(notFound.headers['x-content-type-options'], 'nosniff', '404 carries nosniff')
  const badCid = await get(`${relay.url}ipfs/not-a-cid`, '127.0.0.1')
  assert.equal(badCid.status, 400)
  assert.equal(badCid.headers['x-content-type-options'], 'nosniff', '400 carries nosniff')
})

/** One viewers request from `viewer` to the relay at `address`: the peer ids it answers. */
async function askViewers (viewer: P2PNode, address: string): Promise<string[]> {
  const signal = AbortSignal.timeout(5_000)
  const stream = await viewer.libp2p.dialProtocol(multiaddr(address), VIEWERS_PROTOCOL, { signal })
  const lp = lpStream(stream)
  await lp.write(encodeSwarmMessage({ room: ROOM }), { signal })
  const answer = parseViewersAnswer((await lp.read({ signal })).subarray())
  assert.ok(answer !== undefined, 'the relay answers a viewers request')
  return answer
}

test('viewer peer ids are not handed out wholesale: a bounded sample per answer, none for asking fast', async () => {
  const relay = await relayWith('viewers', { listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const address = relay.multiaddrs.find(a => a.includes('/ws/'))
  assert.ok(address !== undefined, 'the relay listens on WebSockets')
  const viewers = 12
  for (let i = 0; i < viewers + 1; i++) {
    const name = `viewer-${i}`
    nodes.push(await createP2PNode({ identity: await loadOrCreateIdentity(join(dir, name)), dataDir: join(dir, name), listen: [] }))
  }
  const scraper = nodes.at(-1)!
  for (const viewer of nodes.slice(0, viewers)) await askViewers(viewer, address)
  const first = await askViewers(scraper, address)
  assert.ok(first.length > 0, 'a viewer learns some of the others')
  assert.ok(first.length <= 8, `one answer names at most 8 of the ${viewers} viewers, not ${first.length}`)
  const again = await askViewers(scraper, address)
  assert.deepEqual(again, [], 'asking again at once yields no further peer ids')
})
