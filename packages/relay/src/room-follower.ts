/**
 * Following one room: the gossipsub validator that lets only announcements signed by the room's keys
 * through (so nothing forged is stored, served or forwarded), a live window per rendition, and the
 * fetch of every announced block over bitswap, checked against the announcement before it is listed.
 * A segment not had within the fetch budget is listed as a gap and fetched again later, from the other
 * relays first (`GAP_RETRY_STEPS`); once held it is listed as a segment.
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
import { LiveWindow, roomTopic, verifyRoomMessage } from '@hivecast/shared'
import { requestWindow } from '@hivecast/shared/node'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { LRUCache } from 'lru-cache'
import type { Logger, RenditionInfo, Room, SegmentAnnouncement, SignedEnvelope, VerifiedAnnouncement, VerifiedRecording, VerifiedRoomMessage, VerifiedThumbnail, VerifiedWithdrawal } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import type { TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { BlockFetcher } from './block-fetcher.ts'
import { HeldBlocks } from './held-blocks.ts'
import { OriginStandby } from './origin-standby.ts'
import { RoomThumbnailKeeper } from './room-thumbnail.ts'
import type { RoomThumbnail } from './room-thumbnail.ts'
import { fetchSegment, segmentBlocks } from './segment-fetch.ts'
import { RoomParts } from './room-parts.ts'
import { BlockingReloads } from './blocking-reload.ts'
import type { HeldSegment, RejectReason, RenditionStatus, RoomStatus, SegmentRecord } from './room-status.ts'

export type { RoomThumbnail } from './room-thumbnail.ts'

export type { HeldSegment, RejectReason, RenditionStatus, RoomStatus, SegmentRecord } from './room-status.ts'

export interface RoomFollowerOptions {
  /** Segments listed per rendition playlist. */
  playlistLength: number
  /** Blocks are kept this long after their announcement, and deleted once out of the window too. */
  retentionMs: number
  /** How far back viewers may rewind (ms): records and blocks are kept this long when it exceeds retentionMs. */
  rewindMs?: number
  /** Budget for fetching one block, retry included. */
  fetchTimeoutMs: number
  /** Fetches one block (from the store, or over bitswap) and keeps it in the blockstore. */
  fetchBlock: BlockFetcher
  /** Fetches one block from other relays alone (the origin only when there are none): gaps fetched again, all tries but the last. Default: `fetchBlock`. */
  fetchFromRelays?: BlockFetcher
  /** The first wait before a gap is fetched again (ms); later ones are `GAP_RETRY_STEPS` of it. Default 5 s. */
  gapRetryMs?: number
  /** Called after each segment is stored (the disk quota checks then). */
  onStored?: () => void
  /** Takes a verified recording announcement (never part of the live window); false when not new. */
  onRecording?: (recording: VerifiedRecording) => boolean
  /** Takes a verified recording withdrawal (consent withdrawn); false when not new. */
  onWithdrawal?: (withdrawal: VerifiedWithdrawal) => boolean
  /** True for a block of a pinned recording: a live segment sharing it never deletes it. */
  isPinned?: (cid: CID) => boolean
  /**
   * Called when `peer` served the room: it answered a window request with verified segments, or with
   * an empty window while this relay holds no segment either (the room has not started).
   */
  onServed?: (peer: PeerId) => void
  log: Logger
}

interface Rendition {
  info: RenditionInfo
  /** The rendition's segments, one record each: the newest listed, older ones kept until swept. */
  window: LiveWindow<SegmentRecord>
  /** Announced segments whose blocks could not be had: listed as gaps. */
  gaps: number
  /** Of those, the ones fetched later after all (`GAP_RETRY_STEPS`). */
  filled: number
}

/** Sweep at least this often; a shorter retention sweeps as often as it expires. */
const SWEEP_INTERVAL_MS = 30_000
/**
 * A segment given up is fetched again this long after, and after each failure the next: a squeezed
 * origin uplink or a short partition leaves gaps whose blocks move again later, and viewers who rewind,
 * relays catching up from this one and archives read the gap filled. Live players are past it by then.
 * Every try but the last asks the other relays alone: in the lab, a slow relay's tries at the origin
 * had it send those segments again and again (each try timed out on the relay's own link).
 */
const GAP_RETRY_STEPS = [1, 2, 6, 12]
const DEFAULT_GAP_RETRY_MS = 5_000
/** Room messages kept as checked, by their bytes: more than a window of a few renditions. */
const CHECKED_KEPT = 512
const UTF8 = new TextDecoder()

export class RoomFollower {
  readonly room: Room
  readonly topic: string
  readonly #node: P2PNode
  readonly #options: RoomFollowerOptions
  readonly #log: Logger
  readonly #renditions = new Map<string, Rendition>()
  readonly #rejected = new Map<RejectReason, number>()
  /**
   * Messages whose signature checked out, by their exact text: each catch-up hands over a peer's whole
   * window, most of it held here already: this follower's signature checks were ~6 % of a following
   * relay's busy CPU, nearly all of them in catch-ups (profiled with 8 relays, each asking the others
   * every half proof lifetime).
   */
  readonly #checked = new LRUCache<string, VerifiedRoomMessage>({ max: CHECKED_KEPT })
  readonly #held: HeldBlocks
  readonly #standby: OriginStandby
  readonly #thumbnail: RoomThumbnailKeeper
  readonly #stopping = new AbortController()
  /** LL-HLS: the room's parts, and the playlist requests blocked until a segment or part is held. */
  readonly parts: RoomParts
  readonly reloads = new BlockingReloads()
  #sweepTimer: NodeJS.Timeout | undefined
  #catchingUp = false
  #catchUpNext: PeerId | undefined
  /** Segment fetches under way, each abandoned one segment duration after a switch away from its origin. */
  readonly #inFlight = new Map<SegmentRecord, AbortController>()
  /** Segments given up and due to be fetched again: the sweep leaves them be meanwhile. */
  readonly #refilling = new Set<SegmentRecord>()
  /** A gap's fetch is under way: one at a time, so gaps never crowd the live edge's fetches. */
  #refillBusy = false

  constructor (node: P2PNode, room: Room, options: RoomFollowerOptions) {
    this.#node = node
    this.room = room
    this.topic = roomTopic(room.slug)
    this.#options = options
    this.#log = options.log
    this.#held = new HeldBlocks(node, options.isPinned)
    this.#standby = new OriginStandby(room.keys)
    this.#thumbnail = new RoomThumbnailKeeper({
      fetchBlock: options.fetchBlock,
      fetchTimeoutMs: options.fetchTimeoutMs,
      held: this.#held,
      stopping: this.#stopping.signal,
      onUnusable: detail => { this.#reject('unusable-thumbnail', detail) }
    })
    const { fetchBlock, fetchTimeoutMs, log } = options
    this.parts = new RoomParts(node, room, { fetchBlock, fetchTimeoutMs, log, held: this.#held, following: () => this.#standby.following, onChange: () => { this.reloads.notify() }, reject: (reason, detail) => { this.#reject(reason, detail) }, stopping: this.#stopping.signal })
  }

  start (): void {
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.topicValidators.set(this.topic, this.#validate)
    pubsub.subscribe(this.topic)
    this.parts.start()
    this.#sweepTimer = setInterval(() => { this.#sweep().catch(err => this.#log.error(`room ${this.room.slug}: sweep failed: ${(err as Error).message}`)) }, Math.min(SWEEP_INTERVAL_MS, this.#keepMs()))
    this.#sweepTimer.unref()
  }

  stop (): void {
    this.#stopping.abort()
    clearInterval(this.#sweepTimer)
    const pubsub = this.#node.libp2p.services.pubsub
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
    this.parts.stop()
  }

  /** Rendition names, in the order first seen. */
  renditionNames (): string[] {
    return [...this.#renditions.keys()]
  }

  renditionInfo (name: string): RenditionInfo | undefined {
    return this.#renditions.get(name)?.info
  }

  window (name: string): LiveWindow<SegmentRecord> | undefined {
    return this.#renditions.get(name)?.window
  }

  record (rendition: string, seq: number): SegmentRecord | undefined {
    return this.#renditions.get(rendition)?.window.get(seq)
  }

  /**
   * A page of `rendition`'s history for a viewer who rewinds: the newest `limit` settled records below
   * `before`, oldest first, and whether older ones are kept still. Undefined for an unknown rendition.
   */
  history (rendition: string, before: number, limit: number): { records: SegmentRecord[], more: boolean } | undefined {
    const window = this.#renditions.get(rendition)?.window
    if (window === undefined) return undefined
    const older = [...window.records()].filter(r => r.announcement.seq < before && r.state !== 'pending').sort((a, b) => b.announcement.seq - a.announcement.seq)
    return { records: older.slice(0, limit).reverse(), more: older.length > limit }
  }

  /** True when this room announced `cid` and its verified block is in the blockstore. */
  holds (cid: CID): boolean {
    return this.#held.has(cid)
  }

  /** The newest room thumbnail fetched and checked, or undefined before the first. */
  thumbnail (): RoomThumbnail | undefined {
    return this.#thumbnail.current()
  }

  /** Every segment record of every rendition, listed or kept until swept. */
  * #records (): Generator<[string, SegmentRecord]> {
    for (const [name, { window }] of this.#renditions) for (const record of window.records()) yield [name, record]
  }

  /** Newest storedAt over all renditions, or undefined before the first stored segment. */
  newestStoredAt (): number | undefined {
    let newest: number | undefined
    for (const [, record] of this.#records()) {
      if (record.storedAt !== undefined && (newest === undefined || record.storedAt > newest)) newest = record.storedAt
    }
    return newest
  }

  /** Every segment held, with what the disk quota needs to order them. */
  heldSegments (): HeldSegment[] {
    const held: HeldSegment[] = []
    for (const [rendition, r] of this.#records()) {
      if (r.state === 'stored' && r.storedAt !== undefined) held.push({ room: this.room.slug, rendition, seq: r.announcement.seq, size: r.announcement.size, storedAt: r.storedAt, pinned: false })
    }
    return held
  }

  /**
   * Deletes a held segment's block to make room: still listed while in the window, as a gap, so players
   * skip it rather than ask for a block that is gone. False when it was not held.
   */
  async evict (renditionName: string, seq: number): Promise<boolean> {
    const window = this.#renditions.get(renditionName)?.window
    const record = window?.get(seq)
    if (window === undefined || record === undefined || record.state !== 'stored') return false
    window.setState(seq, 'failed')
    await this.#held.release(segmentBlocks(record.announcement))
    return true
  }

  status (): RoomStatus {
    const renditions: Record<string, RenditionStatus> = {}
    for (const [name, { window, gaps, filled }] of this.#renditions) {
      const latest = window.latest()
      let held = 0
      let newestStored = -1
      const seqs: number[] = []
      for (const record of window.records()) {
        seqs.push(record.announcement.seq)
        if (record.state !== 'stored') continue
        held++
        newestStored = Math.max(newestStored, record.announcement.seq)
      }
      renditions[name] = {
        latestSeq: latest?.announcement.seq ?? null,
        listed: window.playlist().entries.length,
        storedAt: latest?.storedAt ?? null,
        held,
        behind: seqs.filter(seq => seq > newestStored).length,
        gaps,
        filled
      }
    }
    const current = this.#thumbnail.current()
    const thumbnail = current === undefined ? null : { cid: current.cid, at: current.at }
    return { keys: [...this.room.keys], following: this.#standby.following, switches: this.#standby.switches, thumbnail, renditions, rejected: Object.fromEntries(this.#rejected), parts: { ...this.parts.counts } }
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
      return this.#thumbnail.take(verified as VerifiedThumbnail) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
    }
    if (verified.announcement.kind === 'withdrawal') {
      const taken = this.#options.onWithdrawal?.(verified as VerifiedWithdrawal) ?? false
      return taken ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
    }
    const segment = verified as VerifiedAnnouncement
    const fresh = this.#standby.hear(segment)
    if (segment.envelope.key !== this.#standby.following) {
      // Another origin of the room: passed on (relays further away need it for their own switch),
      // listed only once the followed origin has gone quiet.
      if (!fresh) return TopicValidatorResult.Ignore
      if (!this.#switchTo(segment)) {
        this.#standby.keep(segment)
        return TopicValidatorResult.Accept
      }
    }
    const floor = this.#standby.floor(segment.announcement.rendition.name)
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

  /** Switches the room to the origin of `segment` if the followed one went quiet; true when it did. */
  #switchTo (segment: VerifiedAnnouncement): boolean {
    const latestSeqs = new Map<string, number>()
    for (const [name, { window }] of this.#renditions) {
      const latest = window.latest()
      if (latest !== undefined) latestSeqs.set(name, latest.announcement.seq)
    }
    const switched = this.#standby.switchTo(segment, latestSeqs)
    if (switched === undefined) return false
    const key = segment.envelope.key
    this.#log.warn(`room ${this.room.slug}: origin ${switched.from} quiet for ${(switched.silentMs / 1000).toFixed(1)} s; following origin ${key} from its next segment`)
    // A segment of the quiet origin still being fetched holds back every later one from the playlists:
    // give peers that may hold it one segment duration more, then list it as a gap.
    for (const [record, abandon] of this.#inFlight) {
      if (record.envelope.key !== key) setTimeout(() => { abandon.abort() }, record.announcement.duration * 1000).unref()
    }
    // What the new origin announced while the old one was silent: the floor keeps only what is new here.
    for (const kept of switched.replay) this.#accept(kept)
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
      let served = this.newestStoredAt() === undefined
      for (const bytes of await requestWindow(this.#node, peer, this.room.slug)) {
        // The window exchange carries segments and the newest thumbnail; anything else in it is dropped.
        const verified = await this.#check(bytes, peer)
        if (verified?.announcement.kind === 'thumbnail') this.#thumbnail.take(verified as VerifiedThumbnail)
        if (verified?.announcement.kind !== 'segment') continue
        const segment = verified as VerifiedAnnouncement
        served = true
        this.#standby.hear(segment)
        if (segment.envelope.key === this.#standby.following && this.#accept(segment)) taken++
      }
      if (served) this.#options.onServed?.(peer)
      if (taken > 0) this.#log.info(`room ${this.room.slug}: caught up ${taken} segments from ${from}`)
    })().catch((err: Error) => { this.#log.warn(`room ${this.room.slug}: could not catch up from ${from}: ${err.message}`) })
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
    return latest === undefined ? announcement.seq > 0 : announcement.seq > latest.announcement.seq + 1
  }

  /** Signed envelopes of the listed segments, oldest first per rendition, and the newest thumbnail: what this relay passes on. */
  envelopes (): SignedEnvelope[] {
    const thumbnail = this.#thumbnail.current()
    return [...this.#renditions.values()].flatMap(({ window }) =>
      window.playlist().entries.flatMap(e => {
        const record = window.get(e.seq)
        return record?.state === 'stored' ? [record.envelope] : []
      })).concat(thumbnail === undefined ? [] : [thumbnail.envelope])
  }

  /** Verifies a message for this room; counts and logs why when it is refused. */
  async #check (data: Uint8Array, from: PeerId): Promise<VerifiedRoomMessage | undefined> {
    const text = UTF8.decode(data)
    const checked = this.#checked.get(text)
    if (checked !== undefined) return checked
    const result = await verifyRoomMessage(data, this.room.keys)
    if (!result.ok) {
      this.#reject(result.code, `${result.reason} (from ${from.toString()})`)
      return undefined
    }
    const { announcement } = result.value
    if (announcement.room !== this.room.slug) {
      this.#reject('wrong-room', `announcement for room "${announcement.room}" on the topic of "${this.room.slug}" (from ${from.toString()})`)
      return undefined
    }
    this.#checked.set(text, result.value)
    return result.value
  }

  #reject (reason: RejectReason, detail: string): void {
    const count = (this.#rejected.get(reason) ?? 0) + 1
    this.#rejected.set(reason, count)
    // The first of each kind is worth a line; the counts are in /status and the status line.
    if (count === 1) this.#log.warn(`room ${this.room.slug}: rejected an announcement (${reason}): ${detail}`)
  }

  /** Takes a verified announcement; false for a repeat or one too old for the window (not forwarded). */
  #accept ({ announcement: signed, envelope }: VerifiedAnnouncement): boolean {
    if (this.#stopping.signal.aborted) return false
    // Since a switch, only numbers above what was listed before it: the sequence keeps rising.
    const floor = this.#standby.floor(signed.rendition.name)
    if (floor !== undefined && signed.seq <= floor) return false
    let rendition = this.#renditions.get(signed.rendition.name)
    if (rendition === undefined) {
      rendition = { info: signed.rendition, window: new LiveWindow<SegmentRecord>(this.#options.playlistLength, { keepSlidOut: true }), gaps: 0, filled: 0 }
      this.#renditions.set(signed.rendition.name, rendition)
    }
    const before = rendition.window.get(signed.seq - 1)
    // The first segment listed from another origin than the one before it: its picture and timestamps
    // do not continue the previous segment's.
    const announcement: SegmentAnnouncement = before !== undefined && before.envelope.key !== envelope.key && !signed.discontinuity ? { ...signed, discontinuity: true } : signed
    const known = rendition.window.get(announcement.seq)
    if (known !== undefined) {
      if (known.announcement.cid !== announcement.cid) {
        this.#reject('conflicting-seq', `seq ${announcement.seq} of ${announcement.rendition.name} announced again with another CID`)
      }
      return false
    }
    const record: SegmentRecord = { announcement, envelope, state: 'pending', receivedAt: Date.now() }
    if (!rendition.window.add(record)) return false
    rendition.info = announcement.rendition
    this.#fetch(rendition, record).catch(err => this.#log.error(`room ${this.room.slug}: fetch of ${announcement.cid} crashed: ${(err as Error).message}`))
    return true
  }

  async #fetch (rendition: Rendition, record: SegmentRecord): Promise<void> {
    const { seq, cid } = record.announcement
    const abandon = new AbortController()
    this.#inFlight.set(record, abandon)
    const what = `${this.room.slug}/${rendition.info.name} seq ${seq} (${cid})`
    // Its parts may be about to join into it here: then there is nothing to fetch (nor to take when offered).
    await this.parts.joined(rendition.info.name, seq)
    const stored = await fetchSegment(record.announcement, what, { stopping: this.#stopping.signal, abandon: abandon.signal }, { ...this.#options, held: this.#held, log: this.#log })
      .finally(() => { this.#inFlight.delete(record) })
    if (this.#stopping.signal.aborted) return
    if (stored) this.#stored(rendition, record)
    else {
      rendition.gaps++
      rendition.window.setState(seq, 'failed')
      this.#refill(rendition, record, 0)
    }
    this.reloads.notify()
  }

  #stored (rendition: Rendition, record: SegmentRecord): void {
    record.storedAt = Date.now()
    this.#held.hold(segmentBlocks(record.announcement))
    rendition.window.setState(record.announcement.seq, 'stored')
    this.#options.onStored?.()
  }

  /** Fetches a segment given up again after `GAP_RETRY_STEPS[attempt]`, while it is still kept here. */
  #refill (rendition: Rendition, record: SegmentRecord, attempt: number): void {
    const step = GAP_RETRY_STEPS[attempt]
    if (step === undefined) {
      this.#refilling.delete(record)
      return
    }
    this.#refilling.add(record)
    setTimeout(() => {
      const { seq, cid } = record.announcement
      // Swept, evicted or filled meanwhile: nothing to do.
      if (this.#stopping.signal.aborted || rendition.window.get(seq) !== record || record.state !== 'failed') {
        this.#refilling.delete(record)
        return
      }
      // Another gap is being fetched: this try waits one step more. On a network that cannot keep up
      // (the lab with LL-HLS parts: most segments gaps on every relay) tries at once made it worse. A
      // skipped try is not spent: when it was, gaps that came together ran out of tries while others
      // were fetched (the lab's slow relay never filled one of six gaps from its start).
      if (this.#refillBusy) {
        this.#refill(rendition, record, attempt)
        return
      }
      this.#refillBusy = true
      const what = `${this.room.slug}/${rendition.info.name} seq ${seq} (${cid}), a gap fetched again (${attempt + 1} of ${GAP_RETRY_STEPS.length})`
      const last = attempt === GAP_RETRY_STEPS.length - 1
      const fetchBlock = last ? this.#options.fetchBlock : this.#options.fetchFromRelays ?? this.#options.fetchBlock
      void fetchSegment(record.announcement, what, { stopping: this.#stopping.signal, abandon: new AbortController().signal }, { ...this.#options, fetchBlock, held: this.#held, log: this.#log }).then(stored => {
        if (this.#stopping.signal.aborted) return
        if (!stored) {
          this.#refill(rendition, record, attempt + 1)
          return
        }
        this.#refilling.delete(record)
        rendition.filled++
        this.#stored(rendition, record)
        this.#log.info(`room ${this.room.slug}: ${rendition.info.name} seq ${seq} filled in, ${((Date.now() - record.receivedAt) / 1000).toFixed(1)} s after its announcement`)
        this.reloads.notify()
      }).catch((err: Error) => { this.#log.error(`room ${this.room.slug}: refill of ${cid} crashed: ${err.message}`) })
        .finally(() => { this.#refillBusy = false })
    }, step * (this.#options.gapRetryMs ?? DEFAULT_GAP_RETRY_MS)).unref()
  }

  /** How long a segment is kept: the retention, or the rewind range when that is longer. */
  #keepMs (): number {
    return Math.max(this.#options.retentionMs, this.#options.rewindMs ?? 0)
  }

  /** Forgets segments past the horizon (retention or rewind) that have left the window, deleting their blocks. */
  async #sweep (): Promise<void> {
    const horizon = Date.now() - this.#keepMs()
    for (const { window } of this.#renditions.values()) {
      for (const record of [...window.records()]) {
        const seq = record.announcement.seq
        if (record.receivedAt >= horizon || window.isListed(seq) || record.state === 'pending' || this.#refilling.has(record)) continue
        window.forget(seq)
        if (record.state === 'stored') await this.#held.release(segmentBlocks(record.announcement))
      }
    }
  }
}
