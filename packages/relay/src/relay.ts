/**
 * A running relay: the libp2p node, its links to the origins, one follower per room and the HTTP
 * gateway, started together and stopped together.
 */
import { assertRoomSlug } from '@hivecast/shared'
import type { ViewerReceived } from '@hivecast/shared'
import { createP2PNode, getBlock, loadOrCreateIdentity, serveViewerDirectory, serveWindow, WINDOW_PROTOCOL } from '@hivecast/shared/node'
import { LRUCache } from 'lru-cache'
import { Gateway } from './gateway.ts'
import { createBlockFetcher } from './block-fetcher.ts'
import { Directory } from './directory.ts'
import { DiskQuota } from './disk-quota.ts'
import { createMetrics } from './metrics.ts'
import { PeerLink, addressPeerId } from './peer-link.ts'
import { RoomFollower } from './room-follower.ts'
import { RecordingArchive } from './recording-archive.ts'
import { dagBlocks } from './car-export.ts'
import { P2PTraffic } from './p2p-traffic.ts'
import type { P2PTrafficTotals } from './p2p-traffic.ts'
import type { BlockFetcher } from './block-fetcher.ts'
import { assertPeerAddress, assertPublicUrl, assertRoomKey, loadTls } from './relay-options.ts'
import type { RoomOption, TlsFiles } from './relay-options.ts'
import type { ArchiveStatus } from './recording-archive.ts'
import type { DirectoryEntry, DirectoryRejectReason } from './directory.ts'
import type { Health } from './gateway.ts'
import type { RoomStatus } from './room-follower.ts'
import type { P2PNode } from '@hivecast/shared/node'
import type { IdentifyResult } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

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
  /** Keeps the relay's key and blocks. */
  dataDir: string
  /** HTTP bind address; port 0 picks a free port. Default 127.0.0.1:8081. */
  http?: { host: string, port: number }
  /**
   * libp2p listen multiaddrs. Default `/ip4/127.0.0.1/tcp/0`. A WebSocket address
   * (`/ip4/127.0.0.1/tcp/9091/ws`) is where browser viewers connect to find each other.
   */
  listen?: string[]
  /** Segments listed per rendition playlist. Default 30. */
  windowSize?: number
  /** How long blocks are kept after their announcement (ms). Default 5 minutes. */
  retentionMs?: number
  /** Budget to fetch one block, retry included (ms). Default 10 s. */
  fetchTimeoutMs?: number
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
  /** Serve HTTPS with this certificate chain and key (PEM files) instead of plain HTTP. */
  tls?: TlsFiles
  /** Where log lines go. Default: stderr. */
  log?: (line: string) => void
}

export interface RelayStatus {
  peerId: string
  multiaddrs: string[]
  http: string
  rooms: Record<string, RoomStatus>
  /** Connected libp2p peers. */
  peers: number
  /** libp2p bytes in and out (all connections, all protocols) and bitswap blocks sent and received. */
  p2p: P2PTrafficTotals
  /** Relays in the directory right now (this one included). */
  directory: number
  directoryRejected: Partial<Record<DirectoryRejectReason, number>>
  bytesServed: number
  requests: number
  /** Distinct client addresses served in the last 30 s. */
  viewers: number
  disk: { heldBytes: number, quotaBytes: number | null, evicted: number }
  /** Recordings listed, and (with --archive) pinned; pinned blocks are outside the disk quota's reach. */
  recordings: ArchiveStatus & { archive: boolean }
  /** Browser viewers: where they connect (WebSocket multiaddrs with /p2p/), who is listed per room. */
  viewerSwarm: ViewerSwarmStatus
}

export interface ViewerSwarmStatus {
  /** libp2p WebSocket addresses with `/p2p/<id>`; empty when the relay listens on none. */
  multiaddrs: string[]
  /** Viewers listed per room for peer discovery. */
  viewers: Record<string, number>
  /** Per room, segment bytes those viewers say they received from relays and from each other. */
  received: Record<string, ViewerReceived>
  /** Viewer directory requests dropped as malformed or for another room. */
  rejected: number
  /** Circuit relay reservations held (viewers reachable for WebRTC signalling). */
  reservations: number
}

export interface Relay {
  /** Base HTTP URL, e.g. `http://127.0.0.1:8081/`. */
  url: string
  peerId: string
  /** libp2p addresses with `/p2p/<id>`. */
  multiaddrs: string[]
  node: P2PNode
  status: () => RelayStatus
  /** Live relays this relay knows of, itself included (what `/directory.json` lists). */
  directory: () => DirectoryEntry[]
  health: () => Health
  /**
   * Reads the TLS certificate and key files again (after a renewal) and uses them for new connections;
   * open connections keep theirs. Throws, keeping the old pair, when the files are not a usable pair.
   */
  reloadTls: () => Promise<void>
  /** Closes HTTP (in-flight responses finish), leaves the directory, stops following and stops libp2p. */
  stop: () => Promise<void>
}

export const DEFAULT_HTTP = { host: '127.0.0.1', port: 8081 }
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** /healthz turns 503 when the newest stored segment is older than this. */
const STALE_MS = 10_000
/** Memory for the blocks served most recently. */
const HOT_CACHE_BYTES = 64 * 1024 * 1024

/** Rooms as slug + keys, whichever way they were given. */
function roomOptions (options: RelayOptions): RoomOption[] {
  return options.rooms.map(room => typeof room === 'string' ? { slug: room } : room)
}

/** Checks options before anything starts; throws an Error that says what to fix. */
export function validateRelayOptions (options: RelayOptions): void {
  const peers = options.peers ?? []
  if (options.origins.length === 0 && peers.length === 0) throw new Error('no origin and no peer given: pass the origin\'s multiaddr, e.g. /ip4/127.0.0.1/tcp/9090/p2p/12D3KooW..., or another relay\'s with its room keys')
  if (options.origins.length === 0 && (options.roomKeys ?? []).length === 0) {
    const keyless = roomOptions(options).find(room => (room.keys ?? []).length === 0)
    if (keyless !== undefined) throw new Error(`a relay without an origin needs the room key: pass --room-key <the origin's peer id> (or list keys for room ${keyless.slug} in the config file)`)
  }
  for (const address of options.origins) assertPeerAddress('origin', address)
  for (const address of peers) assertPeerAddress('peer', address)
  if (options.publicUrl !== undefined) assertPublicUrl(options.publicUrl)
  if (options.rooms.length === 0) throw new Error('no room given: name the room to follow, e.g. janson')
  for (const room of roomOptions(options)) {
    assertRoomSlug(room.slug)
    for (const key of room.keys ?? []) assertRoomKey(key)
  }
  for (const key of options.roomKeys ?? []) assertRoomKey(key)
  const nonNegative = (name: string, value: number | undefined): void => {
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new Error(`${name} must be a number of 0 or more, not ${value}`)
  }
  nonNegative('disk quota', options.diskQuotaBytes)
  nonNegative('requests per second per IP', options.requestsPerSecondPerIp)
  nonNegative('max connections', options.maxConnections)
  nonNegative('max connections per IP', options.maxConnectionsPerIp)
  nonNegative('max upload', options.maxUploadBytesPerSecond)
  if (options.retentionMs !== undefined && !(options.retentionMs > 0)) throw new Error(`the live window to keep must be more than 0 minutes, not ${options.retentionMs / 60_000}`)
  const port = options.http?.port ?? DEFAULT_HTTP.port
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`HTTP port ${port} is out of range 0-65535`)
}

export async function startRelay (options: RelayOptions): Promise<Relay> {
  validateRelayOptions(options)
  const log = options.log ?? ((line: string) => { process.stderr.write(`[relay] ${line}\n`) })
  const keys = [...new Set([...options.origins.map(o => addressPeerId(o)!), ...options.roomKeys ?? []])]
  const tls = options.tls === undefined ? undefined : await loadTls(options.tls)
  const identity = await loadOrCreateIdentity(options.dataDir)
  // Origins and peers are dialed by PeerLink, which retries, rather than by createP2PNode, which gives up.
  const traffic = new P2PTraffic()
  const node = await createP2PNode({ identity, dataDir: options.dataDir, listen: options.listen ?? DEFAULT_LISTEN, viewers: true, metrics: traffic })
  // Helia's bitswap counts the blocks it sends but not those it receives: a fetched block that was not
  // in the store before came from a peer.
  const countReceived = (fetch: BlockFetcher): BlockFetcher => async (cid, signal) => {
    const had = await node.blockstore.has(cid)
    const bytes = await fetch(cid, signal)
    if (!had) traffic.blockReceived()
    return bytes
  }

  const archive = new RecordingArchive(node, {
    archive: options.archive ?? false,
    fetchTimeoutMs: options.recordingFetchTimeoutMs ?? 5 * 60_000,
    ...(options.recordingRetryMs === undefined ? {} : { retryDelayMs: options.recordingRetryMs }),
    // Not the live turn-taking: most blocks of a recording are live segments already held here, and
    // the rest (directories, playlists) are asked of every connected peer at once.
    fetchBlock: countReceived(async (cid, signal) => await getBlock(node, cid, { signal })),
    log
  })
  const followers = new Map<string, RoomFollower>()
  for (const room of roomOptions(options)) {
    const slug = room.slug
    if (followers.has(slug)) continue
    followers.set(slug, new RoomFollower(node, { slug, keys: [...new Set([...keys, ...room.keys ?? []])] }, {
      windowSize: options.windowSize ?? 30,
      retentionMs: options.retentionMs ?? 5 * 60_000,
      fetchTimeoutMs: options.fetchTimeoutMs ?? 10_000,
      fetchBlock: (cid, signal) => fetchBlock(cid, signal),
      onStored: () => { quota.enforce() },
      onRecording: recording => archive.take(recording),
      isPinned: cid => archive.holds(cid),
      log
    }))
  }
  const quota = new DiskQuota(options.diskQuotaBytes, () => followers.values(), log)
  const link = new PeerLink(node, { origins: options.origins, peers: options.peers ?? [] }, log)
  // Relays of our rooms we are connected to, and which of them (and us) hold an origin link.
  const originLinked = (): boolean => link.has('origin') && link.connected('origin')
  const fetchBlock = countReceived(createBlockFetcher(node, () => {
    const providers: Multiaddr[] = []
    const linked = originLinked() ? [identity.id] : []
    for (const { record } of directory.list()) {
      if (record.peerId === identity.id || !record.rooms.some(room => followers.has(room))) continue
      const connection = node.libp2p.getConnections().find(c => c.remotePeer.toString() === record.peerId)
      if (connection === undefined) continue
      const address = connection.remoteAddr
      providers.push(address.getComponents().some(c => c.name === 'p2p') ? address : address.encapsulate(`/p2p/${record.peerId}`))
      if (record.origin === true) linked.push(record.peerId)
    }
    return { providers, originLinked: linked }
  }))

  const multiaddrs = (): string[] => node.libp2p.getMultiaddrs().map(String)
  // Load for the directory: request and byte rates since the previous record.
  let lastLoad = { at: Date.now(), requests: 0, bytes: 0 }
  const load = (): { requestsPerSecond: number, bytesPerSecond: number } => {
    const now = Date.now()
    const seconds = Math.max(0.001, (now - lastLoad.at) / 1000)
    const rates = {
      requestsPerSecond: Math.round((gateway.requests - lastLoad.requests) / seconds * 10) / 10,
      bytesPerSecond: Math.round((gateway.bytesServed - lastLoad.bytes) / seconds)
    }
    lastLoad = { at: now, requests: gateway.requests, bytes: gateway.bytesServed }
    return rates
  }
  const directory = new Directory(node, identity, {
    describe: () => ({
      url: options.publicUrl ?? gateway.url,
      multiaddrs: multiaddrs().slice(0, 8),
      rooms: [...followers.keys()].slice(0, 32),
      load: load(),
      origin: originLinked(),
      viewers: gateway.viewers()
    }),
    // A relay of one of our rooms is worth a connection: bitswap fetches from whoever holds a block.
    onRecord: record => {
      if (record.rooms.some(room => followers.has(room))) link.learn(record.peerId, record.multiaddrs)
    },
    log
  })
  const health = (): Health => {
    if (link.has('origin') && !link.connected('origin')) return { ok: false, reason: `no connection to the origin (re-dialing ${link.down('origin').join(', ')} every 2 s)` }
    if (!link.has('origin') && !link.connected('relay')) return { ok: false, reason: `no connection to any relay peer (re-dialing ${link.down('relay').join(', ')} every 2 s)` }
    const now = Date.now()
    for (const [slug, follower] of followers) {
      const newest = follower.newestStoredAt()
      if (newest === undefined) return { ok: false, reason: `room ${slug}: no segment stored yet` }
      if (now - newest >= STALE_MS) return { ok: false, reason: `room ${slug}: newest segment was stored ${((now - newest) / 1000).toFixed(1)} s ago` }
    }
    return { ok: true }
  }
  // Every viewer asks for the same few segments near the live edge: keep those in memory rather than
  // read them from disk for each request. Checked against `held()` first, so eviction still applies.
  const hotBlocks = new LRUCache<string, Uint8Array>({ maxSize: HOT_CACHE_BYTES, sizeCalculation: bytes => Math.max(1, bytes.length) })
  /** A block a followed room or a pinned recording holds, from memory or disk; undefined when not held. */
  const readHeldBlock = async (cid: CID, { cache }: { cache: boolean }): Promise<Uint8Array | undefined> => {
    const held = (): boolean => archive.holds(cid) || [...followers.values()].some(f => f.holds(cid))
    if (!held()) return undefined
    const key = cid.toString()
    const cached = hotBlocks.get(key)
    if (cached !== undefined) return cached
    try {
      const bytes = await getBlock(node, cid, { signal: AbortSignal.timeout(5_000), offline: true })
      if (cache) hotBlocks.set(key, bytes)
      return bytes
    } catch (err) {
      // The retention sweep may delete a block between the check and the read; that is a 404.
      if (!held()) return undefined
      throw err
    }
  }
  const gateway: Gateway = new Gateway({
    follower: slug => followers.get(slug),
    readHeldBlock: async cid => await readHeldBlock(cid, { cache: true }),
    recordings: slug => archive.list(slug).map(r => ({ envelope: r.envelope, archive: r.archive, receivedAt: r.receivedAt })),
    readRecordingFile: async (root, path) => await archive.readFile(root, path),
    recordingEntries: async (root, rendition) => await archive.renditionEntries(root, rendition),
    recordingState: root => archive.stateOf(root),
    // A CAR reads a whole recording once: kept out of the hot cache so it does not push out the live edge.
    dagBlocks: (root, scope) => dagBlocks(root, async cid => {
      const bytes = await readHeldBlock(cid, { cache: false })
      if (bytes === undefined) throw new Error(`block ${cid.toString()} under ${root.toString()} is not held here`)
      return bytes
    }, scope),
    status: () => status(),
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
    directory: () => ({ relays: directory.list() }),
    health
  }, log, {
    requestsPerSecondPerIp: options.requestsPerSecondPerIp ?? 0,
    maxConnections: options.maxConnections ?? 0,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? 0,
    maxUploadBytesPerSecond: options.maxUploadBytesPerSecond ?? 0,
    ...(tls === undefined ? {} : { tls })
  })
  const status = (): RelayStatus => ({
    peerId: identity.id,
    multiaddrs: multiaddrs(),
    http: gateway.url,
    rooms: Object.fromEntries([...followers].map(([slug, f]) => [slug, f.status()])),
    peers: node.libp2p.getPeers().length,
    p2p: traffic.totals(),
    directory: directory.list().length,
    directoryRejected: directory.rejected(),
    bytesServed: gateway.bytesServed,
    requests: gateway.requests,
    viewers: gateway.viewers(),
    disk: { heldBytes: quota.heldBytes(), quotaBytes: quota.quotaBytes ?? null, evicted: quota.evicted },
    recordings: { ...archive.status(), archive: archive.archiving },
    viewerSwarm: {
      multiaddrs: multiaddrs().filter(a => a.includes('/ws/') || a.includes('/wss/')),
      viewers: viewerDirectory.viewers(),
      received: viewerDirectory.received(),
      rejected: viewerDirectory.rejected(),
      reservations: node.libp2p.services.circuitRelay?.reservations.size ?? 0
    }
  })
  const metrics = createMetrics({ gateway, status })

  for (const follower of followers.values()) follower.start()
  // Hand our window to relays that ask, and ask every peer that can answer (origin or relay) for theirs.
  await serveWindow(node, slug => followers.get(slug)?.envelopes() ?? [])
  const viewerDirectory = await serveViewerDirectory(node, slug => followers.has(slug))
  const onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    if (!event.detail.protocols.includes(WINDOW_PROTOCOL)) return
    for (const follower of followers.values()) follower.catchUp(event.detail.peerId)
  }
  node.libp2p.addEventListener('peer:identify', onIdentify)
  link.start()
  const http = options.http ?? DEFAULT_HTTP
  try {
    await gateway.listen(http.host, http.port)
  } catch (err) {
    link.stop()
    for (const follower of followers.values()) follower.stop()
    archive.stop()
    await node.stop()
    throw err
  }
  directory.start()

  let stopping: Promise<void> | undefined
  return {
    url: gateway.url,
    peerId: identity.id,
    multiaddrs: multiaddrs(),
    node,
    status,
    health,
    directory: () => directory.list(),
    reloadTls: async () => {
      if (options.tls === undefined) throw new Error('this relay serves plain HTTP: there is no certificate to reload (start it with --tls-cert and --tls-key)')
      gateway.setTls(await loadTls(options.tls))
    },
    stop: () => {
      stopping ??= (async () => {
        await Promise.all([gateway.close(), directory.leave()])
        node.libp2p.removeEventListener('peer:identify', onIdentify)
        link.stop()
        for (const follower of followers.values()) follower.stop()
        archive.stop()
        await quota.settled()
        await node.stop()
      })()
      return stopping
    }
  }
}
