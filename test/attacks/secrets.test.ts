/**
 * Audit issue 11, finding 8: an input's secrets (HTTP credentials, SRT passphrase, RTMP stream key)
 * must appear in no log line, no status endpoint and no process's argv (ps), with real origins and
 * real ffmpeg.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import { freeTcpPort, freeUdpPort } from '@hivecast/devnet'
import { startOrigin } from '@hivecast/origin'
import type { Origin, StreamInput } from '@hivecast/origin'

const HTTP_PASSWORD = 'httpPassw0rdSecret'
const HTTP_TOKEN = 'queryTokenSecret42'
const SRT_PASSPHRASE = 'srt-passphrase-secret-42'
const RTMP_KEY = 'rtmp-key-secret-0123'
const SECRETS = [HTTP_PASSWORD, HTTP_TOKEN, SRT_PASSPHRASE, RTMP_KEY]

test('input secrets stay out of logs, /healthz, /status, /metrics and every process\'s argv', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-secrets-'))
  // The HTTP source refuses every request, so ffmpeg fails, logs the error and is restarted.
  let httpRequests = 0
  const source = createServer((_req, res) => { httpRequests++; res.writeHead(404).end() })
  await new Promise<void>(resolve => source.listen(0, '127.0.0.1', resolve))
  const httpPort = (source.address() as AddressInfo).port
  const inputs: StreamInput[] = [
    { kind: 'http', url: `http://hive:${HTTP_PASSWORD}@127.0.0.1:${httpPort}/live.ts?token=${HTTP_TOKEN}` },
    { kind: 'srt', mode: 'listener', address: `127.0.0.1:${await freeUdpPort()}`, passphrase: SRT_PASSPHRASE },
    { kind: 'rtmp', listen: `127.0.0.1:${await freeTcpPort()}`, key: RTMP_KEY }
  ]
  const logs: string[] = []
  const origins: Origin[] = []
  t.after(async () => {
    for (const origin of origins) await origin.stop()
    source.close()
    await new Promise(resolve => setTimeout(resolve, 1200))
    await rm(dir, { recursive: true, force: true })
  })
  for (const [i, input] of inputs.entries()) {
    origins.push(await startOrigin({ room: `secrets-${i}`, dataDir: join(dir, `origin-${i}`), http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p'], input, log: line => logs.push(line) }))
  }
  const seen: string[] = []
  const end = Date.now() + 12_000
  let samples = 0
  while (Date.now() < end && samples < 40) {
    samples++
    seen.push((await promisify(execFile)('ps', ['-eo', 'args'])).stdout)
    for (const origin of origins) {
      for (const path of ['healthz', 'status', 'metrics']) seen.push(await (await fetch(new URL(path, origin.url))).text())
    }
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  assert.ok(httpRequests >= 2, `ffmpeg reached the HTTP source (${httpRequests} requests)`)
  assert.ok(seen.some(text => /ffmpeg .*-i /.test(text)), 'ffmpeg was running while ps was sampled')
  for (const secret of SECRETS) {
    assert.deepEqual(logs.filter(line => line.includes(secret)), [], `${secret} in the log`)
    const where = seen.find(text => text.includes(secret))
    assert.equal(where, undefined, `${secret} in ps or a status endpoint:\n${where?.split('\n').filter(l => l.includes(secret)).join('\n')}`)
  }
  // A web page elsewhere cannot read /healthz (it is for supervisors); /status stays open to the site.
  assert.equal((await fetch(new URL('healthz', origins[0]!.url))).headers.get('access-control-allow-origin'), null)
  assert.equal((await fetch(new URL('status', origins[0]!.url))).headers.get('access-control-allow-origin'), '*')
  // The description that holds the HTTP credentials is readable by the origin's user only.
  assert.equal((await stat(join(dir, 'origin-0', 'input.ffconcat'))).mode & 0o077, 0)
})
