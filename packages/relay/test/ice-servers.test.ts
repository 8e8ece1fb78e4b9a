/**
 * `/ice-servers.json` against a real TURN server: coturn with a shared secret, a relay that knows the
 * secret, and coturn's own client allocating a relayed address with the credentials the relay handed
 * out (and failing with a tampered one). The credentials expire after --turn-ttl.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { parseIceServers, relayRoutes, relayUrl } from '@hivecast/shared'
import { startRelay } from '../src/index.ts'
import { parseCommandLine } from '../src/relay-command-line.ts'
import { startTurnServer } from '@hivecast/devnet'
import { removeDir, tempDir } from './origin-fixture.ts'
import type { TurnServer } from '@hivecast/devnet'
import type { Relay } from '../src/index.ts'
import type { RelayOptions } from '../src/relay-options.ts'

const run = promisify(execFile)
const TTL_MINUTES = 30

let dir: string | undefined
let turn: TurnServer | undefined
let relay: Relay | undefined

before(async () => {
  dir = await tempDir('ice')
  turn = await startTurnServer()
  // The options as a volunteer writes them, through the command line's checks.
  const options = await parseCommandLine(['--origin', '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', '--room', 'ice',
    '--data', join(dir, 'relay'), '--http', '127.0.0.1:0', '--ice-server', turn.stunUrl,
    '--ice-server', turn.turnUrl, '--turn-secret-file', turn.secretFile, '--turn-ttl', String(TTL_MINUTES)], {})
  assert.equal(typeof options, 'object')
  relay = await startRelay({ ...options as RelayOptions, log: () => {} })
})

after(async () => {
  await relay?.stop()
  await turn?.stop()
  await removeDir(dir)
})

/** coturn's client: allocate a relayed address with these credentials and send a few packets through it. */
async function allocate (username: string, credential: string): Promise<boolean> {
  try {
    await run('turnutils_uclient', ['-p', String(turn!.port), '-u', username, '-w', credential, '-n', '3', '-m', '1', '-y', '-e', '127.0.0.1', '127.0.0.1'], { timeout: 15_000 })
    return true
  } catch {
    return false
  }
}

test('a viewer gets STUN and TURN servers with credentials the TURN server accepts, and that expire', async () => {
  const res = await fetch(relayUrl(relay!.url, relayRoutes.iceServers()))
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('cache-control'), 'no-store')
  assert.equal(res.headers.get('access-control-allow-origin'), '*')
  const doc = parseIceServers(await res.json())
  assert.deepEqual(doc.iceServers[0], { urls: [turn!.stunUrl] })
  const turnServer = doc.iceServers[1]
  assert.deepEqual(turnServer?.urls, [turn!.turnUrl])
  assert.ok(doc.expiresAt !== null && Math.abs(doc.expiresAt - (Date.now() + TTL_MINUTES * 60_000)) < 5_000, `expires in ${TTL_MINUTES} minutes: ${String(doc.expiresAt)}`)
  assert.equal(turnServer.username, `${doc.expiresAt / 1000}:hivecast`)
  const secret = (await readFile(turn!.secretFile, 'utf8')).trim()
  assert.ok(!JSON.stringify(doc).includes(secret), 'the shared secret never leaves the relay')

  assert.equal(await allocate(turnServer.username, turnServer.credential!), true, 'coturn allocates with the relay\'s credentials')
  const tampered = turnServer.credential!.startsWith('A') ? `B${turnServer.credential!.slice(1)}` : `A${turnServer.credential!.slice(1)}`
  assert.equal(await allocate(turnServer.username, tampered), false, 'coturn refuses a tampered credential')
  // A credential is bound to its expiry: moving the expiry (to live longer) breaks it.
  const extended = `${doc.expiresAt / 1000 + 86_400}:hivecast`
  assert.equal(await allocate(extended, turnServer.credential!), false, 'coturn refuses the credential with another expiry')
})

test('TURN without its secret is refused at start, saying what to add', async () => {
  await assert.rejects(parseCommandLine(['--origin', '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', '--room', 'ice', '--ice-server', 'turn:127.0.0.1:3478'], {}), /--turn-secret-file/)
  await assert.rejects(parseCommandLine(['--origin', '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', '--room', 'ice', '--ice-server', 'http://stun.example.org'], {}), /--ice-server.*not a STUN or TURN URL/)
  await assert.rejects(startRelay({ origins: ['/ip4/127.0.0.1/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'], rooms: ['ice'], dataDir: join(dir!, 'bad'), http: { host: '127.0.0.1', port: 0 }, iceServers: ['turn:127.0.0.1:3478'], turnSecretFile: join(dir!, 'missing'), log: () => {} }), /cannot read --turn-secret-file .*ENOENT/)
})
