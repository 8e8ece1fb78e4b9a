/**
 * Every relay option once, as hls.js keeps its config in one table: the flag, the config file field,
 * the RelayOptions field it sets, its kind, unit, default, help text and check. The command line
 * (cli.ts), the YAML file (relay-config.ts), `--help` and `validateRelayOptions` are all read from
 * here, so adding an option is one entry. Units are converted here only (minutes -> ms, MB -> bytes,
 * Mbit/s -> bytes/s).
 *
 * Two different things were once both called "window": `playlistLength` is how many segments a
 * rendition playlist lists; `retention` is how long a live segment is kept.
 */
import { assertRoomSlug, formatHostPort, InvalidOptionError, parseHostPort, parseLogLevel } from '@hivecast/shared'
import { RELAY_PUSH_FANOUT } from '@hivecast/shared/node'
import type { HostPort } from '@hivecast/shared'
import { assertTrustedProxy } from './client-address.ts'
import { assertIceServerUrl, assertTurnOptions } from './ice-servers.ts'
import { assertAcmeOptions, DEFAULT_ACME_CHALLENGE, DEFAULT_HTTPS } from './acme-certificates.ts'
import type { AcmeOptions } from './acme-certificates.ts'
import { assertAnnounceAddress, assertPeerAddress, assertPublicUrl, assertRoomKey } from './relay-options.ts'
import type { RelayOptions, RoomOption } from './relay-options.ts'

/**
 * How a value is written: `text` one string, `list` a repeatable flag / YAML list, `switch` a flag
 * without value / YAML boolean, `number` in the option's unit, `address` host:port, `rooms` room
 * slugs (in YAML also `{ slug, keys }`).
 */
export type OptionKind = 'text' | 'list' | 'switch' | 'number' | 'address' | 'rooms'

export interface OptionUnit {
  /** As people write it: "minutes", "Mbit/s". */
  name: string
  /** Multiplier from the written value to the RelayOptions field (minutes -> ms: 60 000). */
  toField: number
  /** Whole numbers only (the written value is rounded down). */
  integer: boolean
}

export const UNITS = {
  minutes: { name: 'minutes', toField: 60_000, integer: false },
  megabytes: { name: 'megabytes', toField: 1e6, integer: false },
  megabitsPerSecond: { name: 'Mbit/s', toField: 125_000, integer: false },
  connections: { name: 'connections', toField: 1, integer: true },
  requestsPerSecond: { name: 'requests per second per IP', toField: 1, integer: false },
  segments: { name: 'segments', toField: 1, integer: true },
  relays: { name: 'relays', toField: 1, integer: true },
  seconds: { name: 'seconds', toField: 1000, integer: false },
  tokens: { name: 'viewer tokens', toField: 1, integer: true }
} as const satisfies Record<string, OptionUnit>

/** Options set together: the command line wants all `required` members once any member is given. */
export type OptionGroup = 'tls' | 'acme'

export const GROUPS: Record<OptionGroup, { purpose: string, check?: (value: AcmeOptions) => void }> = {
  tls: { purpose: 'give the certificate chain and its private key (PEM files)' },
  acme: { purpose: 'the domain to get a certificate for and the address the CA sends notices to', check: assertAcmeOptions }
}

export interface RelayOptionSpec {
  /** The command-line flag, without the dashes. */
  flag: string
  /** Where the value sits in the config file: `retention`, `limits.diskQuota`. */
  yaml: string
  /** The RelayOptions field it sets: `retentionMs`, `acme.caFile`. */
  field: string
  kind: OptionKind
  /** The value's name in `--help`: `<MB>`. Empty for a switch. */
  value: string
  /** What a value is, for messages: "origin multiaddr" (a number's is its unit). */
  what: string
  /** A valid value as written on the command line; messages and the table's test use it. */
  example: string
  /** Numbers: the unit written, and whether 0 is allowed (`0`) or the value must be above it. */
  unit?: OptionUnit
  min?: 0 | 'above0'
  /** The default as shown in `--help` when it is not in RELAY_DEFAULTS (e.g. "no limit"). */
  default?: string
  help: string
  /** Checks one written value (each item of a list); throws saying what to write instead. */
  check?: (value: string) => unknown
  group?: OptionGroup
  /** Must be given whenever its group is. */
  required?: boolean
  /** A file path: in the config file, relative to the file's directory. */
  path?: boolean
}

/** The defaults `startRelay` applies, in RelayOptions units; `--help` renders them from here. */
export const RELAY_DEFAULTS = {
  dataDir: './.data/relay',
  http: { host: '127.0.0.1', port: 8081 } satisfies HostPort,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  retentionMs: 5 * 60_000,
  rewindMs: 120 * 60_000,
  playlistLength: 30,
  pushFanout: RELAY_PUSH_FANOUT,
  turnTtlMs: 60 * 60_000,
  viewerTtlMs: 30_000,
  viewersPerAddress: 64
} as const

const MULTIADDR = '/ip4/127.0.0.1/tcp/9090/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const KEY = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

export const RELAY_OPTION_TABLE: readonly RelayOptionSpec[] = [
  { flag: 'origin', yaml: 'origins', field: 'origins', kind: 'list', value: '<multiaddr>', what: 'origin multiaddr', example: MULTIADDR, check: address => assertPeerAddress('origin', address), help: 'The origin to follow, with its peer id: /ip4/127.0.0.1/tcp/9090/p2p/12D3KooW... Repeat for a hot-standby origin. Its peer id is a room key. If it is not reachable the relay keeps dialing every 2 s. Required unless --peer is given.' },
  { flag: 'peer', yaml: 'peers', field: 'peers', kind: 'list', value: '<multiaddr>', what: 'relay multiaddr', example: MULTIADDR, check: address => assertPeerAddress('peer', address), help: 'Another relay to connect to (bootstrap), with its peer id; repeatable, re-dialed every 2 s like an origin. Relays of the same rooms found in the directory are dialed too. Segments come from whichever connected peer has them; relays on the origin take turns fetching from it, so it sends each segment about once. A relay with --peer and --room-key but no --origin takes everything from relays.' },
  { flag: 'room', yaml: 'rooms', field: 'rooms', kind: 'rooms', value: '<slug>', what: 'room slug', example: 'janson', check: assertRoomSlug, help: 'The room to follow (1-63 lowercase letters, digits, dashes). Required; repeatable. In the config file a room may be { slug: janson, keys: [12D3KooW...] } with further keys for that room.' },
  { flag: 'room-key', yaml: 'roomKeys', field: 'roomKeys', kind: 'list', value: '<peer id>', what: 'peer id', example: KEY, check: assertRoomKey, help: 'Another key allowed to sign every room\'s announcements (a hot-standby origin). Repeatable.' },
  { flag: 'public-url', yaml: 'publicUrl', field: 'publicUrl', kind: 'text', value: '<url>', what: 'the https URL browsers reach this relay at', example: 'https://relay.example.org/', check: assertPublicUrl, default: 'its HTTP URL', help: 'The URL browsers reach this relay at (e.g. behind a TLS proxy), published in the relay directory.' },
  { flag: 'data', yaml: 'data', field: 'dataDir', kind: 'text', value: '<dir>', what: 'a directory', example: './relay-data', path: true, help: 'Where the relay keeps its key and segments.' },
  { flag: 'http', yaml: 'http', field: 'http', kind: 'address', value: '<host:port>', what: 'host:port', example: '0.0.0.0:8081', help: 'HTTP address; port 0 picks a free port.' },
  { flag: 'listen', yaml: 'listen', field: 'listen', kind: 'list', value: '<multiaddr>', what: 'libp2p multiaddr', example: '/ip4/0.0.0.0/tcp/4001', help: 'libp2p listen address; repeatable. Add a WebSocket address (/ip4/0.0.0.0/tcp/9091/ws) for browser viewers: they find each other there and use the relay\'s circuit relay to set up WebRTC.' },
  { flag: 'announce', yaml: 'announce', field: 'announce', kind: 'list', value: '<multiaddr>', what: 'public libp2p multiaddr', example: '/ip4/203.0.113.7/tcp/4001', check: assertAnnounceAddress, help: 'libp2p address others reach this relay at, advertised (and put in the directory) instead of the listen ones: behind NAT or in a container, e.g. /ip4/203.0.113.7/tcp/4001 or /dns4/relay.example.org/tcp/9091/ws. Repeatable.' },
  { flag: 'ice-server', yaml: 'iceServers', field: 'iceServers', kind: 'list', value: '<url>', what: 'STUN or TURN URL', example: 'stun:turn.example.org:3478', check: assertIceServerUrl, default: 'none', help: 'A STUN (stun:host:port) or TURN (turn:host:port?transport=udp, turns: for TLS) server handed to this relay\'s viewers at /ice-servers.json, so viewers behind NATs reach each other; repeatable. TURN needs --turn-secret-file. Run your own (coturn): no public server is used.' },
  { flag: 'turn-secret-file', yaml: 'turnSecretFile', field: 'turnSecretFile', kind: 'text', value: '<file>', what: 'a file holding the TURN shared secret', example: '/etc/hivecast/turn-secret', path: true, help: 'The TURN server\'s shared secret (coturn use-auth-secret / static-auth-secret), on the file\'s first line. Viewers get credentials made from it that expire after --turn-ttl; the secret itself never leaves the relay.' },
  { flag: 'turn-ttl', yaml: 'turnTtl', field: 'turnTtlMs', kind: 'number', unit: UNITS.minutes, min: 'above0', value: '<minutes>', what: 'minutes', example: '60', help: 'How long the TURN credentials a viewer gets keep working (players fetch new ones before then).' },
  { flag: 'retention', yaml: 'retention', field: 'retentionMs', kind: 'number', unit: UNITS.minutes, min: 'above0', value: '<minutes>', what: 'minutes', example: '5', help: 'How long to keep a live segment after its announcement (--rewind, when longer, keeps it longer).' },
  { flag: 'rewind', yaml: 'rewind', field: 'rewindMs', kind: 'number', unit: UNITS.minutes, min: 0, value: '<minutes>', what: 'minutes', example: '120', help: 'How far back viewers can rewind the live stream: segments and their signed announcements are kept this long (at least --retention) and served page by page at /rooms/<room>/window.json?rendition=<name>&before=<seq>&limit=<n>. --disk-quota still deletes the oldest first. 0 keeps only --retention.' },
  { flag: 'playlist-length', yaml: 'playlistLength', field: 'playlistLength', kind: 'number', unit: UNITS.segments, min: 'above0', value: '<segments>', what: 'segments', example: '30', help: 'Segments listed in each live rendition playlist.' },
  { flag: 'disk-quota', yaml: 'limits.diskQuota', field: 'diskQuotaBytes', kind: 'number', unit: UNITS.megabytes, min: 0, value: '<MB>', what: 'megabytes', example: '2000', default: 'no quota', help: 'Most megabytes of segments to keep; over it the oldest live segments are deleted first (pinned recordings never are).' },
  { flag: 'max-connections', yaml: 'limits.maxConnections', field: 'maxConnections', kind: 'number', unit: UNITS.connections, min: 0, value: '<n>', what: 'connections', example: '500', default: 'no limit', help: 'Most open HTTP connections; at the limit a new one closes the connection idle longest (refused only when all are busy).' },
  { flag: 'max-connections-per-ip', yaml: 'limits.maxConnectionsPerIp', field: 'maxConnectionsPerIp', kind: 'number', unit: UNITS.connections, min: 0, value: '<n>', what: 'connections', example: '20', default: 'no limit', help: 'Most open HTTP connections from one client IP; requests on further ones are answered 503 with Retry-After and the connection closed.' },
  { flag: 'rate-limit', yaml: 'limits.rateLimit', field: 'requestsPerSecondPerIp', kind: 'number', unit: UNITS.requestsPerSecond, min: 0, value: '<n>', what: 'requests per second', example: '20', default: '0 (no limit)', help: 'HTTP requests per second per client IP (twice that as a burst); over it the relay answers 429 with Retry-After.' },
  { flag: 'max-upload', yaml: 'limits.maxUpload', field: 'maxUploadBytesPerSecond', kind: 'number', unit: UNITS.megabitsPerSecond, min: 0, value: '<Mbit/s>', what: 'Mbit/s', example: '100', default: 'no limit', help: 'Most upload bandwidth for HTTP responses and segment pushes to other relays, all together (a token bucket with a 0.1 s burst).' },
  { flag: 'push-fanout', yaml: 'pushFanout', field: 'pushFanout', kind: 'number', unit: UNITS.relays, min: 0, value: '<relays>', what: 'relays', example: '1', check: assertPushFanout, help: 'Relays this relay offers each segment to once it holds it (the segment push: relays on the origin form a tree per segment, so the origin sends it about once). 0 to 2; 0 takes part only as a leaf. Pushes share --max-upload with HTTP responses.' },
  { flag: 'viewer-ttl', yaml: 'viewerTtl', field: 'viewerTtlMs', kind: 'number', unit: UNITS.seconds, min: 'above0', value: '<seconds>', what: 'seconds', example: '30', help: 'A viewer counts in the room\'s viewers (at /status, /metrics and on the site) until this long after its player last asked for the room\'s window (players ask every few seconds, with their per-session viewer token).' },
  { flag: 'viewers-per-address', yaml: 'limits.viewersPerAddress', field: 'viewersPerAddress', kind: 'number', unit: UNITS.tokens, min: 'above0', value: '<n>', what: 'viewer tokens', example: '64', help: 'Most viewer tokens counted from one client address at a time; further new tokens from it are ignored (and counted), so one address cannot inflate the viewer count with made-up tokens. Raise it for a venue whose attendees share one NAT address, or put the relay behind --trusted-proxy.' },
  { flag: 'trusted-proxy', yaml: 'trustedProxies', field: 'trustedProxies', kind: 'list', value: '<ip or cidr>', what: 'proxy IP address or CIDR range', example: '127.0.0.1', check: assertTrustedProxy, default: 'none', help: 'A reverse proxy in front of the relay (127.0.0.1, 10.0.0.0/8); repeatable. From it, the rightmost X-Forwarded-For hop that is not a trusted proxy is the client that --rate-limit counts, and its connections are not counted per IP (they carry many viewers). From anyone else X-Forwarded-For is ignored.' },
  { flag: 'archive', yaml: 'archive', field: 'archive', kind: 'switch', value: '', what: 'true or false', example: 'true', default: 'off', help: 'Pin the rooms\' recordings: fetch each announced recording (directory, playlists, segments) and serve it at /hls/recordings/<cid>/master.m3u8, /ipfs/<cid>/<path> and as a CAR. A failed pin is retried after 30 s, doubling up to 10 min. Without it, recordings are listed at /rooms/<room>/recordings.json but not served.' },
  { flag: 'tls-cert', yaml: 'tls.cert', field: 'tls.cert', kind: 'text', value: '<file>', what: 'the certificate chain PEM file', example: '/etc/letsencrypt/live/relay.example.org/fullchain.pem', group: 'tls', required: true, path: true, help: 'Serve HTTPS with this certificate chain (PEM, e.g. certbot\'s fullchain.pem).' },
  { flag: 'tls-key', yaml: 'tls.key', field: 'tls.key', kind: 'text', value: '<file>', what: 'the private key PEM file', example: '/etc/letsencrypt/live/relay.example.org/privkey.pem', group: 'tls', required: true, path: true, help: '... and this private key (PEM, e.g. privkey.pem). Both or neither. After a renewal send SIGHUP (systemctl reload): the files are read again, no viewer is dropped.' },
  { flag: 'acme-domain', yaml: 'acme.domains', field: 'acme.domains', kind: 'list', value: '<name>', what: 'domain name', example: 'relay.example.org', group: 'acme', required: true, help: 'Get a certificate for this domain from Let\'s Encrypt (ACME, HTTP-01 challenge) and serve HTTPS with it; repeatable (one certificate for all). The domain must resolve to this box and port 80 reach --acme-http. Renewed at 2/3 of its lifetime without dropping viewers; on failure the relay keeps serving (HTTP, or the old certificate) and retries. Account key and certificate are kept in <data>/acme. Plain HTTP stays on --http. Not with --tls-cert.' },
  { flag: 'acme-email', yaml: 'acme.email', field: 'acme.email', kind: 'text', value: '<address>', what: 'the email address for the CA\'s notices', example: 'you@example.org', group: 'acme', required: true, help: 'Contact for the CA\'s expiry notices. Required with --acme-domain.' },
  { flag: 'acme-directory', yaml: 'acme.directory', field: 'acme.directoryUrl', kind: 'text', value: '<url>', what: 'an ACME directory URL', example: 'https://acme-staging-v02.api.letsencrypt.org/directory', group: 'acme', default: 'Let\'s Encrypt production', help: 'ACME directory; try the staging one first: https://acme-staging-v02.api.letsencrypt.org/directory' },
  { flag: 'acme-ca', yaml: 'acme.ca', field: 'acme.caFile', kind: 'text', value: '<file>', what: 'a CA certificate PEM file', example: './pebble-ca.pem', group: 'acme', path: true, help: 'A further CA (PEM) to trust for the ACME server\'s own TLS (a private CA).' },
  { flag: 'acme-http', yaml: 'acme.http', field: 'acme.challenge', kind: 'address', value: '<host:port>', what: 'host:port for the HTTP-01 challenge', example: '0.0.0.0:80', group: 'acme', default: formatHostPort(DEFAULT_ACME_CHALLENGE), help: 'Where the HTTP-01 challenge is answered (a port below 1024 needs CAP_NET_BIND_SERVICE; or forward port 80 here).' },
  { flag: 'https', yaml: 'acme.https', field: 'acme.https', kind: 'address', value: '<host:port>', what: 'host:port to serve HTTPS on', example: '0.0.0.0:443', group: 'acme', default: formatHostPort(DEFAULT_HTTPS), help: 'Where HTTPS is served with the ACME certificate.' },
  { flag: 'log-level', yaml: 'logLevel', field: 'logLevel', kind: 'text', value: '<level>', what: 'a log level', example: 'debug', check: level => parseLogLevel(level), default: 'LOG_LEVEL, else info', help: 'Lowest level logged: error, warn, info or debug.' }
]

function assertPushFanout (value: string): void {
  if (Number(value) > RELAY_PUSH_FANOUT) throw new InvalidOptionError(`--push-fanout ${value} is more than the tree has below a relay: give 0 to ${RELAY_PUSH_FANOUT}`)
}

/** The entry for a flag; undefined for one not in the table. */
export function optionByFlag (flag: string): RelayOptionSpec | undefined {
  return RELAY_OPTION_TABLE.find(spec => spec.flag === flag)
}

/** The default as `--help` shows it, in the unit written. */
export function defaultText (spec: RelayOptionSpec): string | undefined {
  if (!(spec.field in RELAY_DEFAULTS)) return spec.default
  const value = RELAY_DEFAULTS[spec.field as keyof typeof RELAY_DEFAULTS]
  if (typeof value === 'number') return String(value / (spec.unit?.toField ?? 1))
  if (typeof value === 'string') return value
  if ('host' in value) return formatHostPort(value)
  return value.join(', ')
}

/**
 * A number as written (`"5"`, or 5 from YAML) in its field's units; throws InvalidOptionError with
 * `what is wrong` in the option's own unit. `name` says where it came from (`--retention`, a path).
 */
export function numberValue (spec: RelayOptionSpec, written: unknown, name: string): number {
  const unit = spec.unit ?? UNITS.segments
  const parsed = typeof written === 'number' ? written : typeof written === 'string' && written.trim() !== '' ? Number(written) : NaN
  if (!Number.isFinite(parsed)) throw new InvalidOptionError(`${name} "${String(written)}" is not a number of ${unit.name}, e.g. ${spec.example}`)
  if (spec.min === 'above0' && !(parsed > 0)) throw new InvalidOptionError(`${name} must be more than 0 ${unit.name}, not ${parsed}`)
  if (parsed < 0) throw new InvalidOptionError(`${name} must be 0 or more ${unit.name} (0: no limit), not ${parsed}`)
  const value = parsed * unit.toField
  return unit.integer ? Math.floor(value) : value
}

/** A host:port as written, parsed; throws InvalidAddressError prefixed with `name`. */
export function addressValue (written: string, name: string): HostPort {
  try {
    return parseHostPort(written)
  } catch (err) {
    throw new InvalidOptionError(`${name} ${(err as Error).message}`, { cause: err })
  }
}

/** Runs a spec's check on one written value, prefixing its message with `name`. */
export function checkedText (spec: RelayOptionSpec, written: string, name: string): string {
  try {
    spec.check?.(written)
  } catch (err) {
    throw new InvalidOptionError(`${name}: ${(err as Error).message}`, { cause: err })
  }
  return written
}

/** Reads a field by its dotted path (`acme.caFile`). */
export function fieldValue (options: object, field: string): unknown {
  let at: unknown = options
  for (const key of field.split('.')) at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined
  return at
}

/** Sets a field by its dotted path, creating the group object on the way. */
export function setField (options: Record<string, unknown>, field: string, value: unknown): void {
  const [head, tail] = field.split('.') as [string, string | undefined]
  if (tail === undefined) {
    options[head] = value
    return
  }
  const group = (options[head] ??= {}) as Record<string, unknown>
  group[tail] = value
}

/** Throws when a group is half given (a tls cert without its key), naming the flags that go together. */
export function assertGroupsComplete (options: object): void {
  for (const group of Object.keys(GROUPS) as OptionGroup[]) {
    const members = RELAY_OPTION_TABLE.filter(spec => spec.group === group)
    if (!members.some(spec => fieldValue(options, spec.field) !== undefined)) continue
    const required = members.filter(spec => spec.required === true)
    if (required.every(spec => fieldValue(options, spec.field) !== undefined)) continue
    throw new InvalidOptionError(`${required.map(spec => `--${spec.flag}`).join(' and ')} go together: ${GROUPS[group].purpose}`)
  }
}

/**
 * Checks every option's value as `startRelay` takes it (the API path; the command line and the file
 * checked the written values already). Throws InvalidOptionError naming the field.
 */
export function checkOptionValues (options: RelayOptions): void {
  for (const spec of RELAY_OPTION_TABLE) {
    const value = fieldValue(options, spec.field)
    if (value === undefined) continue
    const name = spec.field
    switch (spec.kind) {
      case 'number': {
        const bad = typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (spec.min === 'above0' && value === 0)
        if (bad) throw new InvalidOptionError(`${name} must be a number ${spec.min === 'above0' ? 'above' : 'of'} 0${spec.min === 'above0' ? '' : ' or more'}, not ${String(value)}`)
        break
      }
      case 'address': {
        const { port } = value as HostPort
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidOptionError(`${name}: port ${port} is out of range 0-65535`)
        break
      }
      case 'text': checkedText(spec, value as string, name); break
      case 'list': for (const item of value as string[]) checkedText(spec, item, name); break
      case 'rooms':
        for (const room of value as RelayOptions['rooms']) {
          const { slug, keys } = typeof room === 'string' ? { slug: room, keys: [] } : room
          assertRoomSlug(slug)
          for (const key of keys ?? []) assertRoomKey(key)
        }
        break
      case 'switch': break
    }
  }
  if (options.acme !== undefined) GROUPS.acme.check?.(options.acme)
}

/** Rooms as slug + keys, whichever way they were given. */
export function roomOptions (options: RelayOptions): RoomOption[] {
  return options.rooms.map(room => typeof room === 'string' ? { slug: room } : room)
}

/** Checks options before anything starts: each value by the table, then how they go together. */
export function validateRelayOptions (options: RelayOptions): void {
  if (options.origins.length === 0 && (options.peers ?? []).length === 0) throw new InvalidOptionError('no origin and no peer given: pass the origin\'s multiaddr, e.g. /ip4/127.0.0.1/tcp/9090/p2p/12D3KooW..., or another relay\'s with its room keys')
  if (options.origins.length === 0 && (options.roomKeys ?? []).length === 0) {
    const keyless = roomOptions(options).find(room => (room.keys ?? []).length === 0)
    if (keyless !== undefined) throw new InvalidOptionError(`a relay without an origin needs the room key: pass --room-key <the origin's peer id> (or list keys for room ${keyless.slug} in the config file)`)
  }
  if (options.rooms.length === 0) throw new InvalidOptionError('no room given: name the room to follow, e.g. janson')
  if (options.acme !== undefined && options.tls !== undefined) throw new InvalidOptionError('--acme-domain and --tls-cert/--tls-key both give the certificate: keep one')
  assertTurnOptions(options.iceServers ?? [], options.turnSecretFile)
  checkOptionValues(options)
}
