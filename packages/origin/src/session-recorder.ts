/**
 * Recordings: every live session is recorded. Each segment is journalled (one JSON line in
 * `<data>/recordings/<session>.jsonl`) before its announcement goes out, so a crash loses nothing
 * announced and a restarted origin continues the same session. While live (every `interval`) and when
 * the session ends, the journal becomes ONE UnixFS directory:
 *
 *   index.m3u8              master playlist
 *   <rendition>.m3u8        VOD playlist (PDT and discontinuities kept, relative segment URIs)
 *   <rendition>/<seq>.ts    the segments, linked by their existing raw-block CIDs (no bytes copied);
 *                           fMP4 ones are <seq>.m4s, with init-<seq>.mp4 for each init section,
 *                           named after the first segment that uses it
 *
 * whose CID is announced, signed, on the room topic as a `recording` announcement.
 *
 * Consent: a segment playing during a talk the schedule says may not be recorded (`withhold`, from
 * recording-consent.ts) is journalled but never linked from a recording. The playlist skips it: the
 * first segment after a withheld run carries #EXT-X-DISCONTINUITY and its own program date-time, so
 * players jump over the talk. A segment once withheld stays out of every later snapshot of this run,
 * even if the schedule changes back.
 *
 * The directories are plain UnixFS directory nodes encoded here in one go, every link at once.
 * Adding entries one `cp` at a time through @helia/unixfs rewrote the directory per entry, so a
 * snapshot cost grew with the session: measured on this machine, 600 new 1 s segments in each of two
 * renditions took 56 s of CPU after an hour (92 s for 1500 new in one rendition after 100 min); encoded
 * whole it takes 0.05-0.3 s. Limit: a rendition directory is one block of about 55 bytes per segment,
 * over 1 MiB past ~19,000 segments (5 h of 1 s segments); relays move blocks up to 4 MiB over
 * bitswap (~76,000 segments), but other IPFS gateways may refuse blocks over 1-2 MiB.
 */
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import type { UnixFS } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { MAX_WITHDRAWN_RECORDINGS, encodeEnvelope, isSegmentCid, notRecordedReason, parseAnnouncement, renderMasterPlaylist, renderMediaPlaylist, segmentExtension, signAnnouncement, webvttFlag } from '@hivecast/shared'
import type { PlaylistEntry, RecordingAnnouncement, WithdrawalAnnouncement, RenditionInfo, SegmentAnnouncement, SignedEnvelope, Talk } from '@hivecast/shared'
import type { Identity, P2PNode } from '@hivecast/shared/node'

/** One journal line: what a segment announcement said, minus the room-wide fields. */
export interface RecordedSegment {
  rendition: RenditionInfo
  seq: number
  cid: string
  size: number
  duration: number
  pdt: number
  discontinuity: boolean
  init?: SegmentAnnouncement['init']
}

/** A recording as /status lists it. */
export interface RecordingStatus {
  session: string
  cid: string
  started: number
  ended: number
  duration: number
  segments: number
  final: boolean
  publishedAt: number
}

/** A talk whose segments were left out of the recordings, as /status lists it. */
export interface WithheldTalk {
  id: string
  title: string
  start: number
  end: number
  /** Why it is not recorded: the speakers opted out, or the talk is live only or not streamed. */
  reason: string
  /** Segments left out, over all renditions. */
  segments: number
}

export interface SessionRecorderOptions {
  node: P2PNode
  identity: Identity
  room: string
  topic: string
  dataDir: string
  log: (line: string) => void
  /** The talk that keeps the segment playing in [from, to) (ms) out of recordings, if any. */
  withhold?: (from: number, to: number) => Talk | undefined
}

/** Marks the session in progress; removed when it ends, so the next start begins a new one. */
const OPEN_FILE = 'open-session'
/** UnixFS `Data` of a plain directory: protobuf field 1 (Type) = 1 (Directory). */
const DIRECTORY_DATA = new Uint8Array([0x08, 0x01])

/** A link in a directory: the name, the CID, and the size of everything under it (Tsize). */
interface DirectoryEntry {
  name: string
  cid: CID
  size: number
}

function isRecordedSegment (value: unknown): value is RecordedSegment {
  if (typeof value !== 'object' || value === null) return false
  const s = value as Record<string, unknown>
  const draft = { kind: 'segment', room: 'x', end: false, ...s }
  return parseAnnouncement(draft).ok && typeof s.cid === 'string' && isSegmentCid(s.cid)
}

export class SessionRecorder {
  readonly session: string
  readonly #options: SessionRecorderOptions
  readonly #file: string
  readonly #fs: UnixFS
  /** Per rendition, by seq: a restarted origin may journal a seq again only if a crash hit between. */
  readonly #segments = new Map<string, Map<number, RecordedSegment>>()
  readonly #published: RecordingStatus[] = []
  /** Every recording this process announced of the open session (interim ones stay pinned on relays too). */
  #announced: Array<{ cid: string, started: number, ended: number }> = []
  /** Segments left out (`<rendition>/<seq>`) and the talk that keeps each out; they stay out. */
  readonly #withheld = new Map<string, string>()
  readonly #withheldTalks = new Map<string, WithheldTalk>()
  #snapshots: Promise<unknown> = Promise.resolve()
  #appends: Promise<void> = Promise.resolve()
  /** Journal lines that could not be read back (damaged by a crash mid-write); skipped and counted. */
  skippedLines = 0

  private constructor (options: SessionRecorderOptions, session: string) {
    this.#options = options
    this.session = session
    this.#file = join(options.dataDir, 'recordings', `${session}.jsonl`)
    this.#fs = unixfs(options.node)
  }

  /** Continues the session a crash or kill left open, else starts a new one. */
  static async open (options: SessionRecorderOptions): Promise<SessionRecorder> {
    const dir = join(options.dataDir, 'recordings')
    await mkdir(dir, { recursive: true })
    let session: string | undefined
    try {
      session = (await readFile(join(dir, OPEN_FILE), 'utf8')).trim()
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(session)) {
        options.log(`recordings: ${join(dir, OPEN_FILE)} names no valid session ("${session.slice(0, 40)}"); starting a new one`)
        session = undefined
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${join(dir, OPEN_FILE)}: ${(err as Error).message}`)
    }
    const resumed = session !== undefined
    session ??= new Date().toISOString().replace(/[:.]/g, '-')
    const recorder = new SessionRecorder(options, session)
    if (resumed) {
      await recorder.#load()
      options.log(`recordings: continuing session ${session} (${recorder.#count()} segments journalled)`)
    } else {
      await writeFile(join(dir, OPEN_FILE), session + '\n')
      options.log(`recordings: new session ${session}`)
    }
    return recorder
  }

  async #load (): Promise<void> {
    let text = ''
    try {
      text = await readFile(this.#file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${this.#file}: ${(err as Error).message}`)
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        value = undefined
      }
      if (isRecordedSegment(value)) this.#add(value)
      else this.skippedLines++
    }
    if (this.skippedLines > 0) this.#options.log(`recordings: skipped ${this.skippedLines} damaged line(s) of ${this.#file}`)
  }

  #add (segment: RecordedSegment): void {
    const list = this.#segments.get(segment.rendition.name) ?? new Map<number, RecordedSegment>()
    list.set(segment.seq, segment)
    this.#segments.set(segment.rendition.name, list)
  }

  #count (): number {
    return [...this.#segments.values()].reduce((n, list) => n + list.size, 0)
  }

  /** Journals a segment; the publisher awaits this before announcing it. */
  async record (announcement: SegmentAnnouncement): Promise<void> {
    const { rendition, seq, cid, size, duration, pdt, discontinuity, init } = announcement
    const segment: RecordedSegment = { rendition, seq, cid, size, duration, pdt, discontinuity, ...init === undefined ? {} : { init } }
    this.#add(segment)
    const next = this.#appends.then(async () => await appendFile(this.#file, JSON.stringify(segment) + '\n'))
    this.#appends = next.catch(() => {})
    await next
  }

  recordings (): RecordingStatus[] {
    return [...this.#published]
  }

  /** The talks whose segments were left out of this run's recordings, with the counts. */
  withheld (): WithheldTalk[] {
    return [...this.#withheldTalks.values()].map(talk => ({ ...talk }))
  }

  /**
   * The segments a recording may link: those not playing during a talk that may not be recorded.
   * The first one after a cut starts a discontinuity, since the media before it is not there.
   */
  #consented (rendition: string, segments: RecordedSegment[]): RecordedSegment[] {
    const kept: RecordedSegment[] = []
    let cut = false
    for (const segment of segments) {
      const key = `${rendition}/${segment.seq}`
      let talk = this.#withheld.get(key)
      if (talk === undefined) {
        const withholding = this.#options.withhold?.(segment.pdt, segment.pdt + segment.duration * 1000)
        if (withholding !== undefined) {
          // The id with the start: a re-read schedule may reuse a generated id for another talk.
          talk = `${withholding.id}@${withholding.start}`
          this.#withheld.set(key, talk)
          const known = this.#withheldTalks.get(talk)
          if (known !== undefined) known.segments++
          else this.#withheldTalks.set(talk, { id: withholding.id, title: withholding.title, start: withholding.start, end: withholding.end, reason: notRecordedReason(withholding), segments: 1 })
        }
      }
      if (talk !== undefined) {
        cut = true
        continue
      }
      kept.push(cut && !segment.discontinuity ? { ...segment, discontinuity: true } : segment)
      cut = false
    }
    return kept
  }

  /**
   * Builds the directory from everything journalled and announces it; `final` when the session ends,
   * after which the next start begins a new session. Snapshots run one at a time.
   */
  async snapshot (final: boolean): Promise<RecordingStatus | undefined> {
    const run = this.#snapshots.then(async () => await this.#snapshot(final))
    this.#snapshots = run.catch(() => {})
    return await run
  }

  async #snapshot (final: boolean): Promise<RecordingStatus | undefined> {
    const { node, identity, room, topic, log } = this.#options
    const before = new Map([...this.#withheldTalks].map(([key, talk]) => [key, talk.segments]))
    const renditions = [...this.#segments.entries()]
      .map(([name, list]) => ({ name, segments: this.#consented(name, [...list.values()].sort((a, b) => a.seq - b.seq)) }))
      .filter(r => r.segments.length > 0)
    for (const [key, talk] of this.#withheldTalks) {
      if (talk.segments === before.get(key)) continue
      log(`recordings: ${talk.segments} segments left out for "${talk.title}" (${new Date(talk.start).toISOString()} to ${new Date(talk.end).toISOString()}): ${talk.reason}`)
    }
    if (renditions.length === 0) {
      if (final) await this.#close()
      return undefined
    }
    const top: DirectoryEntry[] = []
    const master: Array<{ info: RenditionInfo, uri: string }> = []
    for (const { name, segments } of renditions) {
      const entries: PlaylistEntry[] = segments.map(s => ({ seq: s.seq, cid: s.cid, duration: s.duration, pdt: s.pdt, discontinuity: s.discontinuity, gap: false, ...s.init === undefined ? {} : { map: s.init.cid }, ...webvttFlag(s.rendition) }))
      /** Each init section's file name, after the first segment that uses it. */
      const inits = new Map<string, DirectoryEntry>()
      for (const s of segments) if (s.init !== undefined && !inits.has(s.init.cid)) inits.set(s.init.cid, { name: `init-${s.seq}.mp4`, cid: CID.parse(s.init.cid), size: s.init.size })
      const files = segments.map((s, i) => ({ name: `${s.seq}.${segmentExtension(entries[i]!)}`, cid: CID.parse(s.cid), size: s.size }))
      top.push({ name, ...await this.#directory([...files, ...inits.values()]) })
      const playlist = renderMediaPlaylist({ entries, discontinuitySequence: 0, ended: true }, entry => `${name}/${entry.seq}.${segmentExtension(entry)}`,
        { vod: true, mapUri: cid => `${name}/${inits.get(cid)!.name}` })
      top.push(await this.#textFile(`${name}.m3u8`, playlist))
      master.push({ info: segments.at(-1)!.rendition, uri: `${name}.m3u8` })
    }
    top.push(await this.#textFile('index.m3u8', renderMasterPlaylist(master)))
    const dir = (await this.#directory(top)).cid
    // The best rendition describes the recording: the one a viewer would play.
    const best = renditions.find(r => r.name === [...master].sort((a, b) => b.info.bandwidth - a.info.bandwidth)[0]!.info.name)!.segments
    const last = best.at(-1)!
    const announcement: RecordingAnnouncement = {
      kind: 'recording',
      room,
      cid: dir.toString(),
      session: this.session,
      started: best[0]!.pdt,
      ended: Math.round(last.pdt + last.duration * 1000),
      duration: Math.round(best.reduce((n, s) => n + s.duration, 0) * 1000) / 1000,
      segments: best.length,
      final
    }
    const checked = parseAnnouncement(announcement)
    if (!checked.ok) throw new Error(`recording of session ${this.session} would make an invalid announcement (${checked.reason})`)
    const envelope: SignedEnvelope = await signAnnouncement(announcement, identity.privateKey, identity.id)
    try {
      await node.libp2p.services.pubsub.publish(topic, encodeEnvelope(envelope))
    } catch (err) {
      log(`recordings: announcing ${dir.toString()} failed: ${(err as Error).message}`)
    }
    const status: RecordingStatus = { session: this.session, cid: announcement.cid, started: announcement.started, ended: announcement.ended, duration: announcement.duration, segments: announcement.segments, final, publishedAt: Date.now() }
    this.#announced.push({ cid: announcement.cid, started: announcement.started, ended: announcement.ended })
    const earlier = this.#published.findIndex(r => r.session === this.session)
    if (earlier >= 0) this.#published.splice(earlier, 1)
    this.#published.push(status)
    log(`recordings: ${final ? 'final' : 'interim'} recording of session ${this.session}: ${announcement.cid} (${announcement.segments} segments, ${announcement.duration} s)`)
    if (final) await this.#close()
    return status
  }

  /**
   * Consent withdrawn for the program time [from, to) after recordings holding part of it went out:
   * announces a signed withdrawal naming them (relays unlist and unpin them and delete the range's
   * segments), then a recording without the range. Returns the recordings named.
   */
  async withdraw (from: number, to: number): Promise<string[]> {
    const named = this.#announced.filter(r => r.started < to && r.ended > from).slice(-MAX_WITHDRAWN_RECORDINGS).map(r => r.cid)
    if (named.length === 0) return []
    const { node, identity, room, topic, log } = this.#options
    const withdrawal: WithdrawalAnnouncement = { kind: 'withdrawal', room, session: this.session, from, to, recordings: named, at: Date.now() }
    try {
      await node.libp2p.services.pubsub.publish(topic, encodeEnvelope(await signAnnouncement(withdrawal, identity.privateKey, identity.id)))
      log(`recordings: consent withdrawn for ${new Date(from).toISOString()} to ${new Date(to).toISOString()}: ${named.length} recordings withdrawn from the relays`)
    } catch (err) {
      log(`recordings: announcing the withdrawal of ${named.join(', ')} failed: ${(err as Error).message}`)
    }
    await this.snapshot(false)
    return named
  }

  /** Writes a plain UnixFS directory node linking `entries`; returns its CID and Tsize. */
  async #directory (entries: DirectoryEntry[]): Promise<{ cid: CID, size: number }> {
    // prepare() sorts the links by name, as dag-pb's canonical form requires.
    const node = dagPb.prepare({ Data: DIRECTORY_DATA, Links: entries.map(e => ({ Name: e.name, Hash: e.cid, Tsize: e.size })) })
    const bytes = dagPb.encode(node)
    const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
    await this.#options.node.blockstore.put(cid, bytes)
    return { cid, size: bytes.length + entries.reduce((n, e) => n + e.size, 0) }
  }

  /** Stores a small text file (a playlist) as UnixFS with raw leaves; returns its directory entry. */
  async #textFile (name: string, text: string): Promise<DirectoryEntry> {
    const bytes = new TextEncoder().encode(text)
    const cid = await this.#fs.addBytes(bytes, { rawLeaves: true })
    // Tsize: the bytes, plus the file node's own block when it is chunked (over 256 KiB).
    const size = cid.code === dagPb.code ? Number((await this.#fs.stat(cid, { extended: true })).dagSize) : bytes.length
    return { name, cid, size }
  }

  /** Ends the session: the journal stays (the recording's record), the open marker goes. */
  async #close (): Promise<void> {
    await rm(join(this.#options.dataDir, 'recordings', OPEN_FILE), { force: true })
  }
}
