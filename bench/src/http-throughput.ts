/**
 * Relay HTTP throughput against nginx: the same segments, the same load generator (wrk, many
 * connections, rotating over the segments), one after the other in one run. nginx gets one worker,
 * as the relay is one Node process. Also the relay's peak memory (VmHWM) over its whole life.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freeTcpPort, startDevnet } from '@hivecast/devnet'
import { summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

const run = promisify(execFile)

interface WrkRun {
  requestsPerSecond: number
  megabytesPerSecond: number
  errors: number
}

export interface ServerThroughput {
  requestsPerSecond: Summary
  megabytesPerSecond: Summary
  errors: number
}

export interface HttpThroughputResult {
  segments: number
  meanSegmentBytes: number
  connections: number
  seconds: number
  /** Alternating relay/nginx rounds, so drift on a noisy machine hits both alike. */
  rounds: number
  relay: ServerThroughput
  nginx: ServerThroughput
  /** Median relay requests/s divided by median nginx requests/s. */
  ratio: number
  relayPeakRssMiB: number
}

async function requireTool (name: string, pkg: string): Promise<void> {
  try {
    await run('sh', ['-c', `command -v ${name}`])
  } catch {
    throw new Error(`${name} is not installed: it is needed for this benchmark (apt-get install ${pkg})`)
  }
}

/** wrk with a Lua script that walks the paths round robin; parses its summary. */
async function wrk (base: string, paths: string[], connections: number, seconds: number, dir: string): Promise<WrkRun> {
  const script = join(dir, `paths-${Date.now()}.lua`)
  await writeFile(script, `local paths = {${paths.map(p => `"${p}"`).join(',')}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`)
  const { stdout } = await run('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '-s', script, base], { timeout: (seconds + 30) * 1000 })
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)
  const transfer = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(stdout)
  if (rps === null || transfer === null) throw new Error(`unexpected wrk output:\n${stdout}`)
  const unit = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 }[transfer[2]!] ?? 1
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
  return {
    requestsPerSecond: Number(rps[1]),
    megabytesPerSecond: Number(transfer[1]) * unit,
    errors: Number(errors?.[1] ?? 0) + (socketErrors?.slice(1).reduce((n, v) => n + Number(v), 0) ?? 0)
  }
}

async function peakRssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status)
  if (hwm === null) throw new Error(`no VmHWM for process ${pid}`)
  return Number(hwm[1]) / 1024
}

export async function measureHttpThroughput (options: { segments: number, connections: number, seconds: number, rounds: number }): Promise<HttpThroughputResult> {
  await requireTool('wrk', 'wrk')
  await requireTool('nginx', 'nginx-light')
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-bench-http-'))
  const devnet = await startDevnet({ relays: 1, renditions: '360p', log: null })
  let nginx: ReturnType<typeof spawn> | undefined
  try {
    const relay = devnet.relays[0]!
    const playlistUrl = `${relay.url}/hls/${devnet.room}/360p.m3u8`
    let cids: string[] = []
    const deadline = Date.now() + options.segments * 2000 + 30_000
    while (cids.length < options.segments) {
      if (Date.now() > deadline) throw new Error(`the relay listed only ${cids.length} segments in time`)
      await new Promise(resolve => setTimeout(resolve, 1000))
      const res = await fetch(playlistUrl)
      if (!res.ok) continue
      cids = (await res.text()).split('\n').filter(l => l.startsWith('/ipfs/')).map(l => new URL(l, relay.url).pathname.slice(6))
    }
    cids = cids.slice(0, options.segments)
    // The same bytes as files for nginx.
    const root = join(dir, 'www', 'ipfs')
    await mkdir(root, { recursive: true })
    let total = 0
    for (const cid of cids) {
      const bytes = new Uint8Array(await (await fetch(`${relay.url}/ipfs/${cid}?format=raw`)).arrayBuffer())
      total += bytes.length
      await writeFile(join(root, cid), bytes)
    }
    const nginxPort = await freeTcpPort()
    await writeFile(join(dir, 'nginx.conf'), `
daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${join(dir, 'nginx.pid')};
error_log stderr;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${nginxPort};
    root ${join(dir, 'www')};
    location /ipfs/ { default_type application/vnd.ipld.raw; add_header Cache-Control "public, max-age=29030400, immutable"; }
  }
}
`)
    await mkdir(join(dir, 'tmp'), { recursive: true })
    nginx = spawn('nginx', ['-e', 'stderr', '-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] })
    let nginxErrors = ''
    nginx.stderr?.on('data', (chunk: Buffer) => { nginxErrors += chunk.toString() })
    const nginxUrl = `http://127.0.0.1:${nginxPort}`
    const nginxDeadline = Date.now() + 10_000
    while (!(await fetch(`${nginxUrl}/ipfs/${cids[0]!}`).then(r => r.ok, () => false))) {
      if (Date.now() > nginxDeadline) throw new Error(`nginx did not start: ${nginxErrors}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const paths = cids.map(cid => `/ipfs/${cid}?format=raw`)
    const relayRuns: WrkRun[] = []
    const nginxRuns: WrkRun[] = []
    for (let round = 0; round < options.rounds; round++) {
      relayRuns.push(await wrk(relay.url, paths, options.connections, options.seconds, dir))
      nginxRuns.push(await wrk(nginxUrl, paths, options.connections, options.seconds, dir))
    }
    const combine = (runs: WrkRun[]): ServerThroughput => ({
      requestsPerSecond: summarize(runs.map(r => r.requestsPerSecond)),
      megabytesPerSecond: summarize(runs.map(r => r.megabytesPerSecond)),
      errors: runs.reduce((n, r) => n + r.errors, 0)
    })
    const relayResult = combine(relayRuns)
    const nginxResult = combine(nginxRuns)
    return {
      segments: cids.length,
      meanSegmentBytes: Math.round(total / cids.length),
      connections: options.connections,
      seconds: options.seconds,
      rounds: options.rounds,
      relay: relayResult,
      nginx: nginxResult,
      ratio: relayResult.requestsPerSecond.p50 / nginxResult.requestsPerSecond.p50,
      relayPeakRssMiB: await peakRssMiB(relay.process.child.pid!)
    }
  } finally {
    nginx?.kill('SIGTERM')
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
