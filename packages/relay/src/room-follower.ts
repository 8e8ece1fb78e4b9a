/**
 * Following one room: the gossipsub validator that lets only announcements signed by the room's keys
 * through (so nothing forged is stored, served or forwarded), a live window per rendition, and the
 * fetch of every announced block over bitswap, checked against the announcement before it is listed.
 * Also the room's newest thumbnail, and the hot-standby switch between the room's origins.
 *
 * Hot standby. A room may list several keys, one per origin; the first is the primary. The live
 * windows list the segments of one origin at a time, the one followed: the primary at first. When the
 * followed origin's announcements stop for more than 2 of its segment durations, the next segment of
 * another listed origin switches the room to that origin. Its segments announced during the silence
 * (kept while it was not followed) fill in after the last one listed, the first of them with a
 * discontinuity; a segment of the quiet origin still being fetched is given up one segment duration
 * later and listed as a gap, so it does not hold the playlists back. Sequence numbers are not
 * remapped: players check every listed (seq, CID) pair against a signed announcement, so a relay-made
 * number would be refused. Instead a standby origin follows the others' numbers (it is started with
 * their keys and never numbers a segment below theirs), so its segments continue the listed sequence;
 * one numbered at or below what is already listed is never taken. The switch is sticky: when the
 * primary returns, the room stays with the standby until the standby in turn goes quiet — switching
 * back would cost viewers a second discontinuity for nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { LiveWindow, MAX_THUMBNAIL_BYTES, RAW_CODEC, roomTopic, verifyRawBlock, verifyRoomMessage } from '@hivecast/shared'
import { deleteBlock, requestWindow } from '@hivecast/shared/node'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { CID } from 'multiformats/cid'
import type { EntryState, RenditionInfo, Room, SegmentAnnouncement, SignedEnvelope, VerifiedAnnouncement, VerifiedRecording, VerifiedRoomMessage, VerifiedThumbnail } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import type { BlockFetcher } from './block-fetcher.ts'
import type { TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

/** Why an announcement was refused; counted per room and shown in /status. */
export type RejectReason = 'oversized' | 'malformed' | 'wrong-key' | 'bad-signature' | 'invalid-announcement' | 'wrong-room' | 'conflicting-seq' | 'unusable-thumbnail' | 'numbered-below'

export interface SegmentRecord {
  announcement: SegmentAnnouncement
  /** The signed envelope exactly as received, handed on to late joiners and players. */
  envelope: SignedEnvelope
  state: EntryState
  /** Local clock, ms since the epoch: when the announcement arrived. */
  receivedAt: number
  /** Local clock, ms since the epoch: when the verified block was in the blockstore. */
  storedAt?: number
}

export interface RenditionStatus {
  latestSeq: number | null
  listed: number
  /** When the newest announced segment was stored; null while it is pending or failed. */
  storedAt: number | null
  /** Segments whose blocks this relay holds. */
  held: number
  /** Announced segments newer than the newest stored one. */
  behind: number
}

export interface RoomStatus {
  keys: string[]
  /** The origin key whose segments are listed now (the primary until it went quiet). */
  following: string
  /** Times the room switched to another origin. */
  switches: number
  /** The newest thumbnail held, served at /rooms/<room>/thumbnail.jpg. */
  thumbnail: { cid: string, at: number } | null
  renditions: Record<string, RenditionStatus>
  rejected: Partial<Record<RejectReason, number>>
}

/** A segment whose block this relay holds: what the disk quota chooses from. */
export interface HeldSegment {
  room: string
  rendition: string
  seq: number
  size: number
  storedAt: number
  /** A pinned recording is never evicted for live data. Live segments are never pinned. */
  pinned: boolean
}

export interface RoomFollowerOptions {
  /** Segments listed per rendition playlist. */
  windowSize: number
  /** Blocks are kept this long after their announcement, and deleted once out of the window too. */
  retentionMs: number
  /** Budget for fetching one block, retry included. */
  fetchTimeoutMs: number
  /** Fetches one block (from the store, or over bitswap) and keeps it in the blockstore. */
  fetchBlock: BlockFetcher
  /** Called after each segment is stored (the disk quota checks then). */
  onStored?: () => void
  /** Takes a verified recording announcement (never part of the live window); false when not new. */
  onRecording?: (recording: VerifiedRecording) => boolean
  /** True for a block of a pinned recording: a live segment sharing it never deletes it. */
  isPinned?: (cid: CID) => boolean
  log: (line: string) => void
}

/** The newest room thumbnail this relay holds. */
export interface RoomThumbnail {
  cid: string
  /** When the origin took it, ms since the epoch. */
  at: number
  width: number
  height: number
  bytes: Uint8Array
  envelope: SignedEnvelope
}

interface Rendition {
  info: RenditionInfo
  window: LiveWindow
  records: Map<number, SegmentRecord>
}

const RETRY_DELAY_MS = 500
/** An origin is quiet after this many of its segment durations without a new announcement. */
const QUIET_SEGMENTS = 2
/** Segment duration assumed for an origin not heard yet. */
const DEFAULT_SEGMENT_SECONDS = 1
/** Segments kept per origin not followed (all renditions together). */
const UNFOLLOWED_KEPT = 64
/** Sweep at least this often; a shorter retention sweeps as often as it expires. */
const SWEEP_INTERVAL_MS = 30_000

/** Maps verifyEnvelope's one-line reasons onto the counted categories. */
function classify (reason: string): RejectReason {
  if (reason.startsWith('message too large')) return 'oversized'
  if (reason.startsWith('signer ') && reason.includes('not a key')) return 'wrong-key'
  if (reason === 'bad signature' || reason.startsWith('signer id')) return 'bad-signature'
  if (reason.startsWith('message is not') || reason === 'payload is not JSON') return 'malformed'
  return 'invalid-announcement'
}

export class RoomFollower {
  readonly room: Room
  readonly topic: string
  readonly #node: P2PNode
  readonly #options: RoomFollowerOptions
  readonly #renditions = new Map<string, Rendition>()
  readonly #rejected = new Map<RejectReason, number>()
  /** Stored blocks this room holds, by canonical CID string, with how many segments share each. */
  readonly #held = new Map<string, number>()
  readonly #stopping = new AbortController()
  #sweepTimer: NodeJS.Timeout | undefined
  #catchingUp = false
  #catchUpNext: PeerId | undefined
  #thumbnail: RoomThumbnail | undefined
  /** The thumbnail being fetched, so repeats of its announcement are not fetched again. */
  #thumbnailFetching: string | undefined
  /** The origin key whose segments are listed. */
  #following: string
  #switches = 0
  /** Per origin key: when its newest segment arrived (local clock), its duration, and its newest seq per rendition. */
  readonly #heard = new Map<string, { at: number, duration: number, newest: Map<string, number> }>()
  readonly #startedAt = Date.now()
  /** After a switch: per rendition, the newest seq listed before it; the new origin's segments must be above it. */
  readonly #floor = new Map<string, number>()
  /** Segment fetches under way, each abandoned one segment duration after a switch away from its origin. */
  readonly #inFlight = new Map<SegmentRecord, AbortController>()
  /** The latest segments of origins not followed, replayed on a switch to fill the silence before it. */
  readonly #unfollowed = new Map<string, VerifiedAnnouncement[]>()

  constructor (node: P2PNode, room: Room, options: RoomFollowerOptions) {
    this.#node = node
    this.room = room
    this.topic = roomTopic(room.slug)
    this.#options = options
    this.#following = room.keys[0] ?? ''
  }

  start (): void {
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.topicValidators.set(this.topic, this.#validate)
    pubsub.subscribe(this.topic)
    this.#sweepTimer = setInterval(() => { this.#sweep().catch(err => this.#options.log(`room ${this.room.slug}: sweep failed: ${(err as Error).message}`)) }, Math.min(SWEEP_INTERVAL_MS, this.#options.retentionMs))
    this.#sweepTimer.unref()
  }

  stop (): void {
    this.#stopping.abort()
    clearInterval(this.#sweepTimer)
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
  }

  /** Rendition names, in the order first seen. */
  renditionNames (): string[] {
    return [...this.#renditions.keys()]
  }

  renditionInfo (name: string): RenditionInfo | undefined {
    return this.#renditions.get(name)?.info
  }

  window (name: string): LiveWindow | undefined {
    return this.#renditions.get(name)?.window
  }

  record (rendition: string, seq: number): SegmentRecord | undefined {
    return this.#renditions.get(rendition)?.records.get(seq)
  }

  /** True when this room announced `cid` and its verified block is in the blockstore. */
  holds (cid: CID): boolean {
    return this.#held.has(cid.toString())
  }

  /** The newest room thumbnail fetched and checked, or undefined before the first. */
  thumbnail (): RoomThumbnail | undefined {
    return this.#thumbnail
  }

  /** Newest storedAt over all renditions, or undefined before the first stored segment. */
  newestStoredAt (): number | undefined {
    let newest: number | undefined
    for (const { records } of this.#renditions.values()) {
      for (const record of records.values()) {
        if (record.storedAt !== undefined && (newest === undefined || record.storedAt > newest)) newest = record.storedAt
      }
    }
    return newest
  }

  /** Every segment held, with what the disk quota needs to order them. */
  heldSegments (): HeldSegment[] {
    return [...this.#renditions.entries()].flatMap(([rendition, { records }]) =>
      [...records.values()].flatMap(r => r.state === 'stored' && r.storedAt !== undefined
        ? [{ room: this.room.slug, rendition, seq: r.announcement.seq, size: r.announcement.size, storedAt: r.storedAt, pinned: false }]
        : []))
  }

  /**
   * Deletes a held segment's block to make room: still listed while in the window, as a gap, so players
   * skip it rather than ask for a block that is gone. False when it was not held.
   */
  async evict (renditionName: string, seq: number): Promise<boolean> {
    const rendition = this.#renditions.get(renditionName)
    const record = rendition?.records.get(seq)
    if (rendition === undefined || record === undefined || record.state !== 'stored') return false
    record.state = 'failed'
    rendition.window.setState(seq, 'failed')
    for (const key of this.#blocksOf(record)) await this.#release(CID.parse(key))
    return true
  }

  /** Drops one holder of a block, deleting it from disk when no segment holds it any more. */
  async #release (cid: CID): Promise<void> {
    const key = cid.toString()
    const count = (this.#held.get(key) ?? 1) - 1
    if (count > 0) {
      this.#held.set(key, count)
      return
    }
    this.#held.delete(key)
    if (this.#options.isPinned?.(cid) === true) return
    await deleteBlock(this.#node, cid)
  }

  status (): RoomStatus {
    const renditions: Record<string, RenditionStatus> = {}
    for (const [name, { window, records }] of this.#renditions) {
      const latest = window.latest()
      let held = 0
      let newestStored = -1
      for (const record of records.values()) {
        if (record.state !== 'stored') continue
        held++
        newestStored = Math.max(newestStored, record.announcement.seq)
      }
      renditions[name] = {
        latestSeq: latest?.seq ?? null,
        listed: window.playlist().entries.length,
        storedAt: latest === undefined ? null : records.get(latest.seq)?.storedAt ?? null,
        held,
        behind: [...records.keys()].filter(seq => seq > newestStored).length
      }
    }
    const thumbnail = this.#thumbnail === undefined ? null : { cid: this.#thumbnail.cid, at: this.#thumbnail.at }
    return { keys: [...this.room.keys], following: this.#following, switches: this.#switches, thumbnail, renditions, rejected: Object.fromEntries(this.#rejected) }
  }

  /**
   * Runs for every message on the room topic before gossipsub delivers or forwards it. A message that
   * verifies is taken in here, once (gossipsub has already dropped repeats of the same message id).
   */
  readonly #validate: TopicValidatorFn = async (peer, message) => {
    const verified = await this.#check(message.data, peer)
    if (verified === undefined) return TopicValidatorResult.Reject
    // Recordings and thumbnails are routed by kind: they never enter the live window.
    if (verified.announcement.kind === 'recording') {
      const taken = this.#options.onRecording?.(verified as VerifiedRecording) ?? false
      return taken ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
    }
    if (verified.announcement.kind === 'thumbnail') {
      return this.#takeThumbnail(verified as VerifiedThumbnail) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
    }
    const segment = verified as VerifiedAnnouncement
    const fresh = this.#hear(segment)
    if (segment.envelope.key !== this.#following) {
      // Another origin of the room: passed on (relays further away need it for their own switch),
      // listed only once the followed origin has gone quiet.
      if (!fresh) return TopicValidatorResult.Ignore
      if (!this.#switchTo(segment)) {
        const kept = this.#unfollowed.get(segment.envelope.key) ?? []
        kept.push(segment)
        if (kept.length > UNFOLLOWED_KEPT) kept.shift()
        this.#unfollowed.set(segment.envelope.key, kept)
        return TopicValidatorResult.Accept
      }
    }
    const floor = this.#floor.get(segment.announcement.rendition.name)
    if (fresh && floor !== undefined && segment.announcement.seq <= floor) {
      // Switched to an origin that numbers behind what is listed: it never heard the other's numbers.
      this.#reject('numbered-below', `origin ${segment.envelope.key} announced seq ${segment.announcement.seq} of ${segment.announcement.rendition.name}, not above the ${floor} already listed: start a standby origin with --room-key <the other origin's key> so it numbers after it`)
    }
    const gap = this.#followsGap(segment.announcement)
    const accepted = this.#accept(segment)
    // Joined mid-stream, missed messages, or just switched: the peer that sent this one has the window before it.
    if (accepted && gap) this.catchUp(peer)
    return accepted ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
  }

  /** Notes a segment announcement's origin as alive; false when it is not newer than what it said before. */
  #hear ({ announcement, envelope }: VerifiedAnnouncement): boolean {
    let heard = this.#heard.get(envelope.key)
    if (heard === undefined) {
      heard = { at: 0, duration: announcement.duration, newest: new Map() }
      this.#heard.set(envelope.key, heard)
    }
    const newest = heard.newest.get(announcement.rendition.name)
    if (newest !== undefined && announcement.seq <= newest) return false
    heard.newest.set(announcement.rendition.name, announcement.seq)
    heard.at = Date.now()
    heard.duration = announcement.duration
    return true
  }

  /**
   * Switches to the origin of `segment` when the followed one has been quiet for more than
   * QUIET_SEGMENTS of its segment durations (counted from the follower's start if never heard).
   */
  #switchTo ({ envelope }: VerifiedAnnouncement): boolean {
    const followed = this.#heard.get(this.#following)
    const quietMs = QUIET_SEGMENTS * 1000 * (followed?.duration ?? this.#heard.get(envelope.key)?.duration ?? DEFAULT_SEGMENT_SECONDS)
    const silent = Date.now() - (followed?.at ?? this.#startedAt)
    if (silent <= quietMs) return false
    this.#options.log(`room ${this.room.slug}: origin ${this.#following} quiet for ${(silent / 1000).toFixed(1)} s; following origin ${envelope.key} from its next segment`)
    this.#following = envelope.key
    this.#switches++
    this.#floor.clear()
    for (const [name, { window }] of this.#renditions) {
      const latest = window.latest()
      if (latest !== undefined) this.#floor.set(name, latest.seq)
    }
    // A segment of the quiet origin still being fetched holds back every later one from the playlists:
    // give peers that may hold it one segment duration more, then list it as a gap.
    for (const [record, abandon] of this.#inFlight) {
      if (record.envelope.key !== envelope.key) setTimeout(() => { abandon.abort() }, record.announcement.duration * 1000).unref()
    }
    // What the new origin announced while the old one was silent: the floor keeps only what is new here.
    for (const kept of this.#unfollowed.get(envelope.key) ?? []) this.#accept(kept)
    this.#unfollowed.clear()
    return true
  }

  /**
   * Takes a verified thumbnail when it is newer than the one held: fetches its block (one raw block of
   * at most MAX_THUMBNAIL_BYTES), checks it, keeps it in memory for HTTP and in the blockstore for
   * peers, and drops the previous one. False for an old or repeated one (not passed on).
   */
  #takeThumbnail ({ announcement, envelope }: VerifiedThumbnail): boolean {
    if (this.#stopping.signal.aborted) return false
    if (this.#thumbnail !== undefined && announcement.at <= this.#thumbnail.at) return false
    if (this.#thumbnailFetching === announcement.cid) return false
    this.#thumbnailFetching = announcement.cid
    const cid = CID.parse(announcement.cid)
    void (async () => {
      const signal = AbortSignal.any([AbortSignal.timeout(this.#options.fetchTimeoutMs), this.#stopping.signal])
      const bytes = await this.#options.fetchBlock(cid, signal)
      // Served as image/jpeg: it must be one (SOI marker), besides small and the block it claims to be.
      const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff
      if (bytes.length > MAX_THUMBNAIL_BYTES || !jpeg || !(await verifyRawBlock(cid, bytes))) {
        if (!this.#held.has(cid.toString())) await deleteBlock(this.#node, cid)
        throw new Error(`it is ${bytes.length} bytes (at most ${MAX_THUMBNAIL_BYTES} allowed)${jpeg ? '' : ', not a JPEG'}`)
      }
      // A newer one may have been taken while this one was fetched.
      if (this.#thumbnail !== undefined && announcement.at <= this.#thumbnail.at) return
      const previous = this.#thumbnail
      this.#thumbnail = { cid: announcement.cid, at: announcement.at, width: announcement.width, height: announcement.height, bytes, envelope }
      if (previous !== undefined && previous.cid !== announcement.cid && !this.#held.has(previous.cid)) await deleteBlock(this.#node, CID.parse(previous.cid))
    })().catch((err: Error) => {
      if (!this.#stopping.signal.aborted) this.#reject('unusable-thumbnail', `thumbnail ${announcement.cid} not taken: ${err.message}`)
    }).finally(() => {
      if (this.#thumbnailFetching === announcement.cid) this.#thumbnailFetching = undefined
    })
    return true
  }

  /**
   * Asks `peer` (the origin or another relay) for the room's recent window, in the background, and
   * takes in what verifies exactly as if it had come over gossipsub: a relay that joins late, restarts
   * or missed messages catches up at once. One request at a time; a gap seen meanwhile asks again after.
   */
  catchUp (peer: PeerId): void {
    if (this.#stopping.signal.aborted) return
    if (this.#catchingUp) {
      this.#catchUpNext = peer
      return
    }
    this.#catchingUp = true
    const from = peer.toString()
    void (async () => {
      let taken = 0
      for (const bytes of await requestWindow(this.#node, peer, this.room.slug)) {
        // The window exchange carries segments and the newest thumbnail; anything else in it is dropped.
        const verified = await this.#check(bytes, peer)
        if (verified?.announcement.kind === 'thumbnail') this.#takeThumbnail(verified as VerifiedThumbnail)
        if (verified?.announcement.kind !== 'segment') continue
        const segment = verified as VerifiedAnnouncement
        this.#hear(segment)
        if (segment.envelope.key === this.#following && this.#accept(segment)) taken++
      }
      if (taken > 0) this.#options.log(`room ${this.room.slug}: caught up ${taken} segments from ${from}`)
    })().catch((err: Error) => { this.#options.log(`room ${this.room.slug}: could not catch up from ${from}: ${err.message}`) })
      .finally(() => {
        this.#catchingUp = false
        const next = this.#catchUpNext
        this.#catchUpNext = undefined
        if (next !== undefined) this.catchUp(next)
      })
  }

  /** True when `announcement` is not the next one of its rendition: something before it is missing. */
  #followsGap (announcement: SegmentAnnouncement): boolean {
    const latest = this.#renditions.get(announcement.rendition.name)?.window.latest()
    return latest === undefined ? announcement.seq > 0 : announcement.seq > latest.seq + 1
  }

  /** Signed envelopes of the listed segments, oldest first per rendition, and the newest thumbnail: what this relay passes on. */
  envelopes (): SignedEnvelope[] {
    return [...this.#renditions.values()].flatMap(({ window, records }) =>
      window.playlist().entries.flatMap(e => {
        const record = records.get(e.seq)
        return record?.state === 'stored' ? [record.envelope] : []
      })).concat(this.#thumbnail === undefined ? [] : [this.#thumbnail.envelope])
  }

  /** Verifies a message for this room; counts and logs why when it is refused. */
  async #check (data: Uint8Array, from: PeerId): Promise<VerifiedRoomMessage | undefined> {
    const result = await verifyRoomMessage(data, this.room.keys)
    if (!result.ok) {
      this.#reject(classify(result.reason), `${result.reason} (from ${from.toString()})`)
      return undefined
    }
    const { announcement } = result.value
    if (announcement.room !== this.room.slug) {
      this.#reject('wrong-room', `announcement for room "${announcement.room}" on the topic of "${this.room.slug}" (from ${from.toString()})`)
      return undefined
    }
    return result.value
  }

  #reject (reason: RejectReason, detail: string): void {
    const count = (this.#rejected.get(reason) ?? 0) + 1
    this.#rejected.set(reason, count)
    // The first of each kind is worth a line; the counts are in /status and the status line.
    if (count === 1) this.#options.log(`room ${this.room.slug}: rejected an announcement (${reason}): ${detail}`)
  }

  /** Takes a verified announcement; false for a repeat or one too old for the window (not forwarded). */
  #accept ({ announcement: signed, envelope }: VerifiedAnnouncement): boolean {
    if (this.#stopping.signal.aborted) return false
    // Since a switch, only numbers above what was listed before it: the sequence keeps rising.
    const floor = this.#floor.get(signed.rendition.name)
    if (floor !== undefined && signed.seq <= floor) return false
    let rendition = this.#renditions.get(signed.rendition.name)
    if (rendition === undefined) {
      rendition = { info: signed.rendition, window: new LiveWindow(this.#options.windowSize), records: new Map() }
      this.#renditions.set(signed.rendition.name, rendition)
    }
    const before = rendition.records.get(signed.seq - 1)
    // The first segment listed from another origin than the one before it: its picture and timestamps
    // do not continue the previous segment's.
    const announcement: SegmentAnnouncement = before !== undefined && before.envelope.key !== envelope.key && !signed.discontinuity ? { ...signed, discontinuity: true } : signed
    const known = rendition.records.get(announcement.seq)
    if (known !== undefined) {
      if (known.announcement.cid !== announcement.cid) {
        this.#reject('conflicting-seq', `seq ${announcement.seq} of ${announcement.rendition.name} announced again with another CID`)
      }
      return false
    }
    if (!rendition.window.add(announcement)) return false
    rendition.info = announcement.rendition
    const record: SegmentRecord = { announcement, envelope, state: 'pending', receivedAt: Date.now() }
    rendition.records.set(announcement.seq, record)
    this.#fetch(rendition, record).catch(err => this.#options.log(`room ${this.room.slug}: fetch of ${announcement.cid} crashed: ${(err as Error).message}`))
    return true
  }

  async #fetch (rendition: Rendition, record: SegmentRecord): Promise<void> {
    const { cid: cidText, size, seq, init } = record.announcement
    const cid = CID.parse(cidText)
    const what = `${this.room.slug}/${rendition.info.name} seq ${seq} (${cidText})`
    let stored = false
    if (cid.code !== RAW_CODEC) {
      this.#options.log(`${what}: segments over 1 MiB (UnixFS DAGs) are not relayed yet; listed as a gap. Keep origin segments under 1 MiB.`)
    } else {
      const abandon = new AbortController()
      this.#inFlight.set(record, abandon)
      const signal = AbortSignal.any([AbortSignal.timeout(this.#options.fetchTimeoutMs), this.#stopping.signal, abandon.signal])
      // An fMP4 segment plays only with its init section: fetched first (once per origin run; the
      // segments after it find it held), and the segment is a gap without it.
      const initCid = init === undefined ? undefined : CID.parse(init.cid)
      const initHeld = initCid === undefined || this.#held.has(initCid.toString()) ||
        await this.#fetchVerified(initCid, init!.size, `${what}: init section ${init!.cid}`, signal)
      stored = initHeld && await this.#fetchVerified(cid, size, what, signal)
      this.#inFlight.delete(record)
      const missing = initHeld ? 'the block' : `its init section ${init!.cid}`
      if (!stored && abandon.signal.aborted) this.#options.log(`${what}: its origin went quiet before ${missing} was had; listed as a gap`)
      else if (!stored && !this.#stopping.signal.aborted) this.#options.log(`${what}: ${missing} not fetched within ${this.#options.fetchTimeoutMs} ms; listed as a gap`)
    }
    if (this.#stopping.signal.aborted) return
    if (stored) {
      record.storedAt = Date.now()
      for (const key of this.#blocksOf(record)) this.#held.set(key, (this.#held.get(key) ?? 0) + 1)
    }
    record.state = stored ? 'stored' : 'failed'
    rendition.window.setState(seq, record.state)
    if (stored) this.#options.onStored?.()
  }

  /** Fetches one announced block (two tries) and checks its size and hash; false when it could not be had. */
  async #fetchVerified (cid: CID, size: number, what: string, signal: AbortSignal): Promise<boolean> {
    for (let attempt = 1; attempt <= 2 && !signal.aborted; attempt++) {
      try {
        const bytes = await this.#options.fetchBlock(cid, signal)
        // Bitswap already checked the hash; the size is the announcement's own claim, checked here.
        if (bytes.length !== size || !(await verifyRawBlock(cid, bytes))) {
          this.#options.log(`${what}: block is ${bytes.length} bytes but ${size} were announced; listed as a gap`)
          if (!this.#held.has(cid.toString())) await deleteBlock(this.#node, cid)
          return false
        }
        return true
      } catch (err) {
        if (signal.aborted) break
        this.#options.log(`${what}: fetch attempt ${attempt} failed: ${(err as Error).message}`)
        await sleep(RETRY_DELAY_MS, undefined, { signal }).catch(() => {})
      }
    }
    return false
  }

  /** The blocks a stored segment holds: its own and, for fMP4, its init section's. */
  #blocksOf (record: SegmentRecord): string[] {
    const { cid, init } = record.announcement
    return init === undefined ? [cid] : [cid, init.cid]
  }

  /** Forgets segments past the retention horizon that have left the window, deleting their blocks. */
  async #sweep (): Promise<void> {
    const horizon = Date.now() - this.#options.retentionMs
    for (const rendition of this.#renditions.values()) {
      const inWindow = new Set(rendition.window.announcements().map(a => a.seq))
      for (const [seq, record] of rendition.records) {
        if (record.receivedAt >= horizon || inWindow.has(seq) || record.state === 'pending') continue
        rendition.records.delete(seq)
        if (record.state !== 'stored') continue
        for (const key of this.#blocksOf(record)) await this.#release(CID.parse(key))
      }
    }
  }
}
