/**
 * The hls.js fragment loader (`fLoader`). A segment URL is a name the player wrote into its own
 * playlist (`verified-names.ts`); the playlist source maps it back to the verified entry's CID, which
 * is all that matters. The loader asks the relays in order of preference
 * for `<relay>/ipfs/<cid>?format=raw`, hashes what comes back, and hands hls.js only bytes whose
 * SHA-256 is the CID's digest. A relay that errs, stalls or sends other bytes is skipped for the next.
 *
 * With other viewers connected (`peers`), a segment a viewer holds is asked of it first; a fresh
 * segment nobody holds yet is waited for a small random time, so one viewer fetches it from a relay and
 * the others take it from that viewer. Both spend only what the buffer can spare above a reserve for
 * the relay, so sharing never stalls playback. Peer bytes are verified like relay bytes; a relay is always
 * the fallback.
 */
import { MAX_RAW_BLOCK, RAW_CODEC, SHA2_256, tryParseCid, verifyRawBlock } from '@hivecast/shared'
import type { FragmentLoaderConstructor, FragmentLoaderContext, HlsConfig } from 'hls.js'
import type { PlaylistSource } from './playlist-loader.ts'
import { RelayLoader } from './relay-loader.ts'
import type { LoadOutcome } from './relay-loader.ts'
import type { RelayPool } from './relay-pool.ts'
import type { SegmentLedger } from './segment-ledger.ts'
import type { PeerSource } from './peer-source-contract.ts'

/** What the loader needs to know to decide whether other viewers may serve a segment. */
export interface PeerAssist {
  /** The swarm, once loaded and started; undefined while it is not (or with P2P off). */
  source: () => PeerSource | undefined
  /** Seconds of media buffered ahead of the playhead. */
  bufferAhead: () => number
}

/** The `bytesBySource` key for bytes that came from other viewers. */
export const PEERS_SOURCE = 'peers'
/**
 * What must be left in the buffer when a peer attempt gives up and a relay is asked instead, and the
 * longest random wait for another viewer to fetch a fresh segment first: for a 1 s segment. An LL-HLS
 * part gets its share of both (at least PART_SHARE_MIN): near the live edge the buffer holds about
 * three parts, and a relay sends a part in a fraction of the time a segment takes.
 */
const RELAY_RESERVE_S = 0.8
const MAX_PEER_WAIT_MS = 1200
const PART_SHARE_MIN = 0.3
/** The least time worth giving another viewer (a LAN transfer of a segment takes tens of ms). */
const MIN_PEER_ATTEMPT_MS = 150
/** The longest one attempt at a viewer may take. */
const PEER_TIMEOUT_MS = 2000

/**
 * An `fLoader` class bound to one player's relays, ledger and playlist source (hls.js constructs
 * loaders itself, with only its config, so the shared state comes in through the closure). A name the
 * source does not map to a verified CID is not fetched at all.
 */
export function createSegmentLoader (pool: RelayPool, ledger: SegmentLedger, source: Pick<PlaylistSource, 'segment'>, peers?: PeerAssist): FragmentLoaderConstructor {
  return class SegmentLoader extends RelayLoader<FragmentLoaderContext> {
    constructor (_config: HlsConfig) {
      super()
    }

    protected async run (context: FragmentLoaderContext): Promise<LoadOutcome> {
      const lookup = source.segment(context.url)
      // 4xx: hls.js does not retry; no relay can make an unverified name verifiable.
      if ('refused' in lookup) return { kind: 'error', code: 403, text: `${lookup.refused}; it is not fetched` }
      const cid = lookup.cid
      const parsed = tryParseCid(cid)
      if (parsed === undefined || parsed.code !== RAW_CODEC || parsed.multihash.code !== SHA2_256) {
        return { kind: 'error', code: 415, text: `segment ${cid} is not a raw sha2-256 block; this player verifies only single-block segments (keep segments under 1 MiB)` }
      }
      const swarm = peers?.source()
      // An fMP4 init section (sn 'initSegment') is a few KiB, wanted at once: straight to a relay.
      if (peers !== undefined && swarm !== undefined && swarm.peers() > 0 && typeof context.frag.sn === 'number') {
        const share = context.part === null ? 1 : Math.min(1, Math.max(PART_SHARE_MIN, context.part.duration / context.frag.duration))
        const fromPeer = await this.#fromPeers(swarm, peers, cid, parsed, context, share)
        if (this.cancelled) return { kind: 'error', code: 0, text: 'aborted' }
        if (fromPeer !== undefined) return fromPeer
      }
      const failures: string[] = []
      let timeouts = 0
      for (const relay of pool.order()) {
        const started = performance.now()
        const result = await this.attempt(pool.blockUrl(relay, cid), 'arraybuffer', MAX_RAW_BLOCK, {
          headers: { accept: 'application/vnd.ipld.raw' }
        })
        if (this.cancelled) return { kind: 'error', code: 0, text: 'aborted' }
        if (!result.ok) {
          // 404: the relay does not hold this segment yet (at the live edge, for a moment). That is no
          // reason to send it to the back for the cool-down, as an error or a timeout is.
          if (result.status !== 404) pool.failed(relay)
          if (result.timedOut) timeouts++
          failures.push(`${relay} ${result.text}`)
          continue
        }
        const bytes = new Uint8Array(result.data)
        const verified = await verifyRawBlock(parsed, bytes)
        if (this.cancelled) return { kind: 'error', code: 0, text: 'aborted' }
        ledger.record({ cid, source: relay, bytes: bytes.byteLength, verified, ms: Math.round(performance.now() - started) })
        if (!verified) {
          pool.rejected(relay)
          failures.push(`${relay} sent ${bytes.byteLength} bytes that do not match the CID`)
          continue
        }
        pool.delivered(relay, performance.now() - started)
        swarm?.hold(cid, bytes)
        return { kind: 'success', url: context.url, data: byteRange(result.data, context), bytes: bytes.byteLength, firstByte: result.firstByte }
      }
      const tried = failures.join('; ')
      if (failures.length > 0 && timeouts === failures.length) return { kind: 'timeout', text: tried }
      // 502 so hls.js retries later: a relay that has not fetched the segment yet may have it soon.
      return { kind: 'error', code: 502, text: `no relay delivered a verified copy of segment ${cid}: ${tried || 'no relays configured'}` }
    }

    /** The segment from another viewer, verified, or undefined when the relays should be asked. */
    /** `share`: the part of a segment being loaded (1 for a whole one), which scales the reserve and the wait. */
    async #fromPeers (swarm: PeerSource, assist: PeerAssist, cid: string, parsed: NonNullable<ReturnType<typeof tryParseCid>>, context: FragmentLoaderContext, share: number): Promise<LoadOutcome | undefined> {
      const started = performance.now()
      const buffer = assist.bufferAhead()
      /** What the buffer can spend on other viewers and still leave a relay its reserve, ms. */
      const spare = (buffer - RELAY_RESERVE_S * share) * 1000
      if (spare < MIN_PEER_ATTEMPT_MS) return undefined
      if (!swarm.has(cid)) {
        // A random wait: whoever's ends first fetches from a relay, the others get it from that viewer.
        // Viewers at the live edge all ask for a new segment within a moment of each other, so the wait
        // is what lets them share it at all.
        const waited = await swarm.waitFor(cid, Math.random() * Math.min(MAX_PEER_WAIT_MS * share, spare))
        if (!waited || this.cancelled) return undefined
      }
      const timeout = Math.min(PEER_TIMEOUT_MS, spare - (performance.now() - started))
      if (timeout < MIN_PEER_ATTEMPT_MS) return undefined
      const got = await swarm.fetch(cid, timeout)
      if (got === undefined || this.cancelled) return undefined
      const verified = await verifyRawBlock(parsed, got.bytes)
      if (this.cancelled) return undefined
      ledger.record({ cid, source: PEERS_SOURCE, bytes: got.bytes.byteLength, verified, ms: Math.round(performance.now() - started) })
      if (!verified) {
        swarm.reject(got.peer)
        return undefined
      }
      swarm.hold(cid, got.bytes)
      const data = got.bytes.byteOffset === 0 && got.bytes.byteLength === got.bytes.buffer.byteLength
        ? got.bytes.buffer as ArrayBuffer
        : got.bytes.slice().buffer as ArrayBuffer
      return { kind: 'success', url: context.url, data: byteRange(data, context), bytes: got.bytes.byteLength, firstByte: performance.now() }
    }
  }
}

/** The requested byte range of a verified block (the CID covers the whole block, so verify first). */
function byteRange (data: ArrayBuffer, context: FragmentLoaderContext): ArrayBuffer {
  if (context.rangeEnd === undefined || context.rangeEnd === 0) return data
  return data.slice(context.rangeStart ?? 0, context.rangeEnd)
}
