/**
 * What a volunteer or a web site gets from the registry: each publishable package is packed with
 * `npm pack` (its prepack builds dist/), the tarballs are installed into an empty directory outside
 * the repository (their dependencies come from the registry), and only that install is used: both
 * CLIs answer --help/--version, an origin (test pattern) and a relay run from it and the relay serves
 * segments whose bytes hash to their CIDs, and Chromium plays the room in two pages outside the
 * monorepo: one bundled by esbuild from `import '@hivecast/player'`, one loading the prebuilt
 * `hivecast-player.js` + CSS with a plain `<script type="module">`.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { eventually, freeTcpPort, listenOnLoopback, readyFile, relayStatus, startService } from '@hivecast/devnet'
import type { LoopbackServer, ServiceProcess } from '@hivecast/devnet'
import { tryParseCid } from '@hivecast/shared'
import { launchChromium } from './src/chromium.ts'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('..', import.meta.url))
const ROOM = 'packaged'
const PUBLISHABLE = ['@hivecast/shared', '@hivecast/origin', '@hivecast/relay', '@hivecast/player']
// npm and the installed CLIs' `#!/usr/bin/env node` find the repository's pinned Node first.
const ENV = { ...process.env, PATH: `${join(REPO, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` }

interface PackedFile { path: string, size: number }
interface PackResult { name: string, filename: string, size: number, files: PackedFile[] }
interface SegmentStat { cid: string, source: string, verified: boolean }
interface Stats { state: string, segmentsVerified: number, segmentsRejected: number, segments: SegmentStat[] }

const started = performance.now()
const work = await mkdtemp(join(tmpdir(), 'hivecast-packaging-'))
const tarballs = join(work, 'tarballs')
const install = join(work, 'site')
const services: Array<ServiceProcess<unknown>> = []
let packed: PackResult[] = []
let installSeconds = 0 // the relay's, from its tarball
let pages: LoopbackServer | undefined
let relayUrl = ''
let roomKey = ''

after(async () => {
  await pages?.close()
  for (const service of services.reverse()) await service.stop()
  await rm(work, { recursive: true, force: true })
  const sizes = packed.map(p => `${p.name} ${(p.size / 1024).toFixed(0)} KiB`).join(', ')
  console.log(`packaging: tarballs ${sizes}; relay install ${installSeconds.toFixed(1)} s; whole test ${((performance.now() - started) / 1000).toFixed(1)} s`)
})

const bin = (name: string): string => join(install, 'node_modules', '.bin', name)

before(async () => {
  await mkdir(tarballs)
  await mkdir(install)
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tarballs, ...PUBLISHABLE.flatMap(name => ['-w', name])], { cwd: REPO, env: ENV, maxBuffer: 64 * 1024 * 1024 })
  // prepack's build output precedes the JSON on stdout.
  packed = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as PackResult[]
  const tarball = (name: string): string => `file:${join(tarballs, packed.find(p => p.name === name)!.filename)}`
  const npmInstall = async (names: string[]): Promise<void> => {
    await writeFile(join(install, 'package.json'), JSON.stringify({
      name: 'hivecast-packaging-check',
      private: true,
      type: 'module',
      dependencies: Object.fromEntries(names.map(name => [name, tarball(name)])),
      // The packages depend on @hivecast/shared by version: it must be this tarball, not a registry lookup.
      overrides: { '@hivecast/shared': tarball('@hivecast/shared') }
    }))
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: install, env: ENV, maxBuffer: 64 * 1024 * 1024 })
  }
  // The relay first and alone, as a volunteer installs it, to time that; then the rest beside it.
  const t0 = performance.now()
  await npmInstall(['@hivecast/relay'])
  installSeconds = (performance.now() - t0) / 1000
  await npmInstall(PUBLISHABLE)
})

test('the tarballs carry dist with .d.ts files and no tests', () => {
  assert.deepEqual(packed.map(p => p.name).sort(), [...PUBLISHABLE].sort())
  for (const p of packed) {
    const paths = p.files.map(f => f.path)
    assert.ok(paths.some(path => path.startsWith('dist/') && path.endsWith('.d.ts')), `${p.name} has no .d.ts`)
    assert.deepEqual(paths.filter(path => path.startsWith('test/') || /\.test\.[jt]s$/.test(path)), [], `${p.name} ships tests`)
    assert.deepEqual(paths.filter(path => path.endsWith('.ts') && !path.endsWith('.d.ts')), [], `${p.name} ships TypeScript sources Node will not run under node_modules`)
    assert.ok(paths.includes('package.json'))
  }
  const player = packed.find(p => p.name === '@hivecast/player')!.files.map(f => f.path)
  assert.ok(player.includes('dist/hivecast-player.js') && player.includes('dist/hivecast-player.css'))
})

test('every @hivecast package in the install is one of the tarballs', async () => {
  const lock = JSON.parse(await readFile(join(install, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> }
  const ours = Object.entries(lock.packages).filter(([path]) => path.includes('node_modules/@hivecast/'))
  assert.equal(ours.length, PUBLISHABLE.length, ours.map(([path]) => path).join(', '))
  for (const [path, entry] of ours) assert.match(entry.resolved ?? '', /^file:.*\.tgz$/, `${path} came from ${entry.resolved}`)
})

test('no Vite-only ?inline import is left in the installed player', async () => {
  const dist = join(install, 'node_modules', '@hivecast', 'player', 'dist')
  for (const name of (await readdir(dist)).filter(n => n.endsWith('.js'))) {
    assert.doesNotMatch(await readFile(join(dist, name), 'utf8'), /\?inline['"]/, `${name} imports with ?inline`)
  }
})

test('the installed CLIs answer --help and --version', async () => {
  const version = async (name: string): Promise<string> => JSON.parse(await readFile(join(install, 'node_modules', '@hivecast', name, 'package.json'), 'utf8')).version as string
  assert.equal((await run(bin('hivecast-relay'), ['--version'], { env: ENV })).stdout, `hivecast-relay ${await version('relay')}\n`)
  assert.equal((await run(bin('hivecast-origin'), ['--version'], { env: ENV })).stdout, `hivecast-origin ${await version('origin')}\n`)
  assert.match((await run(bin('hivecast-relay'), ['--help'], { env: ENV })).stdout, /Usage: hivecast-relay --origin <multiaddr> --room <slug>/)
})

test('an installed origin and relay serve segments whose bytes hash to their CIDs', async () => {
  const ready = join(work, 'origin.ready.json')
  const origin = await startService({
    name: 'origin',
    script: bin('hivecast-origin'),
    log: null,
    readyTimeoutMs: 60_000,
    ready: readyFile(ready),
    args: ['--room', ROOM, '--data', join(work, 'origin'), '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--renditions', '360p', '--ready-file', ready]
  })
  services.push(origin)
  roomKey = origin.ready.peerId
  relayUrl = `http://127.0.0.1:${await freeTcpPort()}`
  const relay = await startService({
    name: 'relay',
    script: bin('hivecast-relay'),
    log: null,
    readyTimeoutMs: 60_000,
    ready: relayStatus(relayUrl),
    args: ['--origin', origin.ready.multiaddrs[0]!, '--room', ROOM, '--data', join(work, 'relay'), '--http', relayUrl.replace('http://', ''),
      '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0/ws']
  })
  services.push(relay)

  const uris = await eventually('three segments in the relay playlist', async () => {
    const res = await fetch(`${relayUrl}/hls/${ROOM}/360p.m3u8`)
    if (!res.ok) return undefined
    const found = (await res.text()).split('\n').filter(line => line.startsWith('/ipfs/'))
    return found.length >= 3 ? found : undefined
  }, 60_000)
  for (const uri of uris.slice(-3)) {
    const cid = tryParseCid(/^\/ipfs\/([^?]+)/.exec(uri)![1]!)
    assert.ok(cid !== undefined, `${uri} names a CID`)
    const res = await fetch(`${relayUrl}${uri}`)
    assert.equal(res.status, 200)
    const digest = createHash('sha256').update(new Uint8Array(await res.arrayBuffer())).digest()
    assert.deepEqual(new Uint8Array(digest), cid.multihash.digest, `${uri}: the bytes do not hash to the CID`)
  }
})

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' }

/** A static web server for the install directory: the pages and the packages' files, as any host serves them. */
async function servePages (): Promise<LoopbackServer> {
  const server = createServer((req, res) => {
    const path = normalize(join(install, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)))
    if (!path.startsWith(install)) {
      res.writeHead(403).end()
      return
    }
    stat(path).then(info => {
      if (!info.isFile()) throw new Error('not a file')
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' })
      createReadStream(path).pipe(res)
    }, () => { res.writeHead(404).end() })
  })
  return await listenOnLoopback(server)
}

async function writePages (): Promise<void> {
  const dir = join(install, 'pages')
  await mkdir(dir)
  await writeFile(join(dir, 'bundled-entry.js'), `import { mountPlayer } from '@hivecast/player'
const params = new URLSearchParams(location.search)
window.hivecastPlayer = mountPlayer(document.querySelector('#stage'), { room: params.get('room'), roomKey: params.get('key'), relays: [params.get('relay')] })
`)
  await build({
    entryPoints: [join(dir, 'bundled-entry.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: join(dir, 'bundled'),
    absWorkingDir: install,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error'
  })
  await writeFile(join(dir, 'bundled.html'), `<!doctype html><meta charset="utf-8"><title>bundled</title>
<link rel="stylesheet" href="bundled/bundled-entry.css"><div id="stage"></div>
<script type="module" src="bundled/bundled-entry.js"></script>
`)
  await writeFile(join(dir, 'element.html'), `<!doctype html><meta charset="utf-8"><title>element</title>
<link rel="stylesheet" href="../node_modules/@hivecast/player/dist/hivecast-player.css">
<script type="module" src="../node_modules/@hivecast/player/dist/hivecast-player.js"></script>
<script type="module">
  const params = new URLSearchParams(location.search)
  const player = document.createElement('hivecast-player')
  player.setAttribute('room', params.get('room'))
  player.setAttribute('key', params.get('key'))
  player.setAttribute('relays', params.get('relay'))
  document.body.append(player)
  window.hivecastPlayer = player
</script>
`)
}

test('Chromium plays the installed room from an esbuild bundle and from the prebuilt element', async () => {
  assert.notEqual(relayUrl, '', 'the origin and relay test ran first')
  await writePages()
  pages = await servePages()
  const browser = await launchChromium()
  try {
    for (const page of ['bundled.html', 'element.html']) {
      const tab = await browser.newPage()
      const problems: string[] = []
      tab.on('pageerror', err => { problems.push(err.message) })
      await tab.goto(`${pages.url}/pages/${page}?room=${ROOM}&key=${roomKey}&relay=${encodeURIComponent(relayUrl)}`)
      const currentTime = async (): Promise<number> => await tab.evaluate(() => {
        const host = (window as unknown as { hivecastPlayer: Element }).hivecastPlayer
        return (host.shadowRoot ?? document).querySelector('video')?.currentTime ?? 0
      })
      const start = await eventually(`${page} to start playing`, async () => await currentTime() > 0.5 ? await currentTime() : undefined, 60_000)
      await eventually(`${page} to play 3 s more`, async () => await currentTime() - start >= 3 ? true : undefined, 30_000)
      const stats = await tab.evaluate(() => (window as unknown as { hivecastPlayer: { stats(): Stats } }).hivecastPlayer.stats())
      assert.notEqual(stats.state, 'error', page)
      assert.ok(stats.segmentsVerified >= 3, `${page}: ${stats.segmentsVerified} segments verified`)
      assert.equal(stats.segmentsRejected, 0, page)
      assert.ok(stats.segments.every(segment => segment.verified), `${page}: a segment was used unverified`)
      assert.deepEqual(problems, [], `${page}: page errors`)
      await tab.close()
    }
  } finally {
    await browser.close()
  }
})
