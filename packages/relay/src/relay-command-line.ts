/**
 * The relay's command line, generated from the option table: the flags `parseArgs` accepts, their
 * values checked and converted, merged over the `--config` file field by field, and `--help`.
 */
import { parseArgs } from 'node:util'
import { InvalidOptionError, parseLogLevel } from '@hivecast/shared'
import { loadRelayConfig } from './relay-config.ts'
import { addressValue, assertGroupsComplete, checkedText, defaultText, fieldValue, numberValue, RELAY_DEFAULTS, RELAY_OPTION_TABLE, setField, validateRelayOptions } from './relay-option-table.ts'
import type { RelayOptions } from './relay-options.ts'
import type { RelayConfig } from './relay-config.ts'
import type { RelayOptionSpec } from './relay-option-table.ts'

const INTRO = `hivecast-relay: relay a Hivecast room. Follows the room's origin over libp2p, keeps only
announcements signed by the room's keys, fetches and checks every segment, and serves the room over HTTP
as HLS and as an IPFS trustless gateway for those segments.

Usage: hivecast-relay --origin <multiaddr> --room <slug> [options]
       hivecast-relay --peer <relay multiaddr> --room-key <origin peer id> --room <slug> [options]
       hivecast-relay --config relay.yaml [options]
`

const ROUTES_AND_EXAMPLE = `HTTP:
  /hls/<room>/master.m3u8          HLS, playable by any HLS client
  /hls/<room>/<rendition>.m3u8     one rendition; segment URIs are /ipfs/<cid>?filename=<seq>.ts
                                   (fMP4/AV1: <seq>.m4s after #EXT-X-MAP:URI="/ipfs/<cid>?filename=init.mp4")
  /ipfs/<cid>[?format=raw]         a segment or init section announced in the room (nothing else)
  /rooms/<room>/window.json        the signed announcements behind the playlists
  /rooms/<room>/recordings.json    the room's recordings (signed announcements, latest per session)
  /ipfs/<dir cid>/<path>           a file of a pinned recording (--archive), e.g. /ipfs/<cid>/index.m3u8
  /ipfs/<cid>?format=car           a pinned recording (or a segment) as a CARv1: every block, depth first;
                                   &dag-scope=entity|block, &entity-bytes=from:to (segments); also
                                   /ipfs/<dir cid>/<path>?format=car; Accept q-values honoured; the probe
                                   /ipfs/bafkqaaa; Cache-Control: only-if-cached answers 412 when not held
  /hls/recordings/<dir cid>/master.m3u8[?from=<ms>&to=<ms>]
                                   a pinned recording as VOD playlists (segment URIs
                                   /ipfs/<cid>?filename=<seq>.ts), optionally cut to a program-date-time
                                   range (ms since the epoch): one talk
  /directory.json                  the live relays (signed records, newer than 15 s)
  /ice-servers.json                STUN/TURN servers for viewers (--ice-server), TURN credentials that expire
  /metrics                         Prometheus text: requests, bytes, hits/misses, lag, peers, rejections,
                                   refused connections, libp2p bytes in/out, bitswap blocks sent/received
  /status, /healthz

Example:
  hivecast-relay --origin /ip4/127.0.0.1/tcp/9090/p2p/12D3KooWExample --room janson --http 127.0.0.1:8081
  hivecast-relay --config /etc/hivecast/relay.yaml --http 0.0.0.0:8443
`

const WIDTH = 105
const COLUMN = 25

/** `text` wrapped to the help's width, every line indented to the help column. */
function wrap (text: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line !== '' && COLUMN + line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return lines
}

/** One option's help entry: the flag and value name, then the help text with its default. */
function helpEntry (flag: string, value: string, text: string): string {
  const head = `  ${flag}${value === '' ? '' : ` ${value}`}`
  const [first = '', ...rest] = wrap(text)
  const pad = ' '.repeat(COLUMN)
  const lines = head.length < COLUMN - 1 ? [head.padEnd(COLUMN) + first, ...rest.map(l => pad + l)] : [head, ...[first, ...rest].map(l => pad + l)]
  return lines.join('\n') + '\n'
}

/** The config file's fields as `--config` lists them: `limits (diskQuota, maxConnections)`. */
function fileFields (): string {
  const top = new Map<string, string[]>()
  for (const spec of RELAY_OPTION_TABLE) {
    const [head, tail] = spec.yaml.split('.') as [string, string | undefined]
    const children = top.get(head) ?? []
    if (tail !== undefined) children.push(tail)
    top.set(head, children)
  }
  return [...top].map(([name, children]) => children.length === 0 ? name : `${name} (${children.join(', ')})`).join(', ')
}

/** `--help`, generated from the option table. */
export function helpText (): string {
  const options = RELAY_OPTION_TABLE.map(spec => {
    const fallback = defaultText(spec)
    return helpEntry(`--${spec.flag}`, spec.value, fallback === undefined ? spec.help : `${spec.help} Default: ${fallback}`)
  })
  const config = helpEntry('--config', '<file>', `A YAML file with any of: ${fileFields()}; the README has an example. Relative paths are from the file's directory. A flag given on the command line replaces the file's value (a repeated flag replaces the whole list).`)
  return `${INTRO}\n${config}\n${options.join('')}${helpEntry('-h, --help', '', 'Show this help.')}${helpEntry('-v, --version', '', 'Print the version.')}\n${ROUTES_AND_EXAMPLE}`
}

type FlagValues = Record<string, string | boolean | Array<string | boolean> | undefined>

/** One flag's written value, checked and converted to its RelayOptions field. */
function flagValue (spec: RelayOptionSpec, written: string | boolean | Array<string | boolean>): unknown {
  const name = `--${spec.flag}`
  switch (spec.kind) {
    case 'number': return numberValue(spec, written, name)
    case 'address': return addressValue(written as string, name)
    case 'text': return checkedText(spec, written as string, name)
    case 'list': case 'rooms': return (written as string[]).map(item => checkedText(spec, item, name))
    case 'switch': return written
  }
}

/** The options the flags set, each only when given, so they override the config file's. */
function flagOptions (values: FlagValues): RelayConfig {
  const options: Record<string, unknown> = {}
  for (const spec of RELAY_OPTION_TABLE) {
    const written = values[spec.flag]
    if (written !== undefined) setField(options, spec.field, flagValue(spec, written))
  }
  return options as RelayConfig
}

function parseFlags (argv: string[]): FlagValues {
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' }
  }
  for (const spec of RELAY_OPTION_TABLE) {
    options[spec.flag] = spec.kind === 'switch' ? { type: 'boolean' } : { type: 'string', ...(spec.kind === 'list' || spec.kind === 'rooms' ? { multiple: true } : {}) }
  }
  return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values
}

/** Flags over file, field by field (a flag replaces one field of a group, not the whole group). */
function merge (file: RelayConfig, flags: RelayConfig): RelayConfig {
  const merged: Record<string, unknown> = {}
  for (const { field } of RELAY_OPTION_TABLE) {
    const value = fieldValue(flags, field) ?? fieldValue(file, field)
    if (value !== undefined) setField(merged, field, value)
  }
  return merged as RelayConfig
}

/**
 * The relay's options from its command line (and the `--config` file it names): 'help' or 'version'
 * when asked for those. Throws an error that says what to write instead.
 */
export async function parseCommandLine (argv: string[], environment: NodeJS.ProcessEnv = process.env): Promise<RelayOptions | 'help' | 'version'> {
  const values = parseFlags(argv)
  if (values.help === true) return 'help'
  if (values.version === true) return 'version'
  const flags = flagOptions(values)
  const configFile = values.config as string | undefined
  const file = configFile === undefined ? {} : await loadRelayConfig(configFile)
  const merged = merge(file, flags)
  assertGroupsComplete(merged)
  const inFile = configFile === undefined ? '' : ` (or in ${configFile})`
  if (merged.origins === undefined && merged.peers === undefined) throw new InvalidOptionError(`--origin is required${inFile}: the multiaddr the origin prints, ending in /p2p/<peer id> (or --peer <relay> with --room-key)`)
  if (merged.rooms === undefined) throw new InvalidOptionError(`--room is required${inFile}: the slug of the room to relay`)
  // A LOG_LEVEL typo is a usage error at start, not silence later.
  const fromEnvironment = environment.LOG_LEVEL
  const logLevel = merged.logLevel ?? (fromEnvironment === undefined || fromEnvironment === '' ? undefined : parseLogLevel(fromEnvironment, 'LOG_LEVEL'))
  const options: RelayOptions = {
    ...merged,
    origins: merged.origins ?? [],
    rooms: merged.rooms,
    dataDir: merged.dataDir ?? RELAY_DEFAULTS.dataDir,
    http: merged.http ?? RELAY_DEFAULTS.http,
    listen: merged.listen ?? [...RELAY_DEFAULTS.listen],
    ...(logLevel === undefined ? {} : { logLevel })
  }
  validateRelayOptions(options)
  return options
}
