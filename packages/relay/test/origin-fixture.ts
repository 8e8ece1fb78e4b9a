/**
 * A real origin-like publisher for relay tests: a libp2p node with its own key that stores random-byte
 * segments in its blockstore and publishes signed announcements on the room topic. No ffmpeg needed.
 */
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeEnvelope, rawCid, roomPartsTopic, roomTopic, signAnnouncement, signPartAnnouncement } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { waitForGossipPeer } from '@hivecast/devnet'
import type { PartAnnouncement, SegmentAnnouncement, SignedEnvelope } from '@hivecast/shared'
import type { Identity, P2PNode } from '@hivecast/shared/node'
import { startRelay } from '../src/index.ts'
import type { Relay, RelayOptions } from '../src/index.ts'

export const RENDITION = { name: '720p', bandwidth: 3_000_000, width: 1280, height: 720, codecs: 'avc1.64001f,mp4a.40.2', frameRate: 30 }
export const PDT_BASE = Date.UTC(2025, 0, 2, 3, 4, 5)

export interface PublishedSegment {
  announcement: SegmentAnnouncement
  envelope: SignedEnvelope
  bytes: Uint8Array
  cid: string
}

/** A fresh temp dir, removed again when the process exits whatever happened. */
export async function tempDir (prefix: string): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), `hivecast-relay-${prefix}-`))
  // libp2p's peer store can still write after stop() resolves, recreating files removed in `after`.
  process.once('exit', () => { rmSync(path, { recursive: true, force: true }) })
  return path
}

export async function removeDir (path: string | undefined): Promise<void> {
  if (path !== undefined) await rm(path, { recursive: true, force: true, maxRetries: 3 })
}

export async function waitFor<T> (what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** A segment announcement with the test defaults; `fields` overrides any of them. */
export function segmentAnnouncement (room: string, seq: number, cid: string, size: number, fields: Partial<SegmentAnnouncement> = {}): SegmentAnnouncement {
  return { kind: 'segment', room, rendition: RENDITION, seq, cid, size, duration: 2, pdt: PDT_BASE + seq * 2000, discontinuity: false, end: false, ...fields }
}

export class OriginFixture {
  readonly node: P2PNode
  readonly identity: Identity
  readonly room: string

  private constructor (node: P2PNode, identity: Identity, room: string) {
    this.node = node
    this.identity = identity
    this.room = room
  }

  static async start (options: { dataDir: string, room: string, port?: number }): Promise<OriginFixture> {
    const identity = await loadOrCreateIdentity(options.dataDir)
    const node = await createP2PNode({
      identity,
      dataDir: options.dataDir,
      listen: [`/ip4/127.0.0.1/tcp/${options.port ?? 0}`],
      allowPublishToZeroTopicPeers: true
    })
    return new OriginFixture(node, identity, options.room)
  }

  get address (): string {
    const address = this.node.libp2p.getMultiaddrs().find(a => a.toString().includes('/tcp/'))
    if (address === undefined) throw new Error('the origin fixture has no TCP address')
    return address.toString()
  }

  get topic (): string {
    return roomTopic(this.room)
  }

  /** Resolves once `peerId` is subscribed to the room topic as seen from here. */
  /** Resolves once a publish reaches `peerId`: it subscribed, and gossipsub's stream to it is open. */
  async waitForSubscriber (peerId: string, topic = this.topic): Promise<void> {
    await waitForGossipPeer(this.node, peerId, topic)
  }

  /** Stores random bytes (or the given ones) as a raw block, not announced. */
  async storeBlock (size = 2000, given?: Uint8Array): Promise<{ cid: string, bytes: Uint8Array }> {
    const bytes = given ?? new Uint8Array(randomBytes(size))
    const cid = await rawCid(bytes)
    await this.node.blockstore.put(cid, bytes)
    return { cid: cid.toString(), bytes }
  }

  /** Stores a block (random bytes unless given) and publishes a correctly signed announcement for it. */
  async publishSegment (seq: number, size = 2000, fields: Partial<SegmentAnnouncement> = {}, given?: Uint8Array): Promise<PublishedSegment> {
    const { cid, bytes } = await this.storeBlock(size, given)
    const announcement = segmentAnnouncement(this.room, seq, cid, bytes.length, fields)
    const envelope = await signAnnouncement(announcement, this.identity.privateKey, this.identity.id)
    await this.publishBytes(encodeEnvelope(envelope))
    return { announcement, envelope, bytes, cid }
  }

  /** Stores `bytes` as a raw block and publishes a signed part announcement for it on the room's parts topic. */
  async publishPart (seq: number, part: number, bytes: Uint8Array, fields: Partial<PartAnnouncement> = {}): Promise<PartAnnouncement> {
    const { cid } = await this.storeBlock(bytes.length, bytes)
    const announcement: PartAnnouncement = { kind: 'part', room: this.room, rendition: RENDITION.name, session: 'fixture', seq, part, cid, size: bytes.length, duration: 0.5, independent: part === 0, last: false, ...fields }
    const envelope = await signPartAnnouncement(announcement, this.identity.privateKey, this.identity.id)
    await this.node.libp2p.services.pubsub.publish(roomPartsTopic(this.room), encodeEnvelope(envelope))
    return announcement
  }

  async publishBytes (data: Uint8Array): Promise<void> {
    await this.node.libp2p.services.pubsub.publish(this.topic, data)
  }

  async stop (): Promise<void> {
    await this.node.stop()
  }
}

/** An origin fixture and a relay following its room, both on loopback. */
export interface FollowedRoom {
  dir: string
  origin: OriginFixture
  relay: Relay
  stop: () => Promise<void>
}

/** Starts an origin fixture for `room` and a relay following it; resolves once the relay has subscribed. */
export async function followedRoom (prefix: string, room: string, options: Omit<Partial<RelayOptions>, 'origins'> = {}): Promise<FollowedRoom> {
  const dir = await tempDir(prefix)
  const origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room })
  const relay = await startRelay({
    rooms: [room],
    dataDir: join(dir, 'relay'),
    http: { host: '127.0.0.1', port: 0 },
    log: () => {},
    ...options,
    origins: [origin.address]
  })
  await origin.waitForSubscriber(relay.peerId)
  return {
    dir,
    origin,
    relay,
    stop: async () => {
      await relay.stop()
      await origin.stop()
      await removeDir(dir)
    }
  }
}
