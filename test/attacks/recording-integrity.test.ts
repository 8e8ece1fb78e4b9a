/**
 * Attack: a relay serves a room's recording with one segment replaced. The recording's CID comes from
 * the room's signed `recording` announcement; the player walks the recording's UnixFS directory from
 * it and verifies every block (directory, playlist, segment) against the CID above it. A relay that
 * swaps a segment must either send other bytes for a CID or a directory block linking another CID;
 * both are rejected, and the same recording from an honest relay plays, cut to from/to.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { rawCid, renderMasterPlaylist, renderMediaPlaylist } from '@hivecast/shared'
import type { FragmentLoaderContext, HlsConfig, PlaylistLoaderContext } from 'hls.js'
import { runLoader } from '../../packages/player/test/loader-run.ts'
import type { LoadResult } from '../../packages/player/test/loader-run.ts'
import { createPlaylistLoader } from '../../packages/player/src/playlist-loader.ts'
import { RECORDING_MASTER, RecordingPlaylists } from '../../packages/player/src/recording-playlists.ts'
import { RelayPool } from '../../packages/player/src/relay-pool.ts'
import { SegmentLedger } from '../../packages/player/src/segment-ledger.ts'
import { createSegmentLoader } from '../../packages/player/src/segment-loader.ts'
import { startRelay } from '../../packages/player/test/relay-servers.ts'
import type { TestRelay } from '../../packages/player/test/relay-servers.ts'

const RENDITION = { name: '720p', bandwidth: 2_000_000, width: 1280, height: 720, codecs: 'avc1.64001f,mp4a.40.2', frameRate: 30 }
const MEDIA = 'https://hivecast.invalid/recording/720p.m3u8'
const T0 = Date.UTC(2026, 11, 5, 10, 0, 0)
/** UnixFS `Data` of a plain directory, as the origin's session recorder writes it. */
const DIRECTORY_DATA = new Uint8Array([0x08, 0x01])

interface Recording {
  root: string
  /** Every block by its CID, as a relay serves them at /ipfs/<cid>. */
  blocks: Map<string, Uint8Array>
  segments: Uint8Array[]
}

async function dagPbBlock (links: Array<{ name: string, cid: string, size: number }>): Promise<{ cid: string, bytes: Uint8Array }> {
  const bytes = dagPb.encode(dagPb.prepare({ Data: DIRECTORY_DATA, Links: links.map(l => ({ Name: l.name, Hash: CID.parse(l.cid), Tsize: l.size })) }))
  return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)).toString(), bytes }
}

/** A recording laid out as the origin's session recorder lays it out: index.m3u8, 720p.m3u8, 720p/<seq>.ts. */
async function record (segments: Uint8Array[]): Promise<Recording> {
  const blocks = new Map<string, Uint8Array>()
  const raw = async (bytes: Uint8Array): Promise<string> => {
    const cid = (await rawCid(bytes)).toString()
    blocks.set(cid, bytes)
    return cid
  }
  const cids = await Promise.all(segments.map(raw))
  const entries = cids.map((cid, seq) => ({ seq, cid, duration: 2, pdt: T0 + seq * 2000, discontinuity: false, gap: false }))
  const playlist = new TextEncoder().encode(renderMediaPlaylist({ entries, discontinuitySequence: 0, ended: true }, e => `720p/${e.seq}.ts`, { vod: true }))
  const master = new TextEncoder().encode(renderMasterPlaylist([{ info: RENDITION, uri: '720p.m3u8' }]))
  const rendition = await dagPbBlock(cids.map((cid, seq) => ({ name: `${seq}.ts`, cid, size: segments[seq]!.byteLength })))
  blocks.set(rendition.cid, rendition.bytes)
  const root = await dagPbBlock([
    { name: '720p', cid: rendition.cid, size: rendition.bytes.byteLength },
    { name: '720p.m3u8', cid: await raw(playlist), size: playlist.byteLength },
    { name: 'index.m3u8', cid: await raw(master), size: master.byteLength }
  ])
  blocks.set(root.cid, root.bytes)
  return { root: root.cid, blocks, segments }
}

describe('a recording served with a replaced segment', () => {
  const relays: TestRelay[] = []
  after(async () => { await Promise.all(relays.map(async relay => { await relay.close() })) })

  const serve = async (blocks: Map<string, Uint8Array>, at: ReadonlyMap<string, Uint8Array> = new Map()): Promise<TestRelay> => {
    const files = new Map<string, Uint8Array>([...blocks, ...at].map(([cid, bytes]) => [`/ipfs/${cid}`, bytes]))
    const relay = await startRelay({ files })
    relays.push(relay)
    return relay
  }

  /** The player's loaders for `root` on `urls`, cut to `range`. */
  const player = (urls: string[], root: string, range: { from?: number, to?: number } = {}) => {
    const pool = new RelayPool({ relays: urls })
    const counters = { entriesRejected: 0 }
    const ledger = new SegmentLedger()
    const source = new RecordingPlaylists(pool, root, range, counters)
    const Playlist = createPlaylistLoader(source)
    const Segment = createSegmentLoader(pool, ledger, source)
    return {
      pool,
      counters,
      ledger,
      playlist: async (url: string): Promise<LoadResult> => await runLoader(new Playlist({} as HlsConfig), { url, responseType: 'text', type: 'level' } as unknown as PlaylistLoaderContext),
      segment: async (url: string): Promise<LoadResult> => await runLoader(new Segment({} as HlsConfig), { url, responseType: 'arraybuffer', type: 'media-fragment', frag: { sn: 0 }, part: null } as unknown as FragmentLoaderContext)
    }
  }

  const honestSegments = [0, 1, 2].map(() => new Uint8Array(randomBytes(20_000)))

  it('an honest relay\'s recording plays, every block verified, cut to from/to', async () => {
    const recording = await record(honestSegments)
    const relay = await serve(recording.blocks)
    const viewer = player([relay.url], recording.root)
    const master = await viewer.playlist(RECORDING_MASTER)
    assert.ok(master.ok, master.ok ? '' : master.text)
    assert.ok(String(master.data).includes('\n720p.m3u8\n'), 'variants resolve to the player\'s own names')
    const media = await viewer.playlist(MEDIA)
    assert.ok(media.ok, media.ok ? '' : media.text)
    const names = String(media.data).split('\n').filter(line => line !== '' && !line.startsWith('#'))
    assert.deepEqual(names, [0, 1, 2].map(seq => `https://hivecast.invalid/recording/720p/${seq}.ts`))
    assert.ok(String(media.data).includes('#EXT-X-ENDLIST'), 'a recording is VOD')
    for (const [seq, name] of names.entries()) {
      const segment = await viewer.segment(name)
      assert.ok(segment.ok, segment.ok ? '' : segment.text)
      assert.deepEqual(new Uint8Array(segment.data as ArrayBuffer), honestSegments[seq])
    }
    assert.equal(viewer.ledger.snapshot().segmentsRejected, 0)
    assert.equal(viewer.counters.entriesRejected, 0)

    const talk = player([relay.url], recording.root, { from: T0 + 2500, to: T0 + 3500 })
    const cut = await talk.playlist(MEDIA)
    assert.ok(cut.ok)
    assert.deepEqual(String(cut.data).split('\n').filter(line => line.startsWith('https://')), ['https://hivecast.invalid/recording/720p/1.ts'])
  })

  it('a relay whose directory links a replaced segment is rejected; nothing of it plays', async () => {
    const recording = await record(honestSegments)
    // The same recording with segment 1 replaced: its own consistent DAG, under another root.
    const forged = await record([honestSegments[0]!, new Uint8Array(randomBytes(20_000)), honestSegments[2]!])
    const forgedRoot = forged.blocks.get(forged.root)!
    // Served under the signed root's CID: the forged root block, linking the forged rendition directory.
    const hostile = await serve(forged.blocks, new Map([[recording.root, forgedRoot]]))
    const viewer = player([hostile.url], recording.root)
    const media = await viewer.playlist(MEDIA)
    assert.ok(!media.ok, 'the player took a recording whose root block does not match the signed CID')
    assert.match(media.text, /do not match/)
    assert.ok(viewer.counters.entriesRejected >= 1)
    assert.ok('refused' in new RecordingPlaylists(viewer.pool, recording.root, {}, viewer.counters).segment('https://hivecast.invalid/recording/720p/1.ts'))

    // The honest root block with a forged rendition directory under the honest directory's CID.
    const honestRendition = [...dagPb.decode(recording.blocks.get(recording.root)!).Links].find(link => link.Name === '720p')!.Hash.toString()
    const forgedRendition = [...dagPb.decode(forgedRoot).Links].find(link => link.Name === '720p')!.Hash.toString()
    const swapped = await serve(recording.blocks, new Map([[honestRendition, forged.blocks.get(forgedRendition)!]]))
    const second = await player([swapped.url], recording.root).playlist(MEDIA)
    assert.ok(!second.ok && /do not match/.test(second.text), 'a forged rendition directory under the signed one\'s CID was taken')
  })

  it('a relay sending a replaced segment\'s bytes under the signed CID is rejected; an honest relay\'s copy plays', async () => {
    const recording = await record(honestSegments)
    const segmentCid = (await rawCid(honestSegments[1]!)).toString()
    const hostile = await serve(recording.blocks, new Map([[segmentCid, new Uint8Array(randomBytes(20_000))]]))
    const alone = player([hostile.url], recording.root)
    assert.ok((await alone.playlist(MEDIA)).ok, 'its directory and playlist are genuine')
    const replaced = await alone.segment('https://hivecast.invalid/recording/720p/1.ts')
    assert.ok(!replaced.ok && /do not match the CID/.test(replaced.text), 'the replaced segment was played')
    assert.equal(alone.ledger.snapshot().segmentsRejected, 1)

    const honest = await serve(recording.blocks)
    const viewer = player([hostile.url, honest.url], recording.root)
    assert.ok((await viewer.playlist(MEDIA)).ok)
    const segment = await viewer.segment('https://hivecast.invalid/recording/720p/1.ts')
    assert.ok(segment.ok)
    assert.deepEqual(new Uint8Array(segment.data as ArrayBuffer), honestSegments[1])
    assert.deepEqual(viewer.pool.order(), [honest.url, hostile.url], 'the hostile relay goes to the back')
  })
})
