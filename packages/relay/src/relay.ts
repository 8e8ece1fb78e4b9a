/**
 * A running relay: the libp2p node, its links to the origins, one follower per room and the HTTP
 * gateway, started together and stopped together.
 */
import { join } from 'node:path'
import { InvalidOptionError, logger, MissingResourceError } from '@hivecast/shared'
import { createP2PNode, getBlock, loadOrCreateIdentity, P2PTraffic, serveViewerDirectory, serveWindow, WINDOW_PROTOCOL } from '@hivecast/shared/node'
import { LRUCache } from 'lru-cache'
import { Gateway } from './gateway.ts'
import { createBlockFetcher } from './block-fetcher.ts'
import { Directory } from './directory.ts'
import { DiskQuota } from './disk-quota.ts'
import { createMetrics } from './metrics.ts'
import { PeerLink, addressPeerId } from './peer-link.ts'
import { RoomFollower } from './room-follower.ts'
import { RecordingArchive } from './recording-archive.ts'
import { RecordingWithdrawals } from './recording-withdrawals.ts'
import { dagBlocks, pathBlocks } from './car-export.ts'
import { SegmentPushes } from './segment-pushes.ts'
import { UploadThrottle } from './upload-throttle.ts'
import { ViewerCount } from './viewer-count.ts'
import { ViewerTokens } from './viewer-tokens.ts'
import type { BlockFetcher, RelayPeers } from './block-fetcher.ts'
import { loadTls } from './relay-options.ts'
import { IceServers, loadTurnSecret } from './ice-servers.ts'
import { RELAY_DEFAULTS, roomOptions, validateRelayOptions } from './relay-option-table.ts'
import { AcmeCertificates } from './acme-certificates.ts'
import type { RelayOptions } from './relay-options.ts'
import type { DirectoryEntry } from './directory.ts'
import type { RelayStatus } from './relay-status.ts'
import type { Health } from './gateway.ts'
import type { P2PNode } from '@hivecast/shared/node'
import type { Connection, IdentifyResult } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

export type { RelayStatus, ViewerSwarmStatus } from './relay-status.ts'

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
  /** The ACME certificate manager (--acme-domain): its HTTPS URL, status, and `renew()` on demand. */
  acme: AcmeCertificates | undefined
  /**
   * Reads the TLS certificate and key files again (after a renewal) and uses them for new connections;
   * open connections keep theirs. Throws, keeping the old pair, when the files are not a usable pair.
   */
  reloadTls: () => Promise<void>
  /** Closes HTTP (in-flight responses finish), leaves the directory, stops following and stops libp2p. */
  stop: () => Promise<void>
}

/** /healthz turns 503 when the newest stored segment is older than this. */
const STALE_MS = 10_000
/** A relay's proof that it serves a room (a window answered with verified segments) lasts this long. */
const PROOF_TTL_MS = 30_000
/** Memory for the blocks served most recently. */
const HOT_CACHE_BYTES = 64 * 1024 * 1024
/** Withdrawn recordings and segments, in the data directory. */
const WITHDRAWALS_FILE = 'withdrawn-recordings.json'

export async function startRelay (options: RelayOptions): Promise<Relay> {
  validateRelayOptions(options)
  // Background lines go to stderr (stdout carries the CLI's ready and status lines), or to `options.log`.
  const log = logger('relay', {
    ...(options.logLevel === undefined ? {} : { level: options.logLevel }),
    write: options.log ?? (line => { process.stderr.write(`[relay] ${line}\n`) })
  })
  const keys = [...new Set([...options.origins.map(o => addressPeerId(o)!), ...options.roomKeys ?? []])]
  const tls = options.tls === undefined ? undefined : await loadTls(options.tls)
  const iceServers = new IceServers(options.iceServers ?? [], options.turnSecretFile === undefined ? undefined : await loadTurnSecret(options.turnSecretFile), options.turnTtlMs ?? RELAY_DEFAULTS.turnTtlMs)
  const identity = await loadOrCreateIdentity(options.dataDir)
  // Origins and peers are dialed by PeerLink, which retries, rather than by createP2PNode, which gives up.
  const traffic = new P2PTraffic()
  const node = await createP2PNode({ identity, dataDir: options.dataDir, listen: options.listen ?? [...RELAY_DEFAULTS.listen], announce: options.announce, viewers: true, metrics: traffic, ...(tls === undefined ? {} : { tls }) })
  // Helia's bitswap counts the blocks it sends but not those it receives: a fetched block that was not
  // in the store before came from a peer, pushed or over bitswap.
  const countReceived = (fetch: BlockFetcher): BlockFetcher => async (cid, signal) => {
    const had = await node.blockstore.has(cid)
    const bytes = await fetch(cid, signal)
    if (!had) traffic.blockReceived()
    return bytes
  }

  const withdrawals = await RecordingWithdrawals.open(join(options.dataDir, WITHDRAWALS_FILE))
  const archive = new RecordingArchive(node, {
    archive: options.archive ?? false,
    fetchTimeoutMs: options.recordingFetchTimeoutMs ?? 5 * 60_000,
    ...(options.recordingRetryMs === undefined ? {} : { retryDelayMs: options.recordingRetryMs }),
    // Not the live turn-taking: most blocks of a recording are live segments already held here, and
    // the rest (directories, playlists) are asked of every connected peer at once.
    fetchBlock: countReceived(async (cid, signal) => await getBlock(node, cid, { signal })),
    withdrawals,
    heldLive: cid => [...followers.values()].some(f => f.holds(cid)),
    log: log.child('recording-archive')
  })
  const followers = new Map<string, RoomFollower>()
  for (const room of roomOptions(options)) {
    const slug = room.slug
    if (followers.has(slug)) continue
    followers.set(slug, new RoomFollower(node, { slug, keys: [...new Set([...keys, ...room.keys ?? []])] }, {
      playlistLength: options.playlistLength ?? RELAY_DEFAULTS.playlistLength,
      retentionMs: options.retentionMs ?? RELAY_DEFAULTS.retentionMs,
      rewindMs: options.rewindMs ?? RELAY_DEFAULTS.rewindMs,
      fetchTimeoutMs: options.fetchTimeoutMs ?? 10_000,
      ...options.gapRetryMs === undefined ? {} : { gapRetryMs: options.gapRetryMs },
      fetchBlock: (cid, signal) => fetchBlock(cid, signal),
      fetchFromRelays: (cid, signal) => fetchFromRelays(cid, signal),
      onStored: () => { quota.enforce() },
      onRecording: recording => archive.take(recording),
      onWithdrawal: withdrawal => archive.takeWithdrawal(withdrawal),
      isPinned: cid => archive.holds(cid),
      onServed: peer => {
        const now = Date.now()
        for (const [id, at] of served) if (now - at >= PROOF_TTL_MS) served.delete(id)
        served.set(peer.toString(), now)
      },
      log: log.child('room-follower')
    }))
  }
  const quota = new DiskQuota(options.diskQuotaBytes, () => followers.values(), log.child('disk-quota'))
  const link = new PeerLink(node, { origins: options.origins, peers: options.peers ?? [], dialScope: options.dialScope }, log.child('peer-link'))
  // A relay's directory record claiming an origin link earns it fetch turns only while it has proved it
  // serves our rooms: it answered a window request with verified segments within PROOF_TTL_MS. A record
  // signed by one of the room's keys is the origin itself. Anyone can mint keys and sign `origin: true`;
  // a claimant that never serves would make this relay wait on it for every segment.
  const served = new Map<string, number>()
  const proved = (peerId: string): boolean => keys.includes(peerId) || Date.now() - (served.get(peerId) ?? -Infinity) < PROOF_TTL_MS
  // Relays of our rooms we are connected to, and which of them (and us) hold an origin link.
  const originLinked = (): boolean => link.has('origin') && link.connected('origin')
  // One upload budget (--max-upload) for HTTP responses and segment pushes together.
  const uploadThrottle = (options.maxUploadBytesPerSecond ?? 0) > 0 ? new UploadThrottle(options.maxUploadBytesPerSecond!) : undefined
  const pushes = new SegmentPushes(node, {
    fanout: options.pushFanout ?? RELAY_DEFAULTS.pushFanout,
    ...uploadThrottle === undefined ? {} : { throttle: uploadThrottle },
    // The others stop waiting on this relay as soon as its record says it passes nothing on.
    onLeaf: () => { void directory.republish() },
    tree: () => {
      const { originLinked, leaves } = relayPeers()
      return { relays: originLinked.length, leaves: originLinked.filter(relay => relay !== identity.id && leaves.has(relay)).length }
    },
    log: log.child('segment-push')
  })
  const roomKeys = new Set([...keys, ...roomOptions(options).flatMap(room => room.keys ?? [])])
  const dialBack = (connection: Connection): Multiaddr => {
    const address = connection.remoteAddr
    return address.getComponents().some(c => c.name === 'p2p') ? address : address.encapsulate(`/p2p/${connection.remotePeer.toString()}`)
  }
  const relayPeers = (): RelayPeers => {
    const providers: Multiaddr[] = []
    const linked = originLinked() ? [identity.id] : []
    const leaves = new Set(pushes.leaf() ? [identity.id] : [])
    for (const { record } of directory.list()) {
      if (record.peerId === identity.id || !record.rooms.some(room => followers.has(room))) continue
      // A linked relay keeps its place in the push tree while its record lives, connected or not: the
      // tree skips it, so one relay going down changes nothing for relays away from it.
      if (record.origin === true && proved(record.peerId)) linked.push(record.peerId)
      if (record.forwards === false) leaves.add(record.peerId)
      const connection = node.libp2p.getConnections().find(c => c.remotePeer.toString() === record.peerId)
      if (connection !== undefined) providers.push(dialBack(connection))
    }
    const toOrigins = node.libp2p.getConnections().filter(c => roomKeys.has(c.remotePeer.toString()))
    return { providers, originLinked: linked, leaves, origins: toOrigins.map(dialBack), originIds: toOrigins.map(c => c.remotePeer.toString()) }
  }
  const fetchBlock = countReceived(createBlockFetcher(node, relayPeers, pushes))
  // Gaps fetched again ask the other relays alone (but the last try): the origin's uplink is for the
  // live edge. A relay without relay peers has only the origin to ask.
  const fetchFromRelays = countReceived(async (cid, signal) => {
    const { providers } = relayPeers()
    return providers.length === 0 ? await fetchBlock(cid, signal) : await getBlock(node, cid, { signal, providers })
  })

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
      url: options.publicUrl ?? acme?.url ?? gateway.url,
      multiaddrs: multiaddrs().slice(0, 8),
      rooms: [...followers.keys()].slice(0, 32),
      load: load(),
      origin: originLinked(),
      // Viewer tokens seen here, over the rooms (the room-wide count is in /status, not summed from these).
      viewers: [...followers.keys()].reduce((n, slug) => n + viewerTokens.hashes(slug).length, 0),
      // Said only when true: older relays' strict record schema refuses fields they do not know.
      ...pushes.leaf() ? { forwards: false } : {}
    }),
    // A relay of one of our rooms is worth a connection: bitswap fetches from whoever holds a block.
    onRecord: record => {
      const ours = record.rooms.filter(room => followers.has(room))
      if (ours.length === 0) return
      link.learn(record.peerId, record.multiaddrs)
      // A connected claimant of an origin link is asked for its window when its proof is half-way
      // expired, so a serving relay keeps its turns and one that stopped serving loses them.
      const connected = node.libp2p.getConnections().find(c => c.remotePeer.toString() === record.peerId)
      if (record.origin !== true || connected === undefined) return
      if (Date.now() - (served.get(record.peerId) ?? -Infinity) < PROOF_TTL_MS / 2) return
      for (const room of ours) followers.get(room)?.catchUp(connected.remotePeer)
    },
    log: log.child('directory')
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
  // A CAR reads a whole recording once: kept out of the hot cache so it does not push out the live edge.
  const readUncached = async (root: CID, cid: CID): Promise<Uint8Array> => {
    const bytes = await readHeldBlock(cid, { cache: false })
    if (bytes === undefined) throw new MissingResourceError(`block ${cid.toString()} under ${root.toString()} is not held here`)
    return bytes
  }
  const viewerTokens = new ViewerTokens({
    ttlMs: options.viewerTtlMs ?? RELAY_DEFAULTS.viewerTtlMs,
    perAddress: options.viewersPerAddress ?? RELAY_DEFAULTS.viewersPerAddress
  })
  const viewerCount = new ViewerCount(node, identity, {
    tokens: viewerTokens,
    rooms: () => [...followers.keys()],
    isRelayOf: (peerId, room) => directory.list().some(({ record }) => record.peerId === peerId && record.rooms.includes(room)),
    log: log.child('viewer-count')
  })
  const gateway: Gateway = new Gateway({
    follower: slug => followers.get(slug),
    readHeldBlock: async cid => await readHeldBlock(cid, { cache: true }),
    recordings: slug => archive.list(slug).map(r => ({ envelope: r.envelope, archive: r.archive, receivedAt: r.receivedAt })),
    readRecordingFile: async (root, path) => await archive.readFile(root, path),
    recordingEntries: async (root, rendition) => await archive.renditionEntries(root, rendition),
    recordingState: root => archive.stateOf(root),
    // A CAR reads a whole recording once: kept out of the hot cache so it does not push out the live edge.
    dagBlocks: (root, scope) => dagBlocks(root, async cid => await readUncached(root, cid), scope),
    pathBlocks: async (root, path) => await pathBlocks(root, path, async cid => await readUncached(root, cid)).catch(() => undefined),
    status: () => status(),
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
    directory: () => ({ relays: directory.list() }),
    iceServers: () => iceServers.document(),
    health
  }, log.child('gateway'), {
    requestsPerSecondPerIp: options.requestsPerSecondPerIp ?? 0,
    maxConnections: options.maxConnections ?? 0,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? 0,
    ...uploadThrottle === undefined ? {} : { uploadThrottle },
    trustedProxies: options.trustedProxies ?? [],
    viewerTokens,
    ...(tls === undefined ? {} : { tls })
  })
  const status = (): RelayStatus => ({
    peerId: identity.id,
    multiaddrs: multiaddrs(),
    http: gateway.url,
    rooms: Object.fromEntries([...followers].map(([slug, f]) => [slug, { ...f.status(), viewers: viewerCount.viewers(slug) }])),
    viewerTokensRefused: viewerTokens.refused(),
    viewerCountRejected: viewerCount.rejected(),
    peers: node.libp2p.getPeers().length,
    p2p: traffic.totals(),
    push: { ...pushes.counts },
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
    },
    acme: acme?.status() ?? null
  })
  const metrics = createMetrics({ gateway, status })

  for (const follower of followers.values()) follower.start()
  // Hand our window to relays that ask, and ask every peer that can answer (origin or relay) for theirs.
  await serveWindow(node, slug => followers.get(slug)?.envelopes() ?? [])
  await pushes.start()
  const viewerDirectory = await serveViewerDirectory(node, slug => followers.has(slug))
  const onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    if (!event.detail.protocols.includes(WINDOW_PROTOCOL)) return
    for (const follower of followers.values()) follower.catchUp(event.detail.peerId)
  }
  node.libp2p.addEventListener('peer:identify', onIdentify)
  link.start()
  const http = options.http ?? RELAY_DEFAULTS.http
  const acme = options.acme === undefined ? undefined : new AcmeCertificates(options.acme, options.dataDir, socket => { gateway.accept(socket) }, log.child('acme'))
  try {
    await gateway.listen(http.host, http.port)
    await acme?.start()
  } catch (err) {
    await Promise.all([gateway.close(), acme?.stop()])
    link.stop()
    for (const follower of followers.values()) follower.stop()
    archive.stop()
    await node.stop()
    throw err
  }
  directory.start()
  viewerCount.start()

  let stopping: Promise<void> | undefined
  return {
    url: gateway.url,
    peerId: identity.id,
    multiaddrs: multiaddrs(),
    node,
    status,
    health,
    directory: () => directory.list(),
    acme,
    reloadTls: async () => {
      if (options.tls === undefined) throw new InvalidOptionError('this relay serves plain HTTP: there is no certificate to reload (start it with --tls-cert and --tls-key)')
      gateway.setTls(await loadTls(options.tls))
    },
    stop: () => {
      stopping ??= (async () => {
        viewerCount.stop()
        await Promise.all([gateway.close(), directory.leave(), acme?.stop()])
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
