/**
 * HTTPS served by the relay itself (--tls-cert/--tls-key), with a self-signed certificate made here by
 * openssl: segments and playlists over TLS, the certificate checked by the client, plain HTTP refused.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { get as httpGet } from 'node:http'
import { get as httpsGet } from 'node:https'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import type { TLSSocket } from 'node:tls'
import { startRelay } from '../src/index.ts'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { Relay } from '../src/index.ts'

const run = promisify(execFile)
const ROOM = 'secure'
let dir: string | undefined
let origin: OriginFixture | undefined
let relay: Relay | undefined

after(async () => {
  await relay?.stop()
  await origin?.stop()
  await removeDir(dir)
})

/** GET over https trusting only `ca`; resolves with status, body and the certificate's organisation, rejects on a TLS failure. */
async function fetchTls (url: string, ca?: Buffer): Promise<{ status: number, body: Buffer, organisation: string | undefined }> {
  return await new Promise((resolve, reject) => {
    httpsGet(url, { ca, agent: false }, res => {
      const o = (res.socket as TLSSocket).getPeerCertificate().subject?.O
      const organisation = typeof o === 'string' ? o : undefined
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), organisation }) }).on('error', reject)
    }).on('error', reject)
  })
}

/** A self-signed certificate for 127.0.0.1 naming `organisation`, written to `cert` and `key`. */
async function makeCertificate (cert: string, key: string, organisation: string): Promise<Buffer> {
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=127.0.0.1/O=${organisation}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { timeout: 30_000 })
  return await readFile(cert)
}

test('with a certificate and key the relay serves HTTPS, and plain HTTP gets no answer', async () => {
  dir = await tempDir('tls')
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  const ca = await makeCertificate(cert, key, 'first')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  relay = await startRelay({ origins: [origin.address], rooms: [ROOM], dataDir: join(dir, 'relay'), http: { host: '127.0.0.1', port: 0 }, tls: { cert, key }, log: () => {} })
  assert.match(relay.url, /^https:\/\/127\.0\.0\.1:\d+\/$/)
  await origin.waitForSubscriber(relay.peerId)
  const segment = await origin.publishSegment(0, 50_000)
  await waitFor('the segment stored', () => relay!.status().rooms[ROOM]!.renditions['720p']?.held === 1)

  const served = await fetchTls(`${relay.url}ipfs/${segment.cid}`, ca)
  assert.equal(served.status, 200)
  assert.equal(served.organisation, 'first')
  assert.deepEqual(new Uint8Array(served.body), segment.bytes)
  const playlist = await fetchTls(`${relay.url}hls/${ROOM}/720p.m3u8`, ca)
  assert.match(playlist.body.toString(), new RegExp(`/ipfs/${segment.cid}\\?filename=0\\.ts`))
  // The client checks the certificate: without trusting it, the connection fails.
  await assert.rejects(fetchTls(`${relay.url}healthz`), /self-signed certificate/)
  // Plain HTTP on the TLS port is no request the relay answers.
  await assert.rejects(new Promise((resolve, reject) => {
    httpGet(relay!.url.replace('https:', 'http:') + 'healthz', { agent: false }, resolve).on('error', reject)
  }))
})

test('a renewed certificate is taken on reload (SIGHUP) for new connections; a broken one is refused and the old one kept', async () => {
  const cert = join(dir!, 'cert.pem')
  const key = join(dir!, 'key.pem')
  const first = await readFile(cert)
  const renewed = await makeCertificate(cert, key, 'renewed')
  await relay!.reloadTls()
  const after = await fetchTls(`${relay!.url}healthz`, renewed)
  assert.equal(after.organisation, 'renewed')
  await assert.rejects(fetchTls(`${relay!.url}healthz`, first), /self-signed certificate/, 'the old certificate is no longer presented')

  await writeFile(key, 'not a key')
  await assert.rejects(relay!.reloadTls(), /not a usable PEM pair/)
  assert.equal((await fetchTls(`${relay!.url}healthz`, renewed)).organisation, 'renewed', 'still serving the renewed pair')
})
