/**
 * What `startRelay` takes, and the checks of single option values that the option table
 * (relay-option-table.ts) runs for the command line, the config file and the API alike. Each check
 * throws an error that says what to write instead.
 */
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { addressPeerId } from './peer-link.ts'
import type { LogLevel } from '@hivecast/shared'
import type { AcmeOptions } from './acme-certificates.ts'
import type { DialScope } from './peer-link.ts'
import { InvalidOptionError, MissingResourceError } from '@hivecast/shared'

/** A room to follow, with further keys allowed to sign its announcements (besides the origins'). */
export interface RoomOption {
  slug: string
  keys?: string[]
}

/** PEM files for the relay's own HTTPS listener. */
export interface TlsFiles {
  cert: string
  key: string
}

export interface RelayOptions {
  /** Origin multiaddrs, each ending in `/p2p/<peer id>`; their peer ids are room keys by default. */
  origins: string[]
  /**
   * Other relays to dial and keep connected (`/p2p/<id>` required). A relay with peers but no origin
   * (given the room keys) gets every segment from its peers: the way to keep the origin's uplink flat.
   */
  peers?: string[]
  /** The URL browsers reach this relay at, published in the directory. Default: its HTTP URL. */
  publicUrl?: string
  /** Rooms to follow: slugs, or a slug with further keys allowed to sign that room's announcements. */
  rooms: Array<string | RoomOption>
  /** Further peer ids allowed to sign every room's announcements (a hot-standby origin). */
  roomKeys?: string[]
  /**
   * How far addresses learned from the directory may be dialed (`public`: public addresses only).
   * Default: what this relay's own listen addresses imply.
   */
  dialScope?: DialScope
  /** Keeps the relay's key and blocks. */
  dataDir: string
  /** HTTP bind address; port 0 picks a free port. Default 127.0.0.1:8081. */
  http?: { host: string, port: number }
  /**
   * libp2p listen multiaddrs. Default `/ip4/127.0.0.1/tcp/0`. A WebSocket address
   * (`/ip4/127.0.0.1/tcp/9091/ws`) is where browser viewers connect to find each other.
   */
  listen?: string[]
  /** Segments listed per rendition playlist (the playlist's length). Default 30. */
  playlistLength?: number
  /** How long a live segment is kept after its announcement (ms). Default 5 minutes. */
  retentionMs?: number
  /** How far back viewers can rewind (ms): segments are kept this long when it exceeds retentionMs. Default 2 hours. */
  rewindMs?: number
  /** Relays offered each segment this relay holds (the segment push), 0 to 2. Default 2. */
  pushFanout?: number
  /** A viewer token counts this long after it was last seen (ms). Default 30 s. */
  viewerTtlMs?: number
  /** Live viewer tokens counted per client address. Default 64. */
  viewersPerAddress?: number
  /** Budget to fetch one block, retry included (ms). Default 10 s. */
  fetchTimeoutMs?: number
  /** The first wait before a segment listed as a gap is fetched again (ms); three more tries follow, 2, 6 and 12 times as late. Default 5 s. */
  gapRetryMs?: number
  /** Fetch and pin every recording announced in the followed rooms, and serve it by path. Default false. */
  archive?: boolean
  /** Budget to fetch one recording's whole DAG (ms). Default 5 minutes. */
  recordingFetchTimeoutMs?: number
  /** Wait before retrying a failed recording pin (ms), doubled per failure up to 10 minutes. Default 30 s. */
  recordingRetryMs?: number
  /** Most bytes of segments to hold; the oldest live segments are deleted first. Default: no quota. */
  diskQuotaBytes?: number
  /** HTTP requests per second per client IP before 429 (twice that as a burst); 0 for no limit. Default 0. */
  requestsPerSecondPerIp?: number
  /** Open HTTP connections at most; 0 for no limit. Default 0. */
  maxConnections?: number
  /** Open HTTP connections per client IP; further ones are answered 503 with Retry-After. 0: no limit. Default 0. */
  maxConnectionsPerIp?: number
  /** Most bytes per second of HTTP response bodies, all clients together; 0: no limit. Default 0. */
  maxUploadBytesPerSecond?: number
  /**
   * Reverse proxies (IP addresses or CIDR ranges) in front of the relay: from them, `X-Forwarded-For`
   * names the client that rate limits apply to, and connections are not counted per IP. Default none.
   */
  trustedProxies?: string[]
  /** Serve HTTPS with this certificate chain and key (PEM files) instead of plain HTTP. */
  tls?: TlsFiles
  /** Get and renew a certificate over ACME and serve HTTPS on its own address (besides plain HTTP). */
  acme?: AcmeOptions
  /** STUN/TURN URLs handed to viewers at `/ice-servers.json`. Default none. */
  iceServers?: string[]
  /** The TURN server's shared secret (first line of this file): viewers get short-lived credentials made from it. */
  turnSecretFile?: string
  /** How long a viewer's TURN credentials work (ms). Default 1 hour. */
  turnTtlMs?: number
  /** libp2p addresses to advertise instead of the listen ones (behind NAT, in a container). */
  announce?: string[]
  /** Lowest level logged. Default: `LOG_LEVEL`, else info. */
  logLevel?: LogLevel
  /** Where finished log lines go. Default: stderr. */
  log?: (line: string) => void
}

/** An origin or relay address: a multiaddr that ends in `/p2p/<peer id>`. */
export function assertPeerAddress (role: 'origin' | 'peer', address: string): string {
  const who = role === 'origin' ? 'origin' : 'relay'
  let id: string | undefined
  try {
    id = addressPeerId(address)
  } catch (err) {
    throw new InvalidOptionError(`${role} "${address}" is not a multiaddr (${(err as Error).message}); copy the line the ${who} prints, e.g. /ip4/127.0.0.1/tcp/9090/p2p/12D3KooW...`)
  }
  if (id === undefined) throw new InvalidOptionError(`${role} "${address}" has no /p2p/<peer id> part; ${role === 'origin' ? 'it names the room key, so ' : ''}copy the full address the ${who} prints`)
  return id
}

export function assertRoomKey (key: string): string {
  let valid = false
  try {
    valid = peerIdFromString(key).publicKey !== undefined
  } catch {
    valid = false
  }
  if (!valid) throw new InvalidOptionError(`room key "${key}" is not an Ed25519 peer id (they look like 12D3KooW...)`)
  return key
}

/** A libp2p address to advertise (`--announce`): the public one a NAT or container maps to ours. */
export function assertAnnounceAddress (address: string): string {
  try {
    multiaddr(address)
  } catch (err) {
    throw new InvalidOptionError(`announce address "${address}" is not a multiaddr (${(err as Error).message}); give the address others reach this relay at, e.g. /ip4/203.0.113.7/tcp/4001 or /dns4/relay.example.org/tcp/4001`)
  }
  return address
}

export function assertPublicUrl (url: string): string {
  if (!/^https?:\/\/[^\s/]+\/?\S*$/.test(url)) throw new InvalidOptionError(`public URL "${url}" is not an http(s) URL, e.g. https://relay.example.org/`)
  return url
}

/** Reads the certificate (chain) and key and checks they make a usable pair before anything listens. */
export async function loadTls (files: TlsFiles): Promise<{ cert: Buffer, key: Buffer }> {
  const read = async (what: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path)
    } catch (err) {
      throw new MissingResourceError(`cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; give a readable PEM file (e.g. certbot's fullchain.pem and privkey.pem)`)
    }
  }
  const cert = await read('certificate', files.cert)
  const key = await read('key', files.key)
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    throw new InvalidOptionError(`the TLS certificate ${files.cert} and key ${files.key} are not a usable PEM pair (${(err as Error).message}); give the certificate chain (fullchain.pem) and its private key (privkey.pem)`)
  }
  return { cert, key }
}
