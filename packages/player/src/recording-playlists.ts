/**
 * A recording's playlists, verified block by block from the recording's CID (the one the room's signed
 * `recording` announcement names). The recording is a UnixFS directory (see the origin's
 * session recorder): `index.m3u8`, `<rendition>.m3u8` and a `<rendition>/` directory linking every
 * segment by its raw-block CID. Each block is fetched raw from the relays and kept only when its
 * SHA-256 is its CID's digest, from the root down, so a relay can neither replace a segment (its CID
 * is in a verified directory block) nor alter a playlist. The origin's playlists are read with the
 * shared recording reader, cut to `from`/`to` and written again with opaque segment names; the
 * segment loader fetches each segment by the CID its verified directory entry gives.
 */
import * as dagPb from '@ipld/dag-pb'
import { cutToRange, masterRenditions, parseRecordingPlaylist, renderMediaPlaylist, tryParseCid, verifyBlock } from '@hivecast/shared'
import type { PlaylistEntry, TimeRange } from '@hivecast/shared'
import { ABORTED } from './playlist-loader.ts'
import type { PlaylistSource, PlaylistTrustCounters, RelayFetch, SegmentLookup } from './playlist-loader.ts'
import type { LoadOutcome } from './relay-loader.ts'
import type { RelayPool } from './relay-pool.ts'
import { initName, masterName, readName, segmentName } from './verified-names.ts'

/** Relays move blocks up to 4 MiB; a rendition directory of ~76,000 segments is that big. */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** A month of 1 s segments is ~300 MB of playlist; this bounds what a recording can make the page hold. */
const MAX_FILE_BYTES = 64 * 1024 * 1024

export const RECORDING_MASTER = masterName('recording')

/** A verified block, or why no relay delivered one. */
type BlockResult = { ok: true, bytes: Uint8Array } | { ok: false, outcome: LoadOutcome }

/** Raised inside a walk to end the load with `outcome`. */
class WalkStopped extends Error {
  readonly outcome: LoadOutcome
  constructor (outcome: LoadOutcome) {
    super(outcome.kind === 'error' ? outcome.text : outcome.kind)
    this.outcome = outcome
  }
}

export class RecordingPlaylists implements PlaylistSource {
  readonly #pool: RelayPool
  readonly #root: string
  readonly #range: TimeRange
  readonly #counters: PlaylistTrustCounters
  /** The root directory's links by name, once verified. */
  #links: Map<string, string> | undefined
  /** Per rendition: the verified entries played (after the cut), by seq, and the init sections they use. */
  readonly #entries = new Map<string, Map<number, PlaylistEntry>>()

  constructor (pool: RelayPool, root: string, range: TimeRange, counters: PlaylistTrustCounters) {
    this.#pool = pool
    this.#root = root
    this.#range = range
    this.#counters = counters
  }

  async playlist (url: string, relays: RelayFetch): Promise<LoadOutcome> {
    const name = readName('recording', url)
    if (name === undefined || (name.kind !== 'master' && name.kind !== 'media')) return { kind: 'error', code: 400, text: `${url} is not a playlist this player wrote` }
    try {
      const text = name.kind === 'master' ? await this.#master(relays) : await this.#media(name.rendition, relays)
      return { kind: 'success', url, data: text, bytes: text.length, firstByte: performance.now() }
    } catch (error) {
      if (error instanceof WalkStopped) return error.outcome
      // The verified bytes are not a recording the origin wrote: no relay can fix that.
      return { kind: 'error', code: 422, text: `recording ${this.#root} is not playable: ${error instanceof Error ? error.message : String(error)}` }
    }
  }

  segment (url: string): SegmentLookup {
    const name = readName('recording', url)
    const entries = name === undefined || name.kind === 'master' || name.kind === 'media' ? undefined : this.#entries.get(name.rendition)
    if (name?.kind === 'segment') {
      const cid = entries?.get(name.seq)?.cid
      if (cid !== undefined) return { cid }
    }
    if (name?.kind === 'init' && entries !== undefined && [...entries.values()].some(entry => entry.map === name.cid)) return { cid: name.cid }
    return { refused: `${url} names no segment of recording ${this.#root}` }
  }

  /** The origin's master playlist, verified; its variants are `<rendition>.m3u8`, the names the player reads. */
  async #master (relays: RelayFetch): Promise<string> {
    const text = await this.#file(await this.#link('index.m3u8', relays), relays)
    masterRenditions(text)
    return text
  }

  async #media (rendition: string, relays: RelayFetch): Promise<string> {
    const text = await this.#file(await this.#link(`${rendition}.m3u8`, relays), relays)
    const directory = await this.#directory(await this.#link(rendition, relays), relays)
    const entries = cutToRange(parseRecordingPlaylist(text, rendition, directory), this.#range)
    if (entries.length === 0) throw new WalkStopped({ kind: 'error', code: 404, text: `no segment of ${rendition} in recording ${this.#root} plays between from and to` })
    this.#entries.set(rendition, new Map(entries.map(entry => [entry.seq, entry])))
    return renderMediaPlaylist({ entries, discontinuitySequence: 0, ended: true }, entry => segmentName('recording', rendition, entry), {
      vod: true,
      mapUri: cid => initName('recording', rendition, cid)
    })
  }

  /** The CID the recording's root directory links as `name`. */
  async #link (name: string, relays: RelayFetch): Promise<string> {
    this.#links ??= await this.#directory(this.#root, relays)
    const cid = this.#links.get(name)
    if (cid === undefined) throw new WalkStopped({ kind: 'error', code: 404, text: `recording ${this.#root} holds no ${name}` })
    return cid
  }

  /** A verified UnixFS directory block's links, by name. */
  async #directory (cid: string, relays: RelayFetch): Promise<Map<string, string>> {
    const node = dagPb.decode(await this.#block(cid, relays))
    return new Map(node.Links.map(link => [link.Name ?? '', link.Hash.toString()]))
  }

  /** A verified UnixFS file: one raw block, or a dag-pb node whose raw leaves (or deeper nodes) hold it in order. */
  async #file (cid: string, relays: RelayFetch): Promise<string> {
    const parts: Uint8Array[] = []
    let size = 0
    const read = async (at: string): Promise<void> => {
      const bytes = await this.#block(at, relays)
      if (tryParseCid(at)?.code !== dagPb.code) {
        size += bytes.byteLength
        if (size > MAX_FILE_BYTES) throw new Error(`a file is over ${MAX_FILE_BYTES} bytes`)
        parts.push(bytes)
        return
      }
      const node = dagPb.decode(bytes)
      if (node.Links.length === 0) throw new Error(`file block ${at} has no links: not a file the origin wrote (raw leaves)`)
      for (const link of node.Links) await read(link.Hash.toString())
    }
    await read(cid)
    const whole = new Uint8Array(size)
    let offset = 0
    for (const part of parts) {
      whole.set(part, offset)
      offset += part.byteLength
    }
    return new TextDecoder().decode(whole)
  }

  /** A block whose SHA-256 is its CID's digest, from the first relay that delivers one. */
  async #block (cid: string, relays: RelayFetch): Promise<Uint8Array> {
    const result = await this.#fetchBlock(cid, relays)
    if (!result.ok) throw new WalkStopped(result.outcome)
    return result.bytes
  }

  async #fetchBlock (cid: string, relays: RelayFetch): Promise<BlockResult> {
    const failures: string[] = []
    let notFound = 0
    let timeouts = 0
    for (const relay of this.#pool.order()) {
      const result = await relays.bytes(this.#pool.blockUrl(relay, cid), MAX_BLOCK_BYTES)
      if (relays.cancelled) return { ok: false, outcome: ABORTED }
      if (!result.ok) {
        this.#pool.failed(relay)
        if (result.status === 404) notFound++
        if (result.timedOut) timeouts++
        failures.push(`${relay} ${result.text}`)
        continue
      }
      const bytes = new Uint8Array(result.data)
      if (!await verifyBlock(cid, bytes)) {
        this.#pool.rejected(relay)
        this.#counters.entriesRejected++
        failures.push(`${relay} sent ${bytes.byteLength} bytes that do not match ${cid}`)
        continue
      }
      return { ok: true, bytes }
    }
    const tried = failures.join('; ') || 'no relays configured'
    if (failures.length > 0 && timeouts === failures.length) return { ok: false, outcome: { kind: 'timeout', text: tried } }
    // 404 from every relay: none pins this recording (yet); the page says so.
    const code = failures.length > 0 && notFound === failures.length ? 404 : 502
    return { ok: false, outcome: { kind: 'error', code, text: `no relay delivered a verified copy of block ${cid} of recording ${this.#root}: ${tried}` } }
  }
}
