import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { OriginFixture, removeDir, tempDir, waitFor } from './origin-fixture.ts'
import type { ChildProcess } from 'node:child_process'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const ROOM = 'janson'
const children: ChildProcess[] = []
let origin: OriginFixture | undefined
let dir: string | undefined

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await origin?.stop()
  await removeDir(dir)
})

function run (args: string[]): { child: ChildProcess, stdout: () => string, stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  return { child, stdout: () => out, stderr: () => err }
}

async function exitCode (child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const [code] = await once(child, 'exit') as [number | null]
  return code
}

test('usage errors print one line and a hint, and exit 2', async () => {
  const peer = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
  const configDir = await tempDir('cli-config')
  await writeFile(join(configDir, 'bad.yaml'), 'rooms: [janson]\nlimits:\n  maxConnectionsPerIp: many\n')
  const cases: Array<[string[], RegExp]> = [
    [['--room', 'janson'], /--origin is required/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`], /--room is required/],
    [['--origin', '/ip4/127.0.0.1/tcp/1', '--room', 'janson'], /no \/p2p\/<peer id> part/],
    [['--origin', 'nonsense', '--room', 'janson'], /not a multiaddr/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'Bad Room'], /invalid room name/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--room-key', 'xyz'], /room key "xyz"/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--http', '127.0.0.1:99999'], /--http/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--disk-quota', 'lots'], /--disk-quota "lots" is not a number of megabytes/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--retention', '0'], /more than 0 minutes/],
    [['--peer', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson'], /needs the room key/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--public-url', 'ftp://x'], /not an http\(s\) URL/],
    [['--bogus'], /Unknown option/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--tls-cert', 'cert.pem'], /--tls-cert and --tls-key go together/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--acme-domain', 'relay.example.org'], /--acme-domain and --acme-email go together/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--acme-domain', 'https://relay.example.org', '--acme-email', 'a@example.org'], /--acme-domain "https:\/\/relay\.example\.org" is not a domain name/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--acme-domain', 'relay.example.org', '--acme-email', 'a@example.org', '--https', '443'], /--https "443" is not host:port/],
    [['--origin', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--room', 'janson', '--announce', '203.0.113.7:4001'], /announce address "203\.0\.113\.7:4001" is not a multiaddr/],
    [['--config', join(configDir, 'bad.yaml')], /bad\.yaml: limits\.maxConnectionsPerIp must be a number of connections/]
  ]
  await Promise.all(cases.map(async ([args, message]) => {
    const { child, stderr, stdout } = run(args)
    assert.equal(await exitCode(child), 2, args.join(' '))
    const lines = stderr().trimEnd().split('\n')
    assert.equal(lines.length, 2, stderr())
    assert.match(lines[0]!, message)
    assert.match(lines[1]!, /^hint: hivecast-relay --help/)
    assert.equal(stdout(), '')
  }))
  const help = run(['--help'])
  assert.equal(await exitCode(help.child), 0)
  for (const option of ['--config', '--acme-domain', '--acme-email', '--acme-directory', '--acme-ca', '--acme-http', '--https', '--announce', '--tls-cert', '--tls-key', '--max-connections-per-ip', '--max-upload', '/hls/recordings/', '--origin', '--room', '--room-key', '--data', '--http', '--listen', '--peer', '--public-url', '--retention', '--playlist-length', '--log-level', '--disk-quota', '--max-connections', '--rate-limit', '/metrics', '/directory.json', 'Example:']) assert.ok(help.stdout().includes(option), option)
})

test('the relay takes its config file, flags override it; it prints its URLs when ready, a status line every 10 s, and stops cleanly on SIGTERM', async () => {
  dir = await tempDir('cli')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  // The file names the origin, the data dir and another room; the --room flag replaces the rooms.
  await writeFile(join(dir, 'relay.yaml'), `origins: [${origin.address}]\nrooms: [elsewhere]\ndata: ./relay\nhttp: 127.0.0.1:0\n`)
  const { child, stdout, stderr } = run(['--config', join(dir, 'relay.yaml'), '--room', ROOM])
  const [, httpUrl, libp2p] = await waitFor(`the ready lines (stderr: ${stderr()})`, () =>
    /^relay: (http:\/\/127\.0\.0\.1:\d+\/)\nrelay libp2p: (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW\w+)\n/.exec(stdout()) ?? undefined)
  const relayId = libp2p!.split('/p2p/')[1]!
  await origin.waitForSubscriber(relayId)
  const segment = await origin.publishSegment(0)
  await waitFor('the segment to be served', async () => (await fetch(new URL(`/ipfs/${segment.cid}`, httpUrl))).status === 200)
  const status = await waitFor('a status line', () => /status: janson: 1 segment held, 0 behind, 0 watching \(0 here\) \| \d+ requests, [\d.]+ MB served, \d+ clients? \| 1 peer, 1 relay in the directory\n/.exec(stdout()) ?? undefined, 25_000)
  assert.ok(status)
  child.kill('SIGTERM')
  assert.equal(await exitCode(child), 0, stderr())
})
