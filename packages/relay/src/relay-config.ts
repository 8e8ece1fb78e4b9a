/**
 * The relay's config file (`--config relay.yaml`): origins, peers, rooms with their keys, limits, TLS
 * and the public URL, for a volunteer who would rather keep one file than a long command line. It is
 * checked whole before anything starts; the first problem stops the relay with the field's path
 * (`rooms[1].keys[0]`) and what to write instead. Relative paths (data, tls) are taken from the file's
 * own directory. Command-line flags override the file's values.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import * as v from 'valibot'
import { parse as parseYaml } from 'yaml'
import { assertRoomSlug, checkConfig, checkConfigField, configFields } from '@hivecast/shared'
import { assertPeerAddress, assertPublicUrl, assertRoomKey, loadTls, parseHostPort } from './relay-options.ts'
import type { RelayOptions } from './relay.ts'
import type { RoomOption } from './relay-options.ts'

/** What a config file can set: the RelayOptions a volunteer chooses (not the test-only ones). */
export type RelayConfig = Partial<Pick<RelayOptions, 'origins' | 'peers' | 'rooms' | 'publicUrl' | 'dataDir' | 'http' | 'listen' |
'retentionMs' | 'archive' | 'diskQuotaBytes' | 'maxConnections' | 'maxConnectionsPerIp' | 'requestsPerSecondPerIp' | 'maxUploadBytesPerSecond' | 'tls'>>

const text = (what: string, example: string): v.GenericSchema<unknown, string> =>
  v.pipe(v.string(`must be ${what}, e.g. ${example}`), v.nonEmpty(`must not be empty: give ${what}, e.g. ${example}`))

const list = (what: string, example: string): v.GenericSchema<unknown, string[]> =>
  v.array(text(what, example), `must be a list of ${what}s, e.g. [${example}]`)

const amount = (unit: string, example: number): v.GenericSchema<unknown, number> =>
  v.pipe(v.number(`must be a number of ${unit}, e.g. ${example}`), v.minValue(0, `must be 0 or more ${unit} (0: no limit)`))

const MULTIADDR = '/ip4/203.0.113.7/tcp/9090/p2p/12D3KooW...'

const roomSchema = v.union([
  text('a room slug', 'janson'),
  v.strictObject({
    slug: text('the room\'s slug', 'janson'),
    keys: v.optional(list('peer id', '12D3KooW...'))
  }, configFields('a room has slug and keys (further peer ids allowed to sign it)'))
], 'must be a room slug (janson) or { slug: janson, keys: [12D3KooW...] }')

const limitsSchema = v.strictObject({
  diskQuota: v.optional(amount('megabytes', 2000)),
  maxConnections: v.optional(amount('connections', 500)),
  maxConnectionsPerIp: v.optional(amount('connections', 20)),
  rateLimit: v.optional(amount('requests per second per IP', 20)),
  maxUpload: v.optional(amount('Mbit/s', 100))
}, configFields('limits has diskQuota, maxConnections, maxConnectionsPerIp, rateLimit and maxUpload'))

const fileSchema = v.strictObject({
  origins: v.optional(list('origin multiaddr', MULTIADDR)),
  peers: v.optional(list('relay multiaddr', MULTIADDR)),
  rooms: v.optional(v.pipe(v.array(roomSchema, 'must be a list of rooms, each "- janson" or "- slug: janson"'), v.minLength(1, 'must list at least one room'))),
  publicUrl: v.optional(text('the https URL browsers reach this relay at', 'https://relay.example.org/')),
  data: v.optional(text('a directory', './relay-data')),
  http: v.optional(text('host:port', '0.0.0.0:8081')),
  listen: v.optional(list('libp2p multiaddr', '/ip4/0.0.0.0/tcp/4001')),
  window: v.optional(v.pipe(v.number('must be a number of minutes, e.g. 5'), v.gtValue(0, 'must be more than 0 minutes'))),
  archive: v.optional(v.boolean('must be true or false')),
  limits: v.optional(limitsSchema),
  tls: v.optional(v.strictObject({
    cert: text('the certificate chain PEM file', '/etc/letsencrypt/live/relay.example.org/fullchain.pem'),
    key: text('the private key PEM file', '/etc/letsencrypt/live/relay.example.org/privkey.pem')
  }, configFields('tls has cert and key (PEM files)')))
}, configFields('the file has origins, peers, rooms, publicUrl, data, http, listen, window, archive, limits and tls'))

/** Parses and checks a config file's text; `file` names it in errors and anchors relative paths. */
export function parseRelayConfig (source: string, file: string): RelayConfig {
  let raw: unknown
  try {
    raw = parseYaml(source)
  } catch (err) {
    throw new Error(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0] ?? ''}. Fix the line it names.`)
  }
  // An empty file is an empty config, not an error: every option can come from the command line.
  raw ??= {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: (top level) must be fields such as "rooms: [janson]" and "origins: [...]", one per line, not a list or a single value`)
  const c = checkConfig(fileSchema, raw, file)
  const base = dirname(resolve(file))
  c.origins?.forEach((address, i) => checkConfigField(file, `origins[${i}]`, () => assertPeerAddress('origin', address)))
  c.peers?.forEach((address, i) => checkConfigField(file, `peers[${i}]`, () => assertPeerAddress('peer', address)))
  const seen = new Set<string>()
  const rooms = c.rooms?.map((given, i): RoomOption => {
    const room = typeof given === 'string' ? { slug: given } : given
    const at = typeof given === 'string' ? `rooms[${i}]` : `rooms[${i}].slug`
    checkConfigField(file, at, () => assertRoomSlug(room.slug))
    if (seen.has(room.slug)) throw new Error(`${file}: ${at} "${room.slug}" is listed twice: list each room once, with all its keys`)
    seen.add(room.slug)
    room.keys?.forEach((key, j) => checkConfigField(file, `rooms[${i}].keys[${j}]`, () => assertRoomKey(key)))
    return room
  })
  if (c.publicUrl !== undefined) checkConfigField(file, 'publicUrl', () => assertPublicUrl(c.publicUrl!))
  const http = c.http === undefined ? undefined : checkConfigField(file, 'http', () => parseHostPort(c.http!))
  const limits = c.limits ?? {}
  return {
    ...(c.origins === undefined ? {} : { origins: c.origins }),
    ...(c.peers === undefined ? {} : { peers: c.peers }),
    ...(rooms === undefined ? {} : { rooms }),
    ...(c.publicUrl === undefined ? {} : { publicUrl: c.publicUrl }),
    ...(c.data === undefined ? {} : { dataDir: resolve(base, c.data) }),
    ...(http === undefined ? {} : { http }),
    ...(c.listen === undefined ? {} : { listen: c.listen }),
    ...(c.window === undefined ? {} : { retentionMs: c.window * 60_000 }),
    ...(c.archive === undefined ? {} : { archive: c.archive }),
    ...(limits.diskQuota === undefined ? {} : { diskQuotaBytes: limits.diskQuota * 1e6 }),
    ...(limits.maxConnections === undefined ? {} : { maxConnections: Math.floor(limits.maxConnections) }),
    ...(limits.maxConnectionsPerIp === undefined ? {} : { maxConnectionsPerIp: Math.floor(limits.maxConnectionsPerIp) }),
    ...(limits.rateLimit === undefined ? {} : { requestsPerSecondPerIp: limits.rateLimit }),
    ...(limits.maxUpload === undefined ? {} : { maxUploadBytesPerSecond: limits.maxUpload * 125_000 }),
    ...(c.tls === undefined ? {} : { tls: { cert: resolve(base, c.tls.cert), key: resolve(base, c.tls.key) } })
  }
}

/** Reads, parses and checks a config file, including that its TLS files make a usable pair. */
export async function loadRelayConfig (file: string): Promise<RelayConfig> {
  let source: string
  try {
    source = await readFile(file, 'utf8')
  } catch (err) {
    throw new Error(`cannot read --config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; give the path of a relay.yaml (see the README for an example)`)
  }
  const config = parseRelayConfig(source, file)
  const tls = config.tls
  if (tls !== undefined) {
    try {
      await loadTls(tls)
    } catch (err) {
      throw new Error(`${file}: tls: ${(err as Error).message}`)
    }
  }
  return config
}
