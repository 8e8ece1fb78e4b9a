/**
 * Recordings of the rooms a relay follows: the signed `recording` announcements (the latest per
 * session, listed at `/rooms/<room>/recordings.json`), and with `--archive` the whole DAG of each one
 * (directory, playlists, segments) fetched over bitswap and pinned: never evicted, served by path at
 * `/ipfs/<dirCid>/<path>`. A relay without `--archive` lists recordings but serves none of their files.
 */
import { unixfs } from '@helia/unixfs'
import type { UnixFS } from '@helia/unixfs'
import { LRUCache } from 'lru-cache'
import { CID } from 'multiformats/cid'
import type { PlaylistEntry, RecordingAnnouncement, SignedEnvelope, VerifiedRecording, VerifiedWithdrawal } from '@hivecast/shared'
import { WithdrawnContentError, cutToRange, isHivecastError, masterRenditions, parseRecordingPlaylist } from '@hivecast/shared'
import { deleteBlock, getBlock } from '@hivecast/shared/node'
import { dagLinks } from './car-export.ts'
import type { P2PNode } from '@hivecast/shared/node'
import type { RecordingWithdrawals } from './recording-withdrawals.ts'
import type { BlockFetcher } from './block-fetcher.ts'
import type { Logger } from '@hivecast/shared'

export type ArchiveState = 'not-archived' | 'fetching' | 'pinned' | 'failed'

export interface RecordingEntry {
  announcement: RecordingAnnouncement
  /** The signed envelope exactly as received: anyone can check it against the room key. */
  envelope: SignedEnvelope
  receivedAt: number
  archive: ArchiveState
}

export interface RecordingArchiveOptions {
  /** Fetch and pin every recording's DAG. */
  archive: boolean
  /** Budget for fetching one recording's whole DAG (ms). */
  fetchTimeoutMs: number
  /** Wait before the first retry of a failed pin (ms); it doubles with each failure, up to 10 minutes. Default 30 s. */
  retryDelayMs?: number
  fetchBlock: BlockFetcher
  /** Recordings and segments whose consent was withdrawn: never listed, pinned or kept. */
  withdrawals: RecordingWithdrawals
  /** True for a block a followed room's live window holds: a withdrawal leaves live streaming alone. */
  heldLive: (cid: CID) => boolean
  log: Logger
}

export interface ArchiveStatus {
  recordings: number
  pinned: number
  pinnedBlocks: number
  pinnedBytes: number
  failed: number
  /** Segment blocks withdrawn (consent) and never kept again. */
  withdrawnSegments: number
}

/** Recordings listed per room; the oldest sessions drop out of the list (pinned blocks stay). */
const MAX_PER_ROOM = 500
/** Blocks fetched at once while pinning a recording. */
const PARALLEL_FETCHES = 8
/** The longest wait between retries of a failed pin. */
const MAX_RETRY_DELAY_MS = 10 * 60_000
/** Parsed rendition playlists kept in memory for playback. */
const PARSED_PLAYLISTS = 64

export class RecordingArchive {
  readonly #node: P2PNode
  readonly #options: RecordingArchiveOptions
  readonly #fs: UnixFS
  /** Room -> session -> latest entry. */
  readonly #rooms = new Map<string, Map<string, RecordingEntry>>()
  /** Every block of a pinned recording, by CID string, with its size. */
  readonly #pinnedBlocks = new Map<string, number>()
  /** Directory CIDs whose whole DAG is pinned. */
  readonly #pinnedRoots = new Set<string>()
  /**
   * Blocks whose whole sub-DAG is pinned here. A session's next recording links the same segments and
   * playlists, so its pin fetches only what is new instead of re-walking the session (which grew with
   * the session's length: thousands of blocks and seconds per interim recording, beside the live path).
   */
  readonly #completeSubtrees = new Set<string>()
  readonly #fetching = new Set<string>()
  /** Payloads of withdrawals being applied. */
  readonly #withdrawing = new Set<string>()
  /** `<root>/<rendition>` -> its entries with CIDs: a pinned directory never changes, so parse it once. */
  readonly #playlists = new LRUCache<string, PlaylistEntry[]>({ max: PARSED_PLAYLISTS })
  readonly #stopping = new AbortController()
  #failed = 0
  /** Failed pins waiting for their retry, and how many times each root failed. */
  readonly #retries = new Set<NodeJS.Timeout>()
  readonly #failures = new Map<string, number>()

  constructor (node: P2PNode, options: RecordingArchiveOptions) {
    this.#node = node
    this.#options = options
    this.#fs = unixfs(node)
  }

  get archiving (): boolean {
    return this.#options.archive
  }

  stop (): void {
    this.#stopping.abort()
    for (const timer of this.#retries) clearTimeout(timer)
    this.#retries.clear()
  }

  /**
   * Takes a verified recording announcement of a followed room; false for a repeat or one older than
   * what is listed for its session (not forwarded). With --archive, starts pinning its DAG.
   */
  take ({ announcement, envelope }: VerifiedRecording): boolean {
    if (this.#stopping.signal.aborted) return false
    const sessions = this.#rooms.get(announcement.room) ?? new Map<string, RecordingEntry>()
    this.#rooms.set(announcement.room, sessions)
    const known = sessions.get(announcement.session)
    if (this.#options.withdrawals.recordingWithdrawn(announcement.cid)) {
      this.#options.log.warn(`room ${announcement.room}: recording ${announcement.cid} was withdrawn; not listed or pinned`)
      return false
    }
    if (known !== undefined) {
      if (known.announcement.cid === announcement.cid) return false
      // A final recording is the session's last word; an interim one never replaces a longer one.
      if (known.announcement.final || (!announcement.final && announcement.segments < known.announcement.segments)) return false
    }
    const entry: RecordingEntry = { announcement, envelope, receivedAt: Date.now(), archive: this.#options.archive ? 'fetching' : 'not-archived' }
    sessions.delete(announcement.session)
    sessions.set(announcement.session, entry)
    while (sessions.size > MAX_PER_ROOM) sessions.delete(sessions.keys().next().value!)
    this.#options.log.info(`room ${announcement.room}: ${announcement.final ? 'final' : 'interim'} recording of session ${announcement.session}: ${announcement.cid} (${announcement.segments} segments, ${announcement.duration} s)`)
    if (this.#options.archive) {
      this.#pin(entry).catch((err: Error) => { this.#options.log.error(`recording ${announcement.cid}: pinning crashed: ${err.message}`) })
    }
    return true
  }

  /** Recordings of a room, oldest session first. */
  list (room: string): RecordingEntry[] {
    return [...this.#rooms.get(room)?.values() ?? []]
  }

  /** True when `cid` is a block of a pinned recording (served at `/ipfs/<cid>`, never deleted). */
  holds (cid: CID): boolean {
    return this.#pinnedBlocks.has(cid.toString())
  }

  status (): ArchiveStatus {
    let pinnedBytes = 0
    for (const size of this.#pinnedBlocks.values()) pinnedBytes += size
    return {
      recordings: [...this.#rooms.values()].reduce((n, s) => n + s.size, 0),
      pinned: this.#pinnedRoots.size,
      pinnedBlocks: this.#pinnedBlocks.size,
      pinnedBytes,
      failed: this.#failed,
      withdrawnSegments: this.#options.withdrawals.segments
    }
  }

  /**
   * The bytes of the file at `path` inside a pinned recording, read from the local store only; undefined
   * when `root` is no pinned recording or the path names no file in it.
   */
  async readFile (root: CID, path: string[]): Promise<Uint8Array | undefined> {
    if (!this.#pinnedRoots.has(root.toString())) return undefined
    const options = { path: path.join('/'), offline: true, signal: AbortSignal.timeout(5_000) }
    let stat
    try {
      stat = await this.#fs.stat(root, options)
    } catch {
      return undefined
    }
    if (stat.type !== 'file' && stat.type !== 'raw') return undefined
    const chunks: Uint8Array[] = []
    for await (const chunk of this.#fs.cat(root, options)) chunks.push(chunk)
    return Buffer.concat(chunks)
  }

  /** Where the recording with directory `root` stands here, or undefined when no followed room announced it. */
  stateOf (root: CID): ArchiveState | undefined {
    const text = root.toString()
    if (this.#pinnedRoots.has(text)) return 'pinned'
    for (const sessions of this.#rooms.values()) {
      for (const entry of sessions.values()) if (entry.announcement.cid === text) return entry.archive
    }
    return undefined
  }

  /**
   * The segments of rendition `name` of a pinned recording, each with its own CID (from the rendition's
   * directory), in playlist order; undefined when `root` is not pinned here or has no such rendition.
   * Throws when the recording's playlist is not one the origin writes.
   */
  async renditionEntries (root: CID, name: string): Promise<PlaylistEntry[] | undefined> {
    const key = `${root.toString()}/${name}`
    const cached = this.#playlists.get(key)
    if (cached !== undefined) return cached
    const playlist = await this.readFile(root, [`${name}.m3u8`])
    if (playlist === undefined) return undefined
    const cids = new Map<string, string>()
    try {
      for await (const entry of this.#fs.ls(root, { path: name, offline: true, signal: AbortSignal.timeout(10_000) })) cids.set(entry.name, entry.cid.toString())
    } catch (err) {
      throw new Error(`cannot list the ${name}/ directory of recording ${root.toString()}: ${(err as Error).message}`)
    }
    const entries = parseRecordingPlaylist(new TextDecoder().decode(playlist), name, cids)
    this.#playlists.set(key, entries)
    return entries
  }

  /**
   * Takes a verified withdrawal and applies it in the background (false for a repeat, which is not
   * forwarded): the recordings it names are no longer listed, pinned or served; the segments of the
   * withdrawn range they held are deleted (unless a live window still streams them) and never kept
   * again; blocks no other pinned recording needs are deleted too (a recording without the range
   * re-fetches what it shares).
   */
  takeWithdrawal (withdrawal: VerifiedWithdrawal): boolean {
    const { payload } = withdrawal.envelope
    if (this.#stopping.signal.aborted || this.#withdrawing.has(payload) || this.#options.withdrawals.applied(payload)) return false
    this.#withdrawing.add(payload)
    this.#withdraw(withdrawal)
      .catch((err: Error) => { this.#options.log.error(`room ${withdrawal.announcement.room}: applying a withdrawal failed: ${err.message}`) })
      .finally(() => { this.#withdrawing.delete(payload) })
    return true
  }

  async #withdraw ({ announcement, envelope }: VerifiedWithdrawal): Promise<void> {
    const named = new Set(announcement.recordings)
    const segments = new Set<string>()
    const dropped = new Set<string>()
    for (const root of named) {
      if (!this.#pinnedRoots.has(root)) continue
      for (const rendition of await this.#renditions(CID.parse(root))) {
        for (const entry of cutToRange(await this.renditionEntries(CID.parse(root), rendition) ?? [], announcement)) segments.add(entry.cid)
      }
    }
    // Any other recording pinned here that links a withdrawn segment goes too.
    for (const root of this.#pinnedRoots) {
      const blocks = await this.#localDag(CID.parse(root))
      if (named.has(root) || [...segments].some(cid => blocks.has(cid))) {
        named.add(root)
        for (const cid of blocks.keys()) dropped.add(cid)
      }
    }
    await this.#options.withdrawals.add(envelope.payload, named, segments)
    this.#unlist(named)
    for (const root of named) {
      this.#pinnedRoots.delete(root)
      this.#failures.delete(root)
    }
    for (const key of this.#playlists.keys()) if (named.has(key.slice(0, key.indexOf('/')))) this.#playlists.delete(key)
    await this.#recountPins()
    let deleted = 0
    for (const cid of dropped) {
      const parsed = CID.parse(cid)
      if (this.#pinnedBlocks.has(cid) || this.#options.heldLive(parsed)) continue
      await deleteBlock(this.#node, parsed)
      deleted++
    }
    this.#options.log.info(`room ${announcement.room}: recording consent withdrawn for ${new Date(announcement.from).toISOString()} to ${new Date(announcement.to).toISOString()} of session ${announcement.session}: ${named.size} recordings unlisted, ${segments.size} segments withdrawn, ${deleted} blocks deleted`)
  }

  /** Drops listed recordings by root CID. */
  #unlist (roots: ReadonlySet<string>): void {
    for (const sessions of this.#rooms.values()) {
      for (const [session, entry] of sessions) if (roots.has(entry.announcement.cid)) sessions.delete(session)
    }
  }

  /** The rendition names a pinned recording's master playlist lists. */
  async #renditions (root: CID): Promise<string[]> {
    const master = await this.readFile(root, ['index.m3u8'])
    return master === undefined ? [] : masterRenditions(new TextDecoder().decode(master))
  }

  /** Every block of the DAG under `root`, read from the local store only. */
  async #localDag (root: CID): Promise<Map<string, number>> {
    const blocks = new Map<string, number>()
    const stack = [root]
    const signal = AbortSignal.timeout(this.#options.fetchTimeoutMs)
    while (stack.length > 0) {
      const cid = stack.pop()!
      if (blocks.has(cid.toString())) continue
      const bytes = await getBlock(this.#node, cid, { signal, offline: true })
      blocks.set(cid.toString(), bytes.length)
      stack.push(...dagLinks(cid, bytes))
    }
    return blocks
  }

  /** Rebuilds the pinned block sets from the pinned roots (after a withdrawal unpinned some). */
  async #recountPins (): Promise<void> {
    this.#pinnedBlocks.clear()
    this.#completeSubtrees.clear()
    for (const root of this.#pinnedRoots) {
      for (const [cid, size] of await this.#localDag(CID.parse(root))) {
        this.#pinnedBlocks.set(cid, size)
        this.#completeSubtrees.add(cid)
      }
    }
  }

  /** Pins `entry` again after `delay`, unless a newer recording of its session replaced it meanwhile. */
  #retry (entry: RecordingEntry, delay: number): void {
    const timer = setTimeout(() => {
      this.#retries.delete(timer)
      const { room, session } = entry.announcement
      if (this.#stopping.signal.aborted || this.#rooms.get(room)?.get(session) !== entry) return
      entry.archive = 'fetching'
      this.#pin(entry).catch((err: Error) => { this.#options.log.error(`recording ${entry.announcement.cid}: pinning crashed: ${err.message}`) })
    }, delay)
    timer.unref()
    this.#retries.add(timer)
  }

  async #pin (entry: RecordingEntry): Promise<void> {
    const { cid: rootText } = entry.announcement
    if (this.#pinnedRoots.has(rootText)) {
      entry.archive = 'pinned'
      return
    }
    if (this.#fetching.has(rootText)) return
    this.#fetching.add(rootText)
    const signal = AbortSignal.any([AbortSignal.timeout(this.#options.fetchTimeoutMs), this.#stopping.signal])
    const blocks = new Map<string, number>()
    /** Fetched blocks without links: complete even when the walk fails further on. */
    const leaves: string[] = []
    let reused = 0
    const started = Date.now()
    try {
      let level = [CID.parse(rootText)]
      while (level.length > 0) {
        const next: CID[] = []
        for (let i = 0; i < level.length; i += PARALLEL_FETCHES) {
          await Promise.all(level.slice(i, i + PARALLEL_FETCHES).map(async cid => {
            const text = cid.toString()
            if (blocks.has(text)) return
            if (this.#options.withdrawals.segmentWithdrawn(text)) throw new WithdrawnContentError(`it links ${text}, a segment whose recording consent was withdrawn`)
            if (this.#completeSubtrees.has(text)) {
              reused++
              return
            }
            const bytes = await this.#options.fetchBlock(cid, signal)
            blocks.set(text, bytes.length)
            const links = dagLinks(cid, bytes)
            if (links.length === 0) leaves.push(text)
            next.push(...links)
          }))
        }
        level = next
      }
      // A withdrawal may have arrived while the walk ran.
      if (this.#options.withdrawals.recordingWithdrawn(rootText)) throw new WithdrawnContentError('its consent was withdrawn while it was fetched')
      for (const cid of blocks.keys()) if (this.#options.withdrawals.segmentWithdrawn(cid)) throw new WithdrawnContentError(`it links ${cid}, a segment whose recording consent was withdrawn`)
      for (const [cid, size] of blocks) {
        this.#pinnedBlocks.set(cid, size)
        this.#completeSubtrees.add(cid)
      }
      this.#pinnedRoots.add(rootText)
      this.#failures.delete(rootText)
      entry.archive = 'pinned'
      this.#options.log.info(`recording ${rootText}: pinned ${blocks.size} new blocks (${reused} already pinned with all below them) in ${Date.now() - started} ms`)
    } catch (err) {
      if (this.#stopping.signal.aborted) return
      this.#failed++
      if (isHivecastError(err, 'WITHDRAWN_CONTENT')) {
        // Never retried, and nothing of it kept: the blocks fetched stay unpinned and go with eviction.
        this.#options.log.warn(`recording ${rootText}: not pinned: ${err.message}`)
        this.#unlist(new Set([rootText]))
        return
      }
      // Blocks fetched so far stay pinned too: a later announcement of the session fetches only the rest.
      for (const [cid, size] of blocks) this.#pinnedBlocks.set(cid, size)
      // A node is complete only when the whole walk below it succeeded; a leaf once it is held.
      for (const cid of leaves) this.#completeSubtrees.add(cid)
      entry.archive = 'failed'
      const failures = (this.#failures.get(rootText) ?? 0) + 1
      this.#failures.set(rootText, failures)
      const delay = Math.min(MAX_RETRY_DELAY_MS, (this.#options.retryDelayMs ?? 30_000) * 2 ** (failures - 1))
      this.#options.log.warn(`recording ${rootText}: not pinned (${blocks.size} blocks fetched): ${(err as Error).message}; retrying in ${Math.round(delay / 1000)} s`)
      this.#retry(entry, delay)
    } finally {
      this.#fetching.delete(rootText)
    }
  }
}
