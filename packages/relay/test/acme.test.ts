/**
 * Automatic HTTPS (--acme-domain) against a real ACME server: Debian's pebble, validating HTTP-01 on
 * the relay's challenge port, with pebble-challtestsrv as its DNS server answering 127.0.0.1 for every
 * name. The relay gets a certificate for relay.hivecast.test, serves HTTPS with it (checked against
 * pebble's issuing CA, SNI relay.hivecast.test), renews it while an open keep-alive connection keeps
 * working, and with an unreachable ACME server says so once and keeps serving plain HTTP.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { get as httpGet } from 'node:http'
import { Agent, request as httpsRequest } from 'node:https'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import type { ChildProcess } from 'node:child_process'
import type { TLSSocket } from 'node:tls'
import { startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const run = promisify(execFile)
const ROOM = 'acme'
const DOMAIN = 'relay.hivecast.test'
const processes: ChildProcess[] = []
const relays: Relay[] = []
let dir: string | undefined
let origin: OriginFixture | undefined
let pebble: Pebble | undefined
/** The first relay's HTTPS port and the serial of its renewed certificate, for the restart test. */
let issued: { httpsPort: number, serial: string } | undefined

after(async () => {
  await Promise.all(relays.map(async relay => { await relay.stop() }))
  await origin?.stop()
  for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL')
  await removeDir(dir)
})

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer().on('error', reject).listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => { resolve(port) })
    })
  })
}

/** Starts a process that the `after` hook kills; its output is kept for failure messages. */
function spawnTracked (command: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess, output: () => string } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  processes.push(child)
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000) })
  child.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000) })
  return { child, output: () => output }
}

interface Response { status: number, body: string, serial: string, socket: TLSSocket, reused: boolean }

/** GET over https to 127.0.0.1 with SNI `servername`, trusting only `ca`. */
async function get (port: number, path: string, ca: Buffer, servername: string, agent: Agent | false = false): Promise<Response> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername, ca, agent }, res => {
      const socket = res.socket as TLSSocket
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), serial: socket.getPeerCertificate().serialNumber, socket, reused: req.reusedSocket })
      }).on('error', reject)
    })
    req.on('error', reject).end()
  })
}

interface Pebble { directoryUrl: string, apiCa: string, issuingCa: Buffer }

/** pebble-challtestsrv as DNS only, and pebble validating HTTP-01 on `challengePort`. */
async function startPebble (base: string, challengePort: number): Promise<Pebble> {
  const [dns, api, management, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  spawnTracked('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dns}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-management', `127.0.0.1:${await freePort()}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''])
  const apiCa = join(base, 'pebble-api.pem')
  const apiKey = join(base, 'pebble-api-key.pem')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=pebble', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', apiKey, '-out', apiCa], { timeout: 30_000 })
  const config = join(base, 'pebble.json')
  await writeFile(config, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${api}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: apiCa,
      privateKey: apiKey,
      httpPort: challengePort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      certificateValidityPeriod: 3600
    }
  }))
  const pebble = spawnTracked('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${dns}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' })
  const ca = await readFile(apiCa)
  const issuingCa = await waitFor(`pebble's management API (output: ${pebble.output()})`, async () => {
    try {
      const root = await get(management, '/roots/0', ca, 'localhost')
      return root.status === 200 ? Buffer.from(root.body) : undefined
    } catch {
      return undefined
    }
  }, 30_000)
  return { directoryUrl: `https://127.0.0.1:${api}/dir`, apiCa, issuingCa }
}

test('the relay gets a certificate from pebble, serves HTTPS with it, and renews it without dropping an open connection', async () => {
  dir = await tempDir('acme')
  const challengePort = await freePort()
  const httpsPort = await freePort()
  pebble = await startPebble(dir, challengePort)
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  const lines: string[] = []
  const startedAt = performance.now()
  const relay = await startRelay({
    origins: [origin.address],
    rooms: [ROOM],
    dataDir: join(dir, 'relay'),
    http: { host: '127.0.0.1', port: 0 },
    acme: { domains: [DOMAIN], email: 'volunteer@hivecast.test', directoryUrl: pebble.directoryUrl, caFile: pebble.apiCa, challenge: { host: '127.0.0.1', port: challengePort }, https: { host: '127.0.0.1', port: httpsPort } },
    log: line => { lines.push(line) }
  })
  relays.push(relay)
  assert.ok(relay.acme !== undefined)
  const first = await waitFor(`the first https response (log: ${lines.join(' | ')})`, async () => {
    try {
      return await get(httpsPort, '/status', pebble!.issuingCa, DOMAIN)
    } catch {
      return undefined
    }
  }, 60_000)
  const elapsed = performance.now() - startedAt
  process.stdout.write(`# ACME: relay start to first https response ${elapsed.toFixed(0)} ms\n`)
  assert.equal(first.status, 200)
  assert.equal(JSON.parse(first.body).peerId, relay.peerId)
  assert.equal(relay.acme.url, `https://${DOMAIN}:${httpsPort}/`)
  assert.equal(relay.status().acme?.renewals, 1)
  // The certificate names the domain, and a client that does not trust pebble's CA refuses it.
  assert.ok(first.socket.getPeerCertificate().subjectaltname?.includes(`DNS:${DOMAIN}`))
  await assert.rejects(get(httpsPort, '/status', Buffer.from(await readFile(pebble.apiCa)), DOMAIN), /certificate/)
  // Keys and certificate are kept private in the data directory.
  for (const file of ['account-key.pem', 'certificate-key.pem', 'certificate.pem']) {
    assert.equal((await stat(join(dir, 'relay', 'acme', file))).mode & 0o777, 0o600, file)
  }
  // The directory record carries the https URL browsers reach the relay at.
  await waitFor('the https URL in the directory record', () => relay.directory().some(e => e.record.peerId === relay.peerId && e.record.url === relay.acme!.url))

  // A keep-alive connection opened before the renewal stays usable after it, with the old certificate.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const before = await get(httpsPort, '/healthz', pebble.issuingCa, DOMAIN, agent)
    await relay.acme.renew()
    assert.equal(relay.status().acme?.renewals, 2)
    const during = await get(httpsPort, '/status', pebble.issuingCa, DOMAIN, agent)
    assert.equal(during.status, 200)
    assert.ok(during.reused, 'the request went over the connection opened before the renewal')
    assert.equal(during.socket, before.socket)
    assert.equal(during.serial, first.serial)
    // New connections get the renewed certificate.
    const renewed = await get(httpsPort, '/status', pebble.issuingCa, DOMAIN)
    assert.equal(renewed.status, 200)
    assert.notEqual(renewed.serial, first.serial)
    issued = { httpsPort, serial: renewed.serial }
  } finally {
    agent.destroy()
  }
})

test('with the ACME server unreachable the relay says so once, keeps serving plain HTTP, and retries', async () => {
  const closedPort = await freePort()
  const lines: string[] = []
  const relay = await startRelay({
    origins: [origin!.address],
    rooms: [ROOM],
    dataDir: join(dir!, 'unreachable'),
    http: { host: '127.0.0.1', port: 0 },
    acme: { domains: [DOMAIN], email: 'volunteer@hivecast.test', directoryUrl: `https://127.0.0.1:${closedPort}/dir`, challenge: { host: '127.0.0.1', port: 0 }, https: { host: '127.0.0.1', port: 0 }, retryMs: 60_000 },
    log: line => { lines.push(line) }
  })
  relays.push(relay)
  const line = await waitFor('the ACME failure line', () => lines.find(l => l.includes('ACME:')))
  assert.match(line, new RegExp(`cannot reach the ACME server https://127\\.0\\.0\\.1:${closedPort}/dir \\(ECONNREFUSED`))
  assert.match(line, /check --acme-directory/)
  assert.match(line, /still serving plain HTTP only; retrying in 60 s/)
  assert.equal(lines.filter(l => l.includes('ACME:')).length, 1)
  assert.deepEqual(relay.status().acme?.lastError?.code, 'ACME_UNREACHABLE')
  assert.equal(relay.acme?.url, undefined)
  const status = await new Promise<number>((resolve, reject) => {
    httpGet(`${relay.url}status`, { agent: false }, res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
  })
  assert.equal(status, 200)
})

test('when the CA cannot validate the domain the relay says so and what to do, and keeps serving plain HTTP', async () => {
  // pebble validates on the first relay's challenge port, which does not know this relay's token.
  const lines: string[] = []
  const relay = await startRelay({
    origins: [origin!.address],
    rooms: [ROOM],
    dataDir: join(dir!, 'unvalidated'),
    http: { host: '127.0.0.1', port: 0 },
    acme: { domains: ['other.hivecast.test'], email: 'volunteer@hivecast.test', directoryUrl: pebble!.directoryUrl, caFile: pebble!.apiCa, challenge: { host: '127.0.0.1', port: 0 }, https: { host: '127.0.0.1', port: 0 }, retryMs: 60_000 },
    log: line => { lines.push(line) }
  })
  relays.push(relay)
  const line = await waitFor('the ACME failure line', () => lines.find(l => l.includes('ACME:')), 60_000)
  assert.match(line, /the CA could not validate other\.hivecast\.test \(.+\); point the domain's DNS at this box and let port 80 reach --acme-http 127\.0\.0\.1:0/)
  assert.match(line, /still serving plain HTTP only; retrying in 60 s/)
  assert.equal(relay.status().acme?.lastError?.code, 'ACME_VALIDATION_FAILED')
  const status = await new Promise<number>((resolve, reject) => {
    httpGet(`${relay.url}status`, { agent: false }, res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
  })
  assert.equal(status, 200)
})

test('after a restart the stored certificate is served at once, with no new order', async () => {
  const first = relays.shift()!
  await first.stop()
  const lines: string[] = []
  // The ACME server is unreachable now: serving HTTPS proves the certificate came from the data directory.
  const relay = await startRelay({
    origins: [origin!.address],
    rooms: [ROOM],
    dataDir: join(dir!, 'relay'),
    http: { host: '127.0.0.1', port: 0 },
    acme: { domains: [DOMAIN], email: 'volunteer@hivecast.test', directoryUrl: `https://127.0.0.1:${await freePort()}/dir`, challenge: { host: '127.0.0.1', port: 0 }, https: { host: '127.0.0.1', port: issued!.httpsPort } },
    log: line => { lines.push(line) }
  })
  relays.push(relay)
  const served = await get(issued!.httpsPort, '/status', pebble!.issuingCa, DOMAIN)
  assert.equal(served.status, 200)
  assert.equal(served.serial, issued!.serial)
  assert.equal(relay.status().acme?.renewals, 0)
  assert.deepEqual(lines.filter(l => l.includes('ACME:')), [])
})
