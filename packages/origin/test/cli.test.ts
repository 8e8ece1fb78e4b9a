import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { ChildProcess } from 'node:child_process'
import { freeTcpPort } from '@hivecast/devnet'
import { readReadyFile } from '@hivecast/shared/node'
import { ORIGIN_FLAGS } from '../src/origin-options.ts'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

interface Exit { code: number | null, signal: NodeJS.Signals | null }

function run (args: string[], env: Record<string, string> = {}): { child: ChildProcess, stdout: () => string, stderr: () => string, exited: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s })
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s })
  const exited = new Promise<Exit>(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
  return { child, stdout: () => out, stderr: () => err, exited }
}

for (const [why, args, message] of [
  ['an unknown flag', ['--room', 'a', '--bogus'], /unknown option '--bogus'/i],
  ['a missing --room', [], /--room is required/],
  ['a bad room name', ['--room', 'Bad Room'], /invalid room name/],
  ['an unknown rendition', ['--room', 'a', '--renditions', '720p,4k'], /unknown rendition "4k"/],
  ['a bad --http', ['--room', 'a', '--http', 'localhost'], /"localhost" is not host:port/],
  ['a bad --segment-duration', ['--room', 'a', '--segment-duration', 'x'], /--segment-duration must be a number/],
  ['a --thumbnail-interval out of range', ['--room', 'a', '--thumbnail-interval', '0.5'], /invalid thumbnail interval 0\.5/],
  ['a bad --log-level', ['--room', 'a', '--log-level', 'loud'], /--log-level "loud" is not a log level: use one of error, warn, info, debug/],
  ['a bad --push-fanout', ['--room', 'a', '--push-fanout', '9'], /invalid push fan-out 9: give the number of relays/],
  ['a bad --input', ['--room', 'a', '--input', 'rtmp://0.0.0.0:1935/live/short'], /not a usable stream key/],
  ['a missing --config file', ['--config', '/nonexistent/rooms.yaml'], /cannot read --config \/nonexistent\/rooms\.yaml/]
] as const) {
  test(`the CLI exits 2 with one clear line on ${why}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivecast-origin-cli-'))
    try {
      const cli = run([...args, '--data', dir])
      const { code } = await cli.exited
      assert.equal(code, 2, cli.stderr())
      assert.match(cli.stderr(), message)
      assert.match(cli.stderr(), /--help/)
      assert.equal(cli.stdout(), '')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
}

test('--help explains every flag of the option table, and the inputs, the config file and examples', async () => {
  const cli = run(['--help'])
  assert.equal((await cli.exited).code, 0)
  for (const flag of ORIGIN_FLAGS) {
    const usage = `--${flag.name}${flag.value === undefined ? '' : ` ${flag.value}`}`
    assert.ok(cli.stdout().includes(usage), `help lists ${usage}`)
    assert.ok(cli.stdout().includes(flag.help.split('\n')[0]!), `help explains --${flag.name}`)
  }
  for (const topic of ['source', 'rtmp://', 'srt://', 'udp://', 'tcp://', 'http(s)://', 'file:', 'test-pattern', '/metrics', 'rooms:', 'segmentDuration:', 'LOG_LEVEL', 'Examples']) {
    assert.ok(cli.stdout().includes(topic), `help mentions ${topic}`)
  }
})

test('every flag of the option table is accepted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-origin-flags-'))
  // --help last: everything before it must parse, then the CLI exits 0 without starting.
  const values: Record<string, string> = {
    config: join(dir, 'rooms.yaml'),
    room: 'a',
    title: 'A',
    input: 'test-pattern',
    slate: 'brb.png',
    data: dir,
    http: '127.0.0.1:0',
    listen: '/ip4/127.0.0.1/tcp/0',
    renditions: '240p',
    'audio-track': 'de:Deutsch:1',
    'segment-duration': '1',
    'part-duration': '0.333',
    'room-key': '12D3KooWLrxRhgsFHHotNZL6Fsiq5XdjxhMzHKeRdmhNMLfnvHG5',
    'thumbnail-interval': '0',
    'recording-interval': '60',
    schedule: 'schedule.xml',
    'admin-token-file': 'admin-token',
    captions: 'en:English',
    'caption-token-file': 'caption-token',
    'ready-file': join(dir, 'ready.json'),
    'push-fanout': '1',
    'log-level': 'debug'
  }
  try {
    await writeFile(join(dir, 'rooms.yaml'), 'rooms: [{ slug: a }]\n')
    const args = ORIGIN_FLAGS.filter(f => f.value !== undefined).flatMap(f => {
      const value = values[f.name]
      assert.ok(value !== undefined, `a value for --${f.name}`)
      return [`--${f.name}`, value]
    })
    const cli = run([...args, '--help'])
    const exit = await cli.exited
    assert.equal(exit.code, 0, cli.stderr())
    assert.match(cli.stdout(), /^Usage: hivecast-origin/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('the CLI prints its ready lines, serves /healthz and exits 0 on SIGTERM', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-origin-cli-'))
  const readyFile = join(dir, 'ready.json')
  const cli = run(['--room', 'cli-test', '--data', dir, '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--renditions', '240p', '--ready-file', readyFile])
  t.after(async () => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
    await cli.exited
    await rm(dir, { recursive: true, force: true })
  })
  const deadline = Date.now() + 20_000
  let ready: RegExpExecArray | null = null
  while (ready === null && Date.now() < deadline) {
    ready = /^origin: (http:\/\/127\.0\.0\.1:\d+\/)\norigin libp2p: (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/(\S+))\nroom key: (\S+)$/m.exec(cli.stdout())
    if (ready === null) await new Promise(resolve => setTimeout(resolve, 100))
  }
  assert.ok(ready !== null, `ready lines in:\n${cli.stdout()}\n${cli.stderr()}`)
  const [, url, multiaddr, peerId, key] = ready
  assert.equal(peerId, key, 'the libp2p address carries the room key')
  const written = await readReadyFile(readyFile)
  assert.deepEqual({ ...written, multiaddrs: written?.multiaddrs.slice(0, 1) }, { service: 'origin', pid: cli.child.pid, url, multiaddrs: [multiaddr], peerId: key, inputs: [] }, 'the ready file says what the ready lines say')
  assert.match(cli.stdout(), /^ffmpeg: \S+ \(from (PATH|FFMPEG_PATH)\)$/m)

  let health = await fetch(new URL('healthz', url))
  assert.equal(health.status, 503, 'unhealthy before the first segment')
  assert.match(await health.text(), /no segment published yet/)
  while (health.status !== 200 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 200))
    health = await fetch(new URL('healthz', url))
  }
  assert.equal(health.status, 200)

  cli.child.kill('SIGTERM')
  const exit = await cli.exited
  assert.equal(exit.code, 0, cli.stderr())
})

async function withConfig (yaml: string, body: (file: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-origin-config-'))
  try {
    await writeFile(join(dir, 'rooms.yaml'), yaml)
    await body(join(dir, 'rooms.yaml'), dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('an invalid --config stops with exit 2, naming the field and the fix', async () => {
  await withConfig('rooms:\n  - slug: a\n    input: { kind: rtmp, listen: "0.0.0.0:1935" }\n', async file => {
    const cli = run(['--config', file])
    assert.equal((await cli.exited).code, 2)
    assert.match(cli.stderr(), /rooms\.yaml: rooms\[0\]\.input\.key is missing: an rtmp input has kind, listen and key/)
  })
  await withConfig('rooms: [{ slug: a }, { slug: b }]\n', async file => {
    const cli = run(['--config', file])
    assert.equal((await cli.exited).code, 2)
    assert.match(cli.stderr(), /lists several rooms \(a, b\): choose one with --room/)
  })
})

test('--config picks the room with --room, and flags override its settings', async t => {
  await withConfig('rooms:\n  - slug: other\n  - slug: cfg-room\n    title: Config Hall\n    renditions: [240p]\n    http: 127.0.0.1:1\n    data: ./data\n', async (file, dir) => {
    const cli = run(['--config', file, '--room', 'cfg-room', '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    t.after(async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
      await cli.exited
    })
    const deadline = Date.now() + 20_000
    let url: string | undefined
    while (url === undefined && Date.now() < deadline) {
      url = /^origin: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(cli.stdout())?.[1]
      if (url === undefined) await new Promise(resolve => setTimeout(resolve, 100))
    }
    assert.ok(url !== undefined, `ready line in:\n${cli.stdout()}\n${cli.stderr()}`)
    const status = await (await fetch(new URL('status', url))).json() as { room: string, title: string, renditions: Array<{ name: string }>, input: { kind: string } }
    assert.equal(status.room, 'cfg-room')
    assert.equal(status.title, 'Config Hall')
    assert.deepEqual(status.renditions.map(r => r.name), ['240p'])
    assert.equal(status.input.kind, 'test-pattern')
    cli.child.kill('SIGTERM')
    assert.equal((await cli.exited).code, 0, cli.stderr())
    // data: is relative to the config file.
    await access(join(dir, 'data', 'state.json'))
  })
})

test('input secrets come from the environment, out of ps; a config file others can read is warned about', async t => {
  const port = await freeTcpPort()
  await withConfig(`rooms:\n  - slug: env-room\n    input: { kind: rtmp, listen: "127.0.0.1:${port}", key: config-key-0123 }\n    renditions: [240p]\n`, async (file, dir) => {
    const cli = run(['--config', file, '--data', join(dir, 'data'), '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0',
      '--input', `rtmp://127.0.0.1:${port}/live`], { HIVECAST_RTMP_KEY: 'env-key-0123456789' })
    t.after(async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
      await cli.exited
    })
    const deadline = Date.now() + 20_000
    while (!/^origin: http/m.test(cli.stdout()) && Date.now() < deadline && cli.child.exitCode === null) await new Promise(resolve => setTimeout(resolve, 100))
    assert.match(cli.stdout(), /^origin: http/m, cli.stderr())
    const ps = (await promisify(execFile)('ps', ['-eo', 'args'])).stdout
    assert.ok(!ps.includes('env-key-0123456789') && !ps.includes('config-key-0123'), 'no key in any argv')
    assert.match(cli.stderr(), /other users may read it \(mode 6[0-7]4\): chmod 600/)
    cli.child.kill('SIGTERM')
    assert.equal((await cli.exited).code, 0, cli.stderr())
  })
})
