import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

interface Exit { code: number | null, signal: NodeJS.Signals | null }

function run (args: string[]): { child: ChildProcess, stdout: () => string, stderr: () => string, exited: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
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
  ['a bad --http', ['--room', 'a', '--http', 'localhost'], /invalid address "localhost"/],
  ['a bad --segment-duration', ['--room', 'a', '--segment-duration', 'x'], /--segment-duration must be a number/],
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

test('--help explains every option with an example', async () => {
  const cli = run(['--help'])
  assert.equal((await cli.exited).code, 0)
  for (const option of ['--config', '--room', '--title', '--input', '--data', '--http', '--listen', '--renditions', '--segment-duration', '--thumbnail-interval', '--slate', '--room-key', 'source',
    'rtmp://', 'srt://', 'udp://', 'tcp://', 'http(s)://', 'file:', 'test-pattern', '/metrics', 'rooms:', 'segmentDuration:', 'Examples']) {
    assert.ok(cli.stdout().includes(option), `help mentions ${option}`)
  }
})

test('the CLI prints its ready lines, serves /healthz and exits 0 on SIGTERM', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-origin-cli-'))
  const cli = run(['--room', 'cli-test', '--data', dir, '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--renditions', '240p'])
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
  const [, url, , peerId, key] = ready
  assert.equal(peerId, key, 'the libp2p address carries the room key')
  assert.match(cli.stdout(), /^ffmpeg: \S+ \(from (PATH|FFMPEG_PATH|@ffmpeg-installer\/ffmpeg)\)$/m)

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
