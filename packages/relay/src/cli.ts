#!/usr/bin/env node
/**
 * `hivecast-relay`: runs a volunteer relay for one or more rooms until SIGINT/SIGTERM, printing its
 * URLs when ready and a status line every 10 s.
 */
import { parseArgs } from 'node:util'
import { DEFAULT_HTTP, DEFAULT_LISTEN, startRelay, validateRelayOptions } from './relay.ts'
import { loadRelayConfig } from './relay-config.ts'
import { parseHostPort } from './relay-options.ts'
import type { Relay, RelayOptions } from './relay.ts'
import type { RelayConfig } from './relay-config.ts'

const HELP = `hivecast-relay: relay a Hivecast room. Follows the room's origin over libp2p, keeps only
announcements signed by the room's keys, fetches and checks every segment, and serves the room over HTTP
as HLS and as an IPFS trustless gateway for those segments.

Usage: hivecast-relay --origin <multiaddr> --room <slug> [options]
       hivecast-relay --peer <relay multiaddr> --room-key <origin peer id> --room <slug> [options]
       hivecast-relay --config relay.yaml [options]

  --config <file>        A YAML file with any of: origins, peers, rooms (each a slug, or slug + keys),
                         publicUrl, data, http, listen, window, archive, limits (diskQuota, maxConnections,
                         maxConnectionsPerIp, rateLimit, maxUpload) and tls (cert, key); the README has
                         an example. Relative paths are from the file's directory. A flag given on the
                         command line replaces the file's value (a repeated flag replaces the whole list).

  --origin <multiaddr>   The origin to follow, with its peer id: /ip4/127.0.0.1/tcp/9090/p2p/12D3KooW...
                         Repeat for a hot-standby origin. Its peer id is a room key. If it is not
                         reachable the relay keeps dialing every 2 s. Required unless --peer is given.
  --peer <multiaddr>     Another relay to connect to (bootstrap), with its peer id; repeatable, re-dialed
                         every 2 s like an origin. Relays of the same rooms found in the directory are
                         dialed too. Segments come from whichever connected peer has them; relays on
                         the origin take turns fetching from it, so it sends each segment about once.
                         A relay with --peer and --room-key but no --origin takes everything from relays.
  --room <slug>          The room to follow (1-63 lowercase letters, digits, dashes). Required; repeatable.
  --room-key <peer id>   Another key allowed to sign the room's announcements. Repeatable.
  --public-url <url>     The URL browsers reach this relay at (e.g. behind a TLS proxy), published in
                         the relay directory. Default: its HTTP URL.
  --data <dir>           Where the relay keeps its key and segments. Default ./.data/relay
  --http <host:port>     HTTP address. Default ${DEFAULT_HTTP.host}:${DEFAULT_HTTP.port}; port 0 picks a free port.
  --listen <multiaddr>   libp2p listen address. Default ${DEFAULT_LISTEN.join(', ')}; repeatable. Add a
                         WebSocket address (/ip4/0.0.0.0/tcp/9091/ws) for browser viewers: they find
                         each other there and use the relay's circuit relay to set up WebRTC.
  --window <minutes>     How long to keep live segments after their announcement. Default 5.
  --disk-quota <MB>      Most megabytes of segments to keep; over it the oldest live segments are deleted
                         first (pinned recordings never are). Default: no quota.
  --archive              Pin the rooms' recordings: fetch each announced recording (directory, playlists,
                         segments) and serve it at /hls/recordings/<cid>/master.m3u8, /ipfs/<cid>/<path>
                         and as a CAR. A failed pin is retried after 30 s, doubling up to 10 min. Without
                         it, recordings are listed at /rooms/<room>/recordings.json but not served.
                         Default: off.
  --max-connections <n>  Most open HTTP connections; further ones are refused. Default: no limit.
  --max-connections-per-ip <n>
                         Most open HTTP connections from one client IP; requests on further ones are
                         answered 503 with Retry-After and the connection closed. Default: no limit.
  --max-upload <Mbit/s>  Most upload bandwidth for HTTP responses, all clients together (a token bucket
                         with a 0.1 s burst). Default: no limit.
  --tls-cert <file>      Serve HTTPS with this certificate chain (PEM, e.g. certbot's fullchain.pem).
  --tls-key <file>       ... and this private key (PEM, e.g. privkey.pem). Both or neither. After a renewal
                         send SIGHUP (systemctl reload): the files are read again, no viewer is dropped.
  --rate-limit <n>       HTTP requests per second per client IP (twice that as a burst); over it the
                         relay answers 429 with Retry-After. Default 0: no limit.
  -h, --help             Show this help.

HTTP:
  /hls/<room>/master.m3u8          HLS, playable by any HLS client
  /hls/<room>/<rendition>.m3u8     one rendition; segment URIs are /ipfs/<cid>?filename=<seq>.ts
                                   (fMP4/AV1: <seq>.m4s after #EXT-X-MAP:URI="/ipfs/<cid>?filename=init.mp4")
  /ipfs/<cid>[?format=raw]         a segment or init section announced in the room (nothing else)
  /rooms/<room>/window.json        the signed announcements behind the playlists
  /rooms/<room>/recordings.json    the room's recordings (signed announcements, latest per session)
  /ipfs/<dir cid>/<path>           a file of a pinned recording (--archive), e.g. /ipfs/<cid>/index.m3u8
  /ipfs/<cid>?format=car           a pinned recording (or a segment) as a CAR: every block, depth first
  /hls/recordings/<dir cid>/master.m3u8[?from=<ms>&to=<ms>]
                                   a pinned recording as VOD playlists (segment URIs
                                   /ipfs/<cid>?filename=<seq>.ts), optionally cut to a program-date-time
                                   range (ms since the epoch): one talk
  /directory.json                  the live relays (signed records, newer than 15 s)
  /metrics                         Prometheus text: requests, bytes, hits/misses, lag, peers, rejections,
                                   refused connections, libp2p bytes in/out, bitswap blocks sent/received
  /status, /healthz

Example:
  hivecast-relay --origin /ip4/127.0.0.1/tcp/9090/p2p/12D3KooWExample --room janson --http 127.0.0.1:8081
  hivecast-relay --config /etc/hivecast/relay.yaml --http 0.0.0.0:8443
`

class UsageError extends Error {}

function number (option: string, value: string, unit: string): number {
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw new UsageError(`${option} "${value}" is not a number of ${unit}`)
  return parsed
}

/** The options the flags set, each only when given, so they override the config file's. */
function flagOptions (values: ReturnType<typeof parseFlags>): Partial<RelayOptions> {
  let http
  if (values.http !== undefined) {
    try {
      http = parseHostPort(values.http)
    } catch (err) {
      throw new UsageError(`--http ${(err as Error).message}`)
    }
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together: give the certificate chain and its private key (PEM files)')
  const given = <K extends keyof RelayOptions>(key: K, value: RelayOptions[K] | undefined): Partial<RelayOptions> => value === undefined ? {} : { [key]: value }
  return {
    ...given('origins', values.origin),
    ...given('peers', values.peer),
    ...given('publicUrl', values['public-url']),
    ...given('rooms', values.room),
    ...given('roomKeys', values['room-key']),
    ...given('dataDir', values.data),
    ...given('http', http),
    ...given('listen', values.listen),
    ...given('retentionMs', values.window === undefined ? undefined : number('--window', values.window, 'minutes, e.g. 5') * 60_000),
    ...given('diskQuotaBytes', values['disk-quota'] === undefined ? undefined : number('--disk-quota', values['disk-quota'], 'megabytes, e.g. 2000') * 1e6),
    ...given('maxConnections', values['max-connections'] === undefined ? undefined : Math.floor(number('--max-connections', values['max-connections'], 'connections, e.g. 500'))),
    ...given('maxConnectionsPerIp', values['max-connections-per-ip'] === undefined ? undefined : Math.floor(number('--max-connections-per-ip', values['max-connections-per-ip'], 'connections, e.g. 20'))),
    ...given('requestsPerSecondPerIp', values['rate-limit'] === undefined ? undefined : number('--rate-limit', values['rate-limit'], 'requests per second, e.g. 20')),
    ...given('maxUploadBytesPerSecond', values['max-upload'] === undefined ? undefined : number('--max-upload', values['max-upload'], 'Mbit/s, e.g. 100') * 125_000),
    ...given('archive', values.archive),
    ...given('tls', values['tls-cert'] === undefined || values['tls-key'] === undefined ? undefined : { cert: values['tls-cert'], key: values['tls-key'] })
  }
}

function parseFlags (argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        origin: { type: 'string', multiple: true },
        peer: { type: 'string', multiple: true },
        'public-url': { type: 'string' },
        room: { type: 'string', multiple: true },
        'room-key': { type: 'string', multiple: true },
        data: { type: 'string' },
        http: { type: 'string' },
        listen: { type: 'string', multiple: true },
        window: { type: 'string' },
        'disk-quota': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-connections-per-ip': { type: 'string' },
        'rate-limit': { type: 'string' },
        'max-upload': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        archive: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

async function parseCommandLine (argv: string[]): Promise<RelayOptions | 'help'> {
  const values = parseFlags(argv)
  if (values.help === true) return 'help'
  const flags = flagOptions(values)
  let file: RelayConfig = {}
  if (values.config !== undefined) {
    try {
      file = await loadRelayConfig(values.config)
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
  }
  const merged = { ...file, ...flags }
  const inFile = values.config === undefined ? '' : ` (or in ${values.config})`
  if (merged.origins === undefined && merged.peers === undefined) throw new UsageError(`--origin is required${inFile}: the multiaddr the origin prints, ending in /p2p/<peer id> (or --peer <relay> with --room-key)`)
  if (merged.rooms === undefined) throw new UsageError(`--room is required${inFile}: the slug of the room to relay`)
  const options: RelayOptions = {
    ...merged,
    origins: merged.origins ?? [],
    rooms: merged.rooms,
    dataDir: merged.dataDir ?? './.data/relay',
    http: merged.http ?? DEFAULT_HTTP,
    listen: merged.listen ?? DEFAULT_LISTEN
  }
  try {
    validateRelayOptions(options)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  return options
}

function megabytes (bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

function statusLine (relay: Relay): string {
  const status = relay.status()
  const rooms = Object.entries(status.rooms).map(([slug, room]) => {
    const renditions = Object.values(room.renditions)
    const held = renditions.reduce((n, r) => n + r.held, 0)
    const behind = Math.max(0, ...renditions.map(r => r.behind))
    const rejected = Object.values(room.rejected).reduce((n, c) => n + c, 0)
    return `${slug}: ${held} segment${held === 1 ? '' : 's'} held, ${behind} behind${rejected > 0 ? `, ${rejected} rejected` : ''}`
  })
  return `status: ${rooms.join('; ')} | ${status.requests} requests, ${megabytes(status.bytesServed)} served, ${status.viewers} viewer${status.viewers === 1 ? '' : 's'} | ${status.peers} peer${status.peers === 1 ? '' : 's'}, ${status.directory} relay${status.directory === 1 ? '' : 's'} in the directory`
}

async function main (): Promise<void> {
  let options: RelayOptions | 'help'
  try {
    options = await parseCommandLine(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`hivecast-relay: ${(err as Error).message}\nhint: hivecast-relay --help shows every option with an example\n`)
    process.exit(2)
  }
  if (options === 'help') {
    process.stdout.write(HELP)
    return
  }
  let relay: Relay
  try {
    relay = await startRelay(options)
  } catch (err) {
    process.stderr.write(`hivecast-relay: ${(err as Error).message}\n`)
    process.exit(1)
  }
  // One line per address, TCP first (what other relays dial), then WebSocket (what browsers dial).
  const tcpFirst = [...relay.multiaddrs].sort((a, b) => Number(a.includes('/ws')) - Number(b.includes('/ws')))
  process.stdout.write(`relay: ${relay.url}\n${(tcpFirst.length > 0 ? tcpFirst : ['(none)']).map(a => `relay libp2p: ${a}\n`).join('')}`)
  const ticker = setInterval(() => { process.stdout.write(statusLine(relay) + '\n') }, 10_000)

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`hivecast-relay: ${signal} again, exiting without a clean stop\n`)
      process.exit(1)
    }
    stopping = true
    clearInterval(ticker)
    relay.stop().then(() => process.exit(0), (err: Error) => {
      process.stderr.write(`hivecast-relay: stop failed: ${err.message}\n`)
      process.exit(1)
    })
  }
  // SIGHUP (systemctl reload, e.g. from certbot's deploy hook): take the renewed certificate.
  process.on('SIGHUP', () => {
    relay.reloadTls().then(() => { process.stdout.write('relay: TLS certificate reloaded; new connections use it\n') }, (err: Error) => {
      process.stderr.write(`hivecast-relay: TLS certificate not reloaded, still serving the old one: ${err.message}\n`)
    })
  })
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
}

await main()
