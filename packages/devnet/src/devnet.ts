/**
 * A whole Hivecast on one machine: an origin with the built-in test pattern, N relays following its
 * room, and optionally the site. Each is a real process on 127.0.0.1; the demo (`npm start`), the
 * multi-process tests and the benchmarks all start it the same way. Addresses come from each
 * origin's ready file and each relay's /status; their logs are for people.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RelayStatusJson } from '@hivecast/shared'
import type { ServiceReady } from '@hivecast/shared/node'
import { CountingProxy } from './counting-proxy.ts'
import { freeTcpPort } from './loopback-server.ts'
import { startService } from './service-process.ts'
import { readyFile, relayStatus } from './service-ready.ts'
import { startSiteServer } from './site-server.ts'
import type { ServiceProcess } from './service-process.ts'
import type { SiteServer } from './site-server.ts'
import type { TurnServer } from './turn-server.ts'

const ORIGIN_CLI = fileURLToPath(new URL('../../origin/src/cli.ts', import.meta.url))
const RELAY_CLI = fileURLToPath(new URL('../../relay/src/cli.ts', import.meta.url))

export interface DevnetOptions {
  room?: string
  title?: string
  relays?: number
  /** Origin rendition list, e.g. `360p`; the origin's default when absent. */
  renditions?: string
  /** Origin `--audio-track` values (interpretation), e.g. `de:Deutsch (interpretation):1`. */
  audioTracks?: string[]
  /** Origin `--captions`, e.g. `en:English`: a subtitle rendition (the test pattern's clock as cues). */
  captions?: string
  /** Turns on the origin's live captioner with this bearer token (written to a 0600 file for `--caption-token-file`). */
  captionToken?: string
  /** Turns on the origin's admin endpoint (last-minute recording opt-outs) with this bearer token (`--admin-token-file`). */
  adminToken?: string
  /** Origin `--input`, e.g. `tcp://127.0.0.1:9300` for a test-owned sender; the test pattern when absent. */
  originInput?: string
  /** Where the nodes keep keys and blocks; a fresh temporary directory (removed on stop) when absent. */
  dataDir?: string
  host?: string
  /** Fixed ports; 0 or absent picks free ones. */
  ports?: { origin?: number, originP2p?: number, relays?: number[], site?: number }
  site?: boolean
  /** Put a byte-counting TCP proxy in front of the origin's libp2p port: `devnet.originUpload`. */
  countOriginUpload?: boolean
  /** Relays pin every recording of the room and serve it (relay `--archive`), for the recordings page. */
  archive?: boolean
  /** Origin `--recording-interval` (seconds between interim recordings of the live session); the origin's default when absent. */
  recordingInterval?: number
  /**
   * Start a hot-standby origin too: same room, the test pattern (a listening `originInput` cannot be
   * shared), its own key, which the relays list after the primary's (each relay gets both as --origin);
   * it numbers its segments after the primary's.
   */
  standby?: boolean
  /** Further command-line options of each relay, by index (e.g. one relay's `--max-upload`). */
  relayArgs?: ReadonlyArray<readonly string[] | undefined>
  /** Origin `--part-duration` (seconds per LL-HLS part, 0: none); the origin's default when absent. */
  partDuration?: number
  /** The segment push between origin and relays; false: `--push-fanout 0` everywhere (relays fetch). Default on. */
  push?: boolean
  /** A STUN/TURN server every relay hands its viewers (`--ice-server`, `--turn-secret-file`). */
  turn?: Pick<TurnServer, 'turnUrl' | 'stunUrl' | 'secretFile'>
  /** Where the processes' lines go; null silences them. */
  log?: ((line: string) => void) | null
  /**
   * Where each process runs, instead of `host` on this machine: its own address and a command prefix
   * (the network lab puts each in a namespace: `ip netns exec hvlab-relay-1`).
   */
  placement?: { origin?: ServicePlacement, relays?: ServicePlacement[] }
  /** Relays serve HTTPS (`--tls-cert`, `--tls-key`) and their viewer WebSocket as `/tls/ws` with this certificate. */
  relayTls?: { certFile: string, keyFile: string }
}

export interface ServicePlacement {
  /** The address the process listens on (HTTP and libp2p). */
  host: string
  /** See `ServiceOptions.commandPrefix`. */
  commandPrefix?: string[]
}

export interface OriginHandle {
  process: ServiceProcess<ServiceReady>
  url: string
  multiaddr: string
  key: string
}

export interface RelayHandle {
  process: ServiceProcess<RelayStatusJson>
  url: string
  multiaddr: string
  /** The libp2p WebSocket address browser viewers dial, with `/p2p/<id>`. */
  wsMultiaddr: string | undefined
}

export interface Devnet {
  room: string
  dataDir: string
  origin: OriginHandle
  /** The hot-standby origin, when `standby` was set. */
  standby?: OriginHandle
  relays: RelayHandle[]
  site?: SiteServer
  /** Counts what the origin sends to relays, when `countOriginUpload` was set. */
  originUpload?: CountingProxy
  /** Starts relay `index` again (same data dir and ports) after it was stopped or killed. */
  restartRelay(index: number): Promise<RelayHandle>
  /** Starts the origin again (same data dir, key and ports) after it was stopped or killed; updates `origin`. */
  restartOrigin(): Promise<OriginHandle>
  stop(): Promise<void>
}

/** `http://127.0.0.1:8081/` -> `http://127.0.0.1:8081` */
function baseUrl (url: string): string {
  return url.replace(/\/$/, '')
}

function portOf (url: string): number {
  return Number(new URL(url).port)
}

/** The TCP port of a multiaddr (`/ip4/…/tcp/9090/…`), 0 when it has none. */
function tcpPortOf (multiaddr: string | undefined): number {
  return Number(/\/tcp\/(\d+)/.exec(multiaddr ?? '')?.[1] ?? 0)
}

/** An origin's handle from what it wrote to its ready file. */
function originHandle (process: ServiceProcess<ServiceReady>): OriginHandle {
  const multiaddr = process.ready.multiaddrs[0]
  if (multiaddr === undefined) throw new Error(`${process.name} listens on no libp2p address`)
  return { process, url: baseUrl(process.ready.url), multiaddr, key: process.ready.peerId }
}

export async function startDevnet (options: DevnetOptions = {}): Promise<Devnet> {
  const room = options.room ?? 'demo'
  const host = options.host ?? '127.0.0.1'
  const ownDataDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'hivecast-'))
  const started: Array<ServiceProcess<unknown>> = []
  let site: SiteServer | undefined

  // The origin, too, keeps its ports across restarts: relays redial the address they were given.
  let originPorts: { http: number, p2p: number } | undefined
  const startOrigin = async (): Promise<OriginHandle> => {
    const ready = join(dataDir, 'origin.ready.json')
    const originHost = options.placement?.origin?.host ?? host
    const args = [
      '--room', room,
      '--data', join(dataDir, 'origin'),
      '--http', `${originHost}:${originPorts?.http ?? options.ports?.origin ?? 0}`,
      '--listen', `/ip4/${originHost}/tcp/${originPorts?.p2p ?? options.ports?.originP2p ?? 0}`,
      '--ready-file', ready
    ]
    if (options.renditions !== undefined) args.push('--renditions', options.renditions)
    for (const track of options.audioTracks ?? []) args.push('--audio-track', track)
    if (options.captions !== undefined) args.push('--captions', options.captions)
    // Bearer tokens go to the origin in 0600 files, never on its command line.
    for (const [flag, token] of [['--caption-token-file', options.captionToken], ['--admin-token-file', options.adminToken]] as const) {
      if (token === undefined) continue
      const tokenFile = join(dataDir, flag.slice(2, -'-file'.length))
      // A given data directory (the demo's) may not exist yet: the origin makes its own subdirectory later.
      await mkdir(dataDir, { recursive: true })
      await writeFile(tokenFile, token, { mode: 0o600 })
      args.push(flag, tokenFile)
    }
    if (options.originInput !== undefined) args.push('--input', options.originInput)
    if (options.recordingInterval !== undefined) args.push('--recording-interval', String(options.recordingInterval))
    // A restarted primary numbers after the standby that took over meanwhile.
    if (standby !== undefined) args.push('--room-key', standby.key)
    if (options.push === false) args.push('--push-fanout', '0')
    if (options.partDuration !== undefined) args.push('--part-duration', String(options.partDuration))
    const process = await startService({ name: 'origin', script: ORIGIN_CLI, args, ready: readyFile(ready), log: options.log, commandPrefix: options.placement?.origin?.commandPrefix })
    started.push(process)
    const handle = originHandle(process)
    originPorts = { http: portOf(handle.url), p2p: tcpPortOf(handle.multiaddr) }
    return handle
  }

  // A relay keeps its ports across restarts, so peers that dial it find it again.
  const relayPorts: Array<{ http: number, p2p: number, ws: number }> = []
  let firstRelay: string | undefined
  const startRelay = async (index: number, originAddress: string): Promise<RelayHandle> => {
    // The relay has no ready file: devnet picks its HTTP port and asks its /status.
    const placement = options.placement?.relays?.[index]
    const relayHost = placement?.host ?? host
    const http = relayPorts[index]?.http ?? options.ports?.relays?.[index] ?? await freeTcpPort()
    const tls = options.relayTls
    const args = [
      '--origin', originAddress,
      '--room', room,
      '--data', join(dataDir, `relay-${index + 1}`),
      '--http', `${relayHost}:${http}`,
      '--listen', `/ip4/${relayHost}/tcp/${relayPorts[index]?.p2p ?? 0}`,
      // A page served over https may open only secure WebSockets.
      '--listen', `/ip4/${relayHost}/tcp/${relayPorts[index]?.ws ?? 0}/${tls === undefined ? 'ws' : 'tls/ws'}`
    ]
    if (tls !== undefined) args.push('--tls-cert', tls.certFile, '--tls-key', tls.keyFile)
    // Relays find each other through the directory; the first one is everyone's way in.
    if (index > 0 && firstRelay !== undefined) args.push('--peer', firstRelay)
    if (options.archive === true) args.push('--archive')
    if (standby !== undefined) args.push('--origin', standby.multiaddr)
    if (options.push === false) args.push('--push-fanout', '0')
    if (options.turn !== undefined) args.push('--ice-server', options.turn.stunUrl, '--ice-server', options.turn.turnUrl, '--turn-secret-file', options.turn.secretFile)
    args.push(...options.relayArgs?.[index] ?? [])
    const url = `${tls === undefined ? 'http' : 'https'}://${relayHost}:${http}`
    const process = await startService({ name: `relay-${index + 1}`, script: RELAY_CLI, args, ready: relayStatus(url), log: options.log, commandPrefix: placement?.commandPrefix })
    started.push(process)
    const multiaddr = process.ready.multiaddrs.find(a => !/\/wss?\//.test(a))
    if (multiaddr === undefined) throw new Error(`relay-${index + 1} listens on no libp2p TCP address`)
    const wsMultiaddr = process.ready.multiaddrs.find(a => a.includes('/ws/'))
    relayPorts[index] = { http, p2p: tcpPortOf(multiaddr), ws: tcpPortOf(wsMultiaddr) }
    if (index === 0) firstRelay = multiaddr
    return { process, url, multiaddr, wsMultiaddr }
  }

  let standby: OriginHandle | undefined
  let originUpload: CountingProxy | undefined
  const stop = async (): Promise<void> => {
    await site?.stop()
    await originUpload?.stop()
    await Promise.all(started.map(async p => await p.stop()))
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true })
  }

  try {
    const origin = await startOrigin()
    if (options.standby === true) {
      const ready = join(dataDir, 'origin-standby.ready.json')
      const args = ['--room', room, '--data', join(dataDir, 'origin-standby'), '--http', `${host}:0`, '--listen', `/ip4/${host}/tcp/0`, '--room-key', origin.key, '--ready-file', ready]
      if (options.renditions !== undefined) args.push('--renditions', options.renditions)
      for (const track of options.audioTracks ?? []) args.push('--audio-track', track)
      const process = await startService({ name: 'origin-standby', script: ORIGIN_CLI, args, ready: readyFile(ready), log: options.log })
      started.push(process)
      standby = originHandle(process)
    }
    let originAddress = origin.multiaddr
    if (options.countOriginUpload === true) {
      originUpload = await CountingProxy.start(tcpPortOf(origin.multiaddr))
      originAddress = `/ip4/${host}/tcp/${originUpload.port}/p2p/${origin.key}`
    }
    const relays: RelayHandle[] = []
    for (let i = 0; i < (options.relays ?? 2); i++) relays.push(await startRelay(i, originAddress))
    if (options.site === true) {
      site = await startSiteServer({
        relays: relays.map(r => r.url),
        // The standby's key after the primary's: players accept segments signed by either.
        rooms: [{ slug: room, title: options.title ?? 'Demo room (test pattern)', key: [origin.key, ...(standby === undefined ? [] : [standby.key])].join(' ') }],
        origins: [{ room, url: origin.url }]
      }, host, options.ports?.site ?? 0)
    }
    const devnet: Devnet = {
      room,
      dataDir,
      origin,
      standby,
      relays,
      site,
      originUpload,
      restartRelay: async (index: number) => {
        const relay = await startRelay(index, originAddress)
        relays[index] = relay
        return relay
      },
      restartOrigin: async () => {
        devnet.origin = await startOrigin()
        return devnet.origin
      },
      stop
    }
    return devnet
  } catch (err) {
    await stop()
    throw err
  }
}
