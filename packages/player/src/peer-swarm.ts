/**
 * The viewer swarm (loaded lazily, its own chunk): a browser libp2p node that connects to the room's
 * relays over WebSockets, takes a circuit-relay reservation on each so other viewers can reach it, asks
 * the relays which viewers of the room they know (`/hivecast/viewers/1.0.0`) and opens WebRTC
 * connections to them, signalled through the relay's circuit. Between viewers: `have` messages (which
 * CIDs each holds) and block requests (see `@hivecast/shared`'s viewer-swarm.ts). Segments are held in
 * memory for HOLD_MS. This module never decides what to play: the segment loader verifies every byte a
 * peer sends against its CID and calls `reject` for a peer whose bytes do not match.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { lpStream } from '@libp2p/utils'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import {
  BLOCK_PROTOCOL, encodeSwarmMessage, HAVE_PROTOCOL, MAX_HAVE_CIDS, MAX_RAW_BLOCK, MAX_SWARM_MESSAGE,
  parseHave, parseViewersAnswer, tryParseCid, VIEWERS_PROTOCOL
} from '@hivecast/shared'
import { FaultTolerance } from '@libp2p/interface'
import type { ViewerReceived } from '@hivecast/shared'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { RelayIceServers } from './ice-servers.ts'
import { BENCH_MS, PeerHaves } from './peer-haves.ts'
import type { PeerSource, PeerStats } from './peer-source-contract.ts'

/** How long a verified segment is kept for other viewers, and a peer's `have` is believed. */
const HOLD_MS = 30_000
/** Most segments held in memory at once (30 s of 1 s segments in a few renditions is far less). */
const HOLD_MAX = 120
/** How often the relays are asked for the room's viewers (also keeps this viewer listed). */
const DISCOVER_EVERY_MS = 4_000
/** Bytes served to one viewer per UPLOAD_WINDOW_MS: a few times what a top rendition needs. */
const UPLOAD_CAP_BYTES = 64 * 1024 * 1024
const UPLOAD_WINDOW_MS = 60_000
/** Viewers connected at most; more adds little for one room and costs the browser. */
const MAX_PEERS = 8
/** Relays used for discovery and signalling: all viewers of a room must meet on the same ones. */
const MAX_RELAYS = 2
/** Relays whose /status is read at start, in the page's order (every viewer of the page reads the same). */
const MAX_RELAYS_ASKED = 6
const DIAL_TIMEOUT_MS = 10_000
const STATUS_TIMEOUT_MS = 4_000

export interface PeerSwarmOptions {
  room: string
  /** Relay base URLs in the page's order; their `/status` lists the WebSocket address browsers dial. */
  relays: string[]
  /** Verified bytes this viewer received so far, by source; sent along with each viewers request. */
  received?: () => ViewerReceived
  /** Called when something in `stats()` changed (a peer came or went, bytes were uploaded). */
  onChange?: () => void
  /** Where problems are reported; the player goes on with relays only. */
  log?: (line: string) => void
}

interface Held {
  bytes: Uint8Array
  at: number
}

/** A relay's WebSocket multiaddrs (with /p2p/) from its `/status`, or none when it lists none. */
async function relayWebSocketAddresses (relay: string): Promise<string[]> {
  try {
    const response = await fetch(`${relay}/status`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS), credentials: 'omit' })
    if (!response.ok) return []
    const status: unknown = await response.json()
    const addresses = (status as { viewerSwarm?: { multiaddrs?: unknown } } | null)?.viewerSwarm?.multiaddrs
    if (!Array.isArray(addresses)) return []
    return addresses.filter((a): a is string => typeof a === 'string' && a.length < 256 && /\/wss?\/p2p\/[1-9A-Za-z]+$/.test(a))
  } catch {
    return []
  }
}

/**
 * A page served over https can only open wss://; over http (localhost, a LAN) plain ws:// works and is
 * what a loopback relay offers.
 */
function dialable (address: string): boolean {
  return globalThis.location?.protocol === 'https:' ? address.includes('/wss/') || address.includes('/tls/') : true
}

export async function startPeerSwarm (options: PeerSwarmOptions): Promise<PeerSource> {
  const log = options.log ?? (() => {})
  const relays: string[] = []
  for (const addresses of await Promise.all(options.relays.slice(0, MAX_RELAYS_ASKED).map(relayWebSocketAddresses))) {
    const address = addresses.find(dialable)
    if (address !== undefined && relays.length < MAX_RELAYS) relays.push(address)
  }
  if (relays.length === 0) throw new Error('no relay of this room offers a WebSocket address for viewers (relay --listen /ip4/…/tcp/…/ws)')
  const iceServers = new RelayIceServers(options.relays)
  const node = await createLibp2p({
    // A reservation on each relay; the extra `/p2p-circuit` takes one again on whichever relay comes back
    // after a restart (libp2p does not renew a reservation on a named relay once its connection drops).
    addresses: { listen: [...relays.map(r => `${r}/p2p-circuit`), '/p2p-circuit', '/webrtc'] },
    transports: [webSockets(), webRTC({ rtcConfiguration: async () => ({ iceServers: await iceServers.current() }) }), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The browser build refuses ws:// and private addresses by default; relays on a LAN or on loopback
    // are exactly what a closed conference network has.
    connectionGater: { denyDialMultiaddr: () => false },
    // A relay that is down at start must not keep the others from being used; the search address
    // reserves on it once it is back.
    transportManager: { faultTolerance: FaultTolerance.NO_FATAL },
    services: { identify: identify() }
  })
  const swarm = new PeerSwarm(node, relays, options, log)
  try {
    await swarm.start()
  } catch (err) {
    swarm.stop()
    throw err
  }
  return swarm
}

class PeerSwarm implements PeerSource {
  readonly #node: Libp2p
  readonly #relays: string[]
  readonly #room: string
  readonly #onChange: () => void
  readonly #log: (line: string) => void
  readonly #held = new Map<string, Held>()
  /** cid -> peer id -> when it said it has it */
  readonly #haves = new PeerHaves(HOLD_MS)
  /** Per asking viewer, the bytes uploaded to it in the current UPLOAD_WINDOW_MS. */
  readonly #uploads = new Map<string, { since: number, bytes: number }>()
  /** Outbound `have` streams, by peer id. */
  readonly #haveOut = new Map<string, ReturnType<typeof lpStream<Stream>>>()
  readonly #waiters = new Map<string, Set<() => void>>()
  readonly #rejected = new Set<string>()
  readonly #dialing = new Set<string>()
  readonly #stats: PeerStats = { peers: 0, uploadedBytes: 0, uploadedSegments: 0, rejectedPeers: 0, benchedPeers: 0, badMessages: 0 }
  #timer: ReturnType<typeof setInterval> | undefined
  #stopped = false
  readonly #received: (() => ViewerReceived) | undefined

  constructor (node: Libp2p, relays: string[], options: PeerSwarmOptions, log: (line: string) => void) {
    this.#node = node
    this.#relays = relays
    this.#room = options.room
    this.#received = options.received
    this.#onChange = options.onChange ?? (() => {})
    this.#log = log
  }

  /** Answers the viewer protocols, then starts finding viewers. */
  async start (): Promise<void> {
    const node = this.#node
    await node.handle(HAVE_PROTOCOL, (stream, connection) => { void this.#readHaves(stream, connection.remotePeer) })
    await node.handle(BLOCK_PROTOCOL, (stream, connection) => { void this.#serveBlock(stream, connection.remotePeer.toString()) })
    node.addEventListener('connection:open', event => { this.#opened(event.detail) })
    node.addEventListener('connection:close', event => { this.#closed(event.detail) })
    this.#timer = setInterval(() => { void this.#discover() }, DISCOVER_EVERY_MS)
    void this.#discover()
  }

  stats (): PeerStats {
    return { ...this.#stats, peers: this.#peerConnections().length }
  }

  peers (): number {
    return this.#peerConnections().length
  }

  has (cid: string): boolean {
    return this.#holdersOf(cid).length > 0
  }

  async waitFor (cid: string, ms: number): Promise<boolean> {
    if (this.has(cid)) return true
    if (ms <= 0) return false
    return await new Promise<boolean>(resolve => {
      const waiters = this.#waiters.get(cid) ?? new Set()
      this.#waiters.set(cid, waiters)
      const done = (): void => {
        clearTimeout(timer)
        waiters.delete(done)
        if (waiters.size === 0) this.#waiters.delete(cid)
        resolve(this.has(cid))
      }
      const timer = setTimeout(done, ms)
      waiters.add(done)
    })
  }

  async fetch (cid: string, timeoutMs: number): Promise<{ bytes: Uint8Array, peer: string } | undefined> {
    const holders = this.#holdersOf(cid)
    if (holders.length === 0) return undefined
    // A random holder spreads the uploads over the swarm instead of draining the first viewer.
    const peer = holders[Math.floor(Math.random() * holders.length)]!
    const connection = this.#peerConnections().find(c => c.remotePeer.toString() === peer)
    if (connection === undefined) return undefined
    const signal = AbortSignal.timeout(timeoutMs)
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(BLOCK_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_RAW_BLOCK })
      await lp.write(new TextEncoder().encode(cid), { signal })
      const bytes = (await lp.read({ signal })).subarray()
      await stream.close({ signal }).catch(() => {})
      if (bytes.length === 0) {
        this.#haves.forget(peer, cid)
        this.#stalled(peer)
        return undefined
      }
      this.#haves.delivered(peer)
      return { bytes, peer }
    } catch (err) {
      stream?.abort(err as Error)
      this.#stalled(peer)
      return undefined
    }
  }

  /** A peer that claimed a block and did not deliver it; after a few in a row it is not asked for a while. */
  #stalled (peer: string): void {
    if (!this.#haves.stalled(peer, Date.now())) return
    this.#stats.benchedPeers++
    this.#log(`not asking viewer ${peer} for ${BENCH_MS / 1000} s: it did not deliver blocks it said it holds`)
    this.#onChange()
  }

  reject (peer: string): void {
    if (this.#rejected.has(peer)) return
    this.#rejected.add(peer)
    this.#stats.rejectedPeers++
    this.#haves.distrust(peer)
    this.#log(`dropped viewer ${peer}: it sent bytes that do not match their CID`)
    void this.#node.hangUp(this.#peerIdOf(peer) ?? multiaddr(`/p2p/${peer}`)).catch(() => {})
    this.#onChange()
  }

  hold (cid: string, bytes: Uint8Array): void {
    if (this.#stopped || this.#held.has(cid)) return
    // A copy: the caller's buffer goes on to hls.js, which may transfer or reuse it.
    this.#held.set(cid, { bytes: bytes.slice(), at: Date.now() })
    this.#prune()
    for (const [peer, lp] of this.#haveOut) {
      lp.write(encodeSwarmMessage({ have: [cid] }), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch(() => { this.#haveOut.delete(peer) })
    }
  }

  stop (): void {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#timer)
    for (const waiters of this.#waiters.values()) for (const done of waiters) done()
    this.#held.clear()
    void this.#node.stop()
  }

  /** Direct (WebRTC) connections to viewers; relayed and relay connections are not peers. */
  #peerConnections (): Connection[] {
    return this.#node.getConnections().filter(c => c.status === 'open' && c.limits === undefined && c.remoteAddr.toString().includes('/webrtc') && !this.#rejected.has(c.remotePeer.toString()))
  }

  #peerIdOf (peer: string): PeerId | undefined {
    return this.#node.getConnections().find(c => c.remotePeer.toString() === peer)?.remotePeer
  }

  #holdersOf (cid: string): string[] {
    const holders = this.#haves.holders(cid, Date.now())
    if (holders.length === 0) return []
    const connected = new Set(this.#peerConnections().map(c => c.remotePeer.toString()))
    return holders.filter(peer => connected.has(peer))
  }

  #prune (): void {
    const now = Date.now()
    for (const [cid, held] of this.#held) {
      if (now - held.at > HOLD_MS || this.#held.size > HOLD_MAX) this.#held.delete(cid)
    }
    this.#haves.sweep(now)
    for (const [peer, upload] of this.#uploads) if (now - upload.since >= UPLOAD_WINDOW_MS) this.#uploads.delete(peer)
  }

  /** Asks each relay for the room's viewers and dials the ones not yet connected. */
  async #discover (): Promise<void> {
    if (this.#stopped) return
    this.#prune()
    const me = this.#node.peerId.toString()
    for (const relay of this.#relays) {
      let peers: string[] | undefined
      try {
        const signal = AbortSignal.timeout(STATUS_TIMEOUT_MS)
        const stream = await this.#node.dialProtocol(multiaddr(relay), VIEWERS_PROTOCOL, { signal })
        const lp = lpStream(stream, { maxDataLength: MAX_SWARM_MESSAGE })
        await lp.write(encodeSwarmMessage({ room: this.#room, received: this.#received?.() }), { signal })
        peers = parseViewersAnswer((await lp.read({ signal })).subarray())
        await stream.close({ signal }).catch(() => {})
        if (peers === undefined) this.#stats.badMessages++
      } catch (err) {
        this.#log(`relay ${relay} did not list the room's viewers: ${(err as Error).message}`)
        continue
      }
      const connected = new Set(this.#node.getConnections().filter(c => c.limits === undefined && c.remoteAddr.toString().includes('/webrtc')).map(c => c.remotePeer.toString()))
      for (const peer of peers ?? []) {
        if (this.#stopped || this.peers() + this.#dialing.size >= MAX_PEERS) return
        // One side dials: the smaller peer id. Both dialing at once would set up two connections.
        if (peer === me || peer > me || connected.has(peer) || this.#dialing.has(peer) || this.#rejected.has(peer)) continue
        this.#dialing.add(peer)
        this.#node.dial(multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${peer}`), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
          .catch((err: Error) => { this.#log(`WebRTC to viewer ${peer} failed: ${err.message}`) })
          .finally(() => { this.#dialing.delete(peer) })
      }
    }
  }

  #opened (connection: Connection): void {
    if (connection.limits !== undefined || !connection.remoteAddr.toString().includes('/webrtc')) return
    const peer = connection.remotePeer.toString()
    if (this.#rejected.has(peer)) {
      void connection.close().catch(() => {})
      return
    }
    this.#onChange()
    void (async () => {
      try {
        const stream = await connection.newStream(HAVE_PROTOCOL, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        const lp = lpStream(stream, { maxDataLength: MAX_SWARM_MESSAGE })
        this.#haveOut.set(peer, lp)
        const held = [...this.#held.keys()]
        for (let i = 0; i < held.length; i += MAX_HAVE_CIDS) {
          await lp.write(encodeSwarmMessage({ have: held.slice(i, i + MAX_HAVE_CIDS) }), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        }
      } catch (err) {
        this.#haveOut.delete(peer)
        this.#log(`could not open the have stream to ${peer}: ${(err as Error).message}`)
      }
    })()
  }

  #closed (connection: Connection): void {
    const peer = connection.remotePeer.toString()
    if (this.#peerConnections().some(c => c.remotePeer.toString() === peer)) return
    this.#haveOut.delete(peer)
    this.#onChange()
  }

  /** Reads a peer's `have` messages until it closes; a malformed one ends the stream and is counted. */
  async #readHaves (stream: Stream, remote: PeerId): Promise<void> {
    const peer = remote.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_SWARM_MESSAGE })
    try {
      while (!this.#stopped && !this.#rejected.has(peer)) {
        const cids = parseHave((await lp.read()).subarray())
        if (cids === undefined) {
          this.#stats.badMessages++
          throw new Error('not a have message')
        }
        this.#haves.add(peer, cids, Date.now())
        for (const cid of cids) for (const done of this.#waiters.get(cid) ?? []) done()
      }
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** True when `bytes` more stay within `peer`'s upload cap; counts them then. */
  #mayUpload (peer: string, bytes: number): boolean {
    const now = Date.now()
    let upload = this.#uploads.get(peer)
    if (upload === undefined || now - upload.since >= UPLOAD_WINDOW_MS) {
      upload = { since: now, bytes: 0 }
      this.#uploads.set(peer, upload)
    }
    if (upload.bytes + bytes > UPLOAD_CAP_BYTES) return false
    upload.bytes += bytes
    return true
  }

  /** Answers one block request with the held block, or an empty message when it is not held. */
  async #serveBlock (stream: Stream, peer: string): Promise<void> {
    const signal = AbortSignal.timeout(DIAL_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: 128 })
    try {
      const cid = new TextDecoder().decode((await lp.read({ signal })).subarray())
      const held = tryParseCid(cid) === undefined ? undefined : this.#held.get(cid)
      if (held === undefined && tryParseCid(cid) === undefined) this.#stats.badMessages++
      // Past its upload cap a viewer is answered "not held": it falls back to the relays.
      const bytes = held === undefined || !this.#mayUpload(peer, held.bytes.length) ? new Uint8Array(0) : held.bytes
      await lp.write(bytes, { signal })
      await stream.close({ signal })
      if (bytes.length > 0) {
        this.#stats.uploadedBytes += bytes.length
        this.#stats.uploadedSegments++
        this.#onChange()
      }
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}
