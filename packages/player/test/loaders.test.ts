import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { rawCid, renderMediaPlaylist, signAnnouncement } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import type { SegmentAnnouncement, SignedEnvelope } from '@hivecast/shared'
import type { FragmentLoaderContext, HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats, PlaylistLoaderContext } from 'hls.js'
import { AnnouncementBook } from '../src/announcement-book.ts'
import { keepBacked, listSegments } from '../src/playlist-entries.ts'
import { createPlaylistLoader } from '../src/playlist-loader.ts'
import { ATTEMPT_TIMEOUT_MS } from '../src/relay-loader.ts'
import { RelayPool } from '../src/relay-pool.ts'
import { SegmentLedger } from '../src/segment-ledger.ts'
import { createSegmentLoader } from '../src/segment-loader.ts'
import { startRelay } from './relay-servers.ts'
import type { TestRelay } from './relay-servers.ts'

const CONFIG = {} as HlsConfig
const LOAD_CONFIG = { loadPolicy: { maxTimeToFirstByteMs: 10_000, maxLoadTimeMs: 20_000, timeoutRetry: null, errorRetry: null }, maxRetry: 0, timeout: 20_000, retryDelay: 0, maxRetryDelay: 0 } satisfies LoaderConfiguration

type Outcome =
  | { kind: 'success', url: string, data: unknown, stats: LoaderStats }
  | { kind: 'error', code: number, text: string }
  | { kind: 'timeout' }
  | { kind: 'abort', aborted: boolean }

/** Runs one load and collects every callback hls.js would receive. */
function load<T extends LoaderContext> (loader: Loader<T>, context: T): { first: Promise<Outcome>, calls: Outcome[] } {
  const calls: Outcome[] = []
  const first = new Promise<Outcome>(resolve => {
    const report = (outcome: Outcome): void => { calls.push(outcome); resolve(outcome) }
    const callbacks: LoaderCallbacks<T> = {
      onSuccess: (response, stats) => { report({ kind: 'success', url: response.url, data: response.data, stats }) },
      onError: (error) => { report({ kind: 'error', code: error.code, text: error.text }) },
      onTimeout: () => { report({ kind: 'timeout' }) },
      onAbort: (stats) => { report({ kind: 'abort', aborted: stats.aborted }) }
    }
    loader.load(context, LOAD_CONFIG, callbacks)
  })
  return { first, calls }
}

function fragment (url: string): FragmentLoaderContext {
  return { url, responseType: 'arraybuffer', type: 'media-fragment', frag: {}, part: null } as unknown as FragmentLoaderContext
}

function playlist (url: string): PlaylistLoaderContext {
  return { url, responseType: 'text', type: 'manifest', level: null, id: null, deliveryDirectives: null, levelOrTrack: null } as unknown as PlaylistLoaderContext
}

const settle = async (ms = 100): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('segment loader', () => {
  const block = new Uint8Array(randomBytes(150_000))
  const other = new Uint8Array(randomBytes(1000))
  let cid: string
  let path: string
  const relays: TestRelay[] = []
  let good: TestRelay
  let tampering: TestRelay
  let hanging: TestRelay
  let failing: TestRelay

  before(async () => {
    cid = (await rawCid(block)).toString()
    path = `/ipfs/${cid}`
    const otherPath = `/ipfs/${(await rawCid(other)).toString()}`
    const files = new Map<string, Uint8Array | string>([[path, block], [otherPath, other]])
    good = await startRelay({ files })
    tampering = await startRelay({ files, tamper: new Set([path]) })
    hanging = await startRelay({ files, hang: true })
    failing = await startRelay({ files, status: 503 })
    relays.push(good, tampering, hanging, failing)
  })
  after(async () => { await Promise.all(relays.map(async relay => { await relay.close() })) })

  it('hands hls.js the block once its hash matches, and records the source', async () => {
    const ledger = new SegmentLedger()
    const pool = new RelayPool({ relays: [good.url, tampering.url] })
    const Segment = createSegmentLoader(pool, ledger)
    const outcome = await load(new Segment(CONFIG), fragment(`${good.url}/ipfs/${cid}`)).first
    assert.equal(outcome.kind, 'success')
    assert.ok(outcome.kind === 'success' && outcome.data instanceof ArrayBuffer)
    assert.deepEqual(new Uint8Array(outcome.data as ArrayBuffer), block)
    assert.equal(outcome.stats.loaded, block.byteLength)
    assert.ok(outcome.stats.loading.end >= outcome.stats.loading.first && outcome.stats.loading.first >= outcome.stats.loading.start)
    const stats = ledger.snapshot()
    assert.equal(stats.segmentsVerified, 1)
    assert.deepEqual(stats.bytesBySource, { [good.url]: block.byteLength })
    assert.equal(stats.segments[0]?.cid, cid)
    assert.ok(good.requests.includes(path))
  })

  it('rejects tampered bytes and fetches the block from the next relay', async () => {
    const ledger = new SegmentLedger()
    const pool = new RelayPool({ relays: [tampering.url, good.url] })
    const Segment = createSegmentLoader(pool, ledger)
    const outcome = await load(new Segment(CONFIG), fragment(`${tampering.url}/ipfs/${cid}`)).first
    assert.equal(outcome.kind, 'success')
    const stats = ledger.snapshot()
    assert.equal(stats.segmentsRejected, 1)
    assert.equal(stats.segmentsVerified, 1)
    assert.deepEqual(stats.segments.map(record => [record.source, record.verified]), [[tampering.url, false], [good.url, true]])
    assert.deepEqual(stats.bytesBySource, { [good.url]: block.byteLength }, 'rejected bytes are not counted')
    assert.deepEqual(pool.order(), [good.url, tampering.url], 'the tampering relay goes to the back')
  })

  it('reports a retryable error when no relay has verified bytes', async () => {
    const ledger = new SegmentLedger()
    const Segment = createSegmentLoader(new RelayPool({ relays: [tampering.url, failing.url] }), ledger)
    const outcome = await load(new Segment(CONFIG), fragment(`${tampering.url}/ipfs/${cid}`)).first
    assert.equal(outcome.kind, 'error')
    assert.ok(outcome.kind === 'error' && outcome.code === 502 && outcome.text.includes('do not match the CID') && outcome.text.includes('HTTP 503'), JSON.stringify(outcome))
    assert.equal(ledger.snapshot().segmentsRejected, 1)
  })

  it('refuses a segment URL without a CID, without fetching', async () => {
    const Segment = createSegmentLoader(new RelayPool({ relays: [good.url] }), new SegmentLedger())
    const before = good.requests.length
    const outcome = await load(new Segment(CONFIG), fragment(`${good.url}/hls/janson/seg1.ts`)).first
    assert.ok(outcome.kind === 'error' && outcome.code === 400, JSON.stringify(outcome))
    assert.equal(good.requests.length, before)
  })

  it(`moves on from a relay that does not answer within ${ATTEMPT_TIMEOUT_MS} ms`, async () => {
    const ledger = new SegmentLedger()
    const Segment = createSegmentLoader(new RelayPool({ relays: [hanging.url, good.url] }), ledger)
    const started = performance.now()
    const outcome = await load(new Segment(CONFIG), fragment(`${hanging.url}/ipfs/${cid}`)).first
    const took = performance.now() - started
    assert.equal(outcome.kind, 'success')
    assert.ok(took >= ATTEMPT_TIMEOUT_MS - 50 && took < ATTEMPT_TIMEOUT_MS + 2000, `took ${took} ms`)
    assert.deepEqual(Object.keys(ledger.snapshot().bytesBySource), [good.url])
  })

  it('abort() cancels the request, reports onAbort once and nothing after', async () => {
    const Segment = createSegmentLoader(new RelayPool({ relays: [hanging.url, good.url] }), new SegmentLedger())
    const loader = new Segment(CONFIG)
    const abandonedBefore = hanging.abandoned
    const { first, calls } = load(loader, fragment(`${hanging.url}/ipfs/${cid}`))
    await settle()
    loader.abort()
    assert.deepEqual(await first, { kind: 'abort', aborted: true })
    assert.equal(loader.stats.aborted, true)
    await settle(300)
    assert.equal(calls.length, 1, 'no callback after onAbort (the good relay is not tried)')
    assert.equal(hanging.abandoned, abandonedBefore + 1, 'the HTTP request was cancelled')
    loader.destroy()
  })

  it('destroy() cancels the request and reports nothing', async () => {
    const Segment = createSegmentLoader(new RelayPool({ relays: [hanging.url, good.url] }), new SegmentLedger())
    const loader = new Segment(CONFIG)
    const { calls } = load(loader, fragment(`${hanging.url}/ipfs/${cid}`))
    await settle()
    loader.destroy()
    await settle(300)
    assert.deepEqual(calls, [])
    assert.equal(loader.context, null)
  })

  it('refuses to be used twice, as hls.js loaders do', async () => {
    const Segment = createSegmentLoader(new RelayPool({ relays: [good.url] }), new SegmentLedger())
    const loader = new Segment(CONFIG)
    await load(loader, fragment(`${good.url}/ipfs/${cid}`)).first
    assert.throws(() => { loader.load(fragment(`${good.url}/ipfs/${cid}`), LOAD_CONFIG, { onSuccess: () => {}, onError: () => {}, onTimeout: () => {} }) }, /only be used once/)
  })
})

describe('playlist loader', () => {
  const master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p.m3u8\n'
  const relays: TestRelay[] = []
  let good: TestRelay
  let failing: TestRelay
  let garbage: TestRelay
  let empty: TestRelay

  before(async () => {
    good = await startRelay({ files: new Map([['/hls/janson/master.m3u8', master]]) })
    failing = await startRelay({ files: new Map(), status: 500 })
    garbage = await startRelay({ files: new Map([['/hls/janson/master.m3u8', '<html>captive portal</html>']]) })
    empty = await startRelay({ files: new Map() })
    relays.push(good, failing, garbage, empty)
  })
  after(async () => { await Promise.all(relays.map(async relay => { await relay.close() })) })

  it('fails over to the next relay and makes the one that answered preferred', async () => {
    const pool = new RelayPool({ relays: [failing.url, garbage.url, good.url] })
    const Playlist = createPlaylistLoader(pool)
    const outcome = await load(new Playlist(CONFIG), playlist(`${failing.url}/hls/janson/master.m3u8`)).first
    assert.equal(outcome.kind, 'success')
    assert.ok(outcome.kind === 'success')
    assert.equal(outcome.data, master)
    assert.equal(outcome.url, `${good.url}/hls/janson/master.m3u8`, 'relative URIs resolve against the relay that answered')
    assert.equal(pool.preferred, good.url)
    assert.equal(pool.order()[0], good.url)
    assert.deepEqual(garbage.requests, ['/hls/janson/master.m3u8'])
  })

  it('says 404 when no relay has the room', async () => {
    const Playlist = createPlaylistLoader(new RelayPool({ relays: [empty.url] }))
    const outcome = await load(new Playlist(CONFIG), playlist(`${empty.url}/hls/janson/master.m3u8`)).first
    assert.ok(outcome.kind === 'error' && outcome.code === 404, JSON.stringify(outcome))
  })

  it('says 503 when the relays follow the room but have no segment yet', async () => {
    const notYet = await startRelay({ files: new Map(), status: 503 })
    relays.push(notYet)
    const Playlist = createPlaylistLoader(new RelayPool({ relays: [notYet.url, empty.url] }))
    const outcome = await load(new Playlist(CONFIG), playlist(`${notYet.url}/hls/janson/master.m3u8`)).first
    assert.ok(outcome.kind === 'error' && outcome.code === 503, JSON.stringify(outcome))
  })

  it('says 502 when relays fail in other ways', async () => {
    const Playlist = createPlaylistLoader(new RelayPool({ relays: [empty.url, failing.url] }))
    const outcome = await load(new Playlist(CONFIG), playlist(`${empty.url}/hls/janson/master.m3u8`)).first
    assert.ok(outcome.kind === 'error' && outcome.code === 502 && outcome.text.includes('HTTP 500'), JSON.stringify(outcome))
  })
})

describe('relay pool', () => {
  it('normalizes, deduplicates and counts invalid relay URLs', () => {
    const pool = new RelayPool({ relays: ['http://127.0.0.1:8081/', 'http://127.0.0.1:8081', 'https://relay.example/hc/', 'ftp://x', 'not a url', 'http://user:pw@host'] })
    assert.deepEqual(pool.relays, ['http://127.0.0.1:8081', 'https://relay.example/hc'])
    assert.equal(pool.invalid, 3)
    assert.deepEqual(pool.locate('https://relay.example/hc/hls/a/master.m3u8'), { relay: 'https://relay.example/hc', path: 'hls/a/master.m3u8' })
    assert.equal(pool.locate('https://elsewhere.example/hls/a/master.m3u8'), undefined)
  })

  it('puts the playlist relay first and failed relays last until their cool-down ends', () => {
    let now = 0
    const pool = new RelayPool({ relays: ['http://a', 'http://b', 'http://c'], now: () => now })
    pool.servedPlaylist('http://b')
    assert.deepEqual(pool.order(), ['http://b', 'http://a', 'http://c'])
    pool.failed('http://b')
    assert.deepEqual(pool.order(), ['http://a', 'http://c', 'http://b'])
    pool.rejected('http://a')
    assert.deepEqual(pool.order(), ['http://c', 'http://b', 'http://a'])
    now = 20_000
    assert.deepEqual(pool.order(), ['http://b', 'http://c', 'http://a'], 'a failure cools down in seconds')
    now = 400_000
    assert.deepEqual(pool.order(), ['http://a', 'http://b', 'http://c'], 'a rejection cools down in minutes')
  })

  it('tries every relay once, then prefers the one that delivers fastest', () => {
    const pool = new RelayPool({ relays: ['http://slow', 'http://fast'] })
    pool.servedPlaylist('http://slow')
    assert.deepEqual(pool.order(), ['http://slow', 'http://fast'])
    pool.delivered('http://slow', 3000)
    assert.deepEqual(pool.order(), ['http://fast', 'http://slow'], 'an unmeasured relay is tried before a measured one')
    pool.delivered('http://fast', 40)
    assert.deepEqual(pool.order(), ['http://fast', 'http://slow'])
    for (let i = 0; i < 10; i++) pool.delivered('http://fast', 5000)
    assert.deepEqual(pool.order(), ['http://slow', 'http://fast'], 'a relay that turned slow loses its place')
  })
})

describe('room key checks', () => {
  const RENDITION = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
  const dirs: string[] = []
  const relays: TestRelay[] = []
  let roomKey: string
  let signRoom: (announcement: SegmentAnnouncement) => Promise<SignedEnvelope>
  /** Envelopes for seq 10-13 of room janson signed by the room key; one by another key; one for another room. */
  let signed: SignedEnvelope[]
  let foreign: SignedEnvelope
  let otherRoom: SignedEnvelope
  let cids: string[]
  let forgedCid: string

  const announcement = (seq: number, cid: string, room = 'janson'): SegmentAnnouncement => ({
    kind: 'segment', room, rendition: RENDITION, seq, cid, size: 1000, duration: 1, pdt: 1_700_000_000_000 + seq * 1000, discontinuity: false, end: false
  })
  const windowJson = (envelopes: SignedEnvelope[]): string => JSON.stringify({ room: 'janson', renditions: { '360p': envelopes.map(envelope => ({ envelope, storedAt: 1 })) } })
  const mediaPlaylist = (entries: Array<{ seq: number, cid: string }>): string => renderMediaPlaylist(
    { entries: entries.map(e => ({ ...e, duration: 1, pdt: 1_700_000_000_000 + e.seq * 1000, discontinuity: false, gap: false })), discontinuitySequence: 0, ended: false },
    e => `/ipfs/${e.cid}?filename=${e.seq}.ts`)

  before(async () => {
    const keys = await Promise.all([0, 1].map(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'hivecast-player-key-'))
      dirs.push(dir)
      return await loadOrCreateIdentity(dir)
    }))
    const [room, stranger] = keys as [typeof keys[0], typeof keys[0]]
    roomKey = room.id
    signRoom = async a => await signAnnouncement(a, room.privateKey, room.id)
    cids = await Promise.all([0, 1, 2, 3].map(async i => (await rawCid(new Uint8Array([i, 1, 2, 3]))).toString()))
    forgedCid = (await rawCid(new Uint8Array([9, 9, 9]))).toString()
    signed = await Promise.all(cids.map(async (cid, i) => await signAnnouncement(announcement(10 + i, cid), room.privateKey, room.id)))
    foreign = await signAnnouncement(announcement(14, forgedCid), stranger.privateKey, stranger.id)
    otherRoom = await signAnnouncement(announcement(14, forgedCid, 'other'), room.privateKey, room.id)
  })
  after(async () => {
    await Promise.all(relays.map(async relay => { await relay.close() }))
    await Promise.all(dirs.map(async dir => { await rm(dir, { recursive: true, force: true }) }))
  })

  it('the book takes announcements signed by the room key for the room, once each, and nothing else', async () => {
    const book = new AnnouncementBook('janson', [roomKey])
    const forged = { ...signed[0]!, payload: signed[0]!.payload.replace(cids[0]!, forgedCid) }
    // The forged copy comes first: it must not get the genuine envelope with the same signature skipped.
    const intake = await book.addWindow(JSON.parse(windowJson([forged, ...signed, foreign, otherRoom])))
    assert.deepEqual(intake, { accepted: 4, refused: 3 })
    assert.equal(book.backs('360p', 10, cids[0]!), true)
    assert.equal(book.backs('360p', 10, forgedCid), false, 'a payload changed after signing')
    assert.equal(book.backs('360p', 14, forgedCid), false, 'signed by another key, or for another room')
    assert.equal(book.knows(cids[3]!, '360p'), true)
    assert.equal(book.knows(cids[3]!, '720p'), false)
    assert.equal(book.entry('360p', 11)?.pdt, 1_700_000_011_000)
    assert.deepEqual(await book.addWindow(JSON.parse(windowJson([...signed, foreign]))), { accepted: 0, refused: 0 }, 'each signature is checked once')
    for (const junk of [null, 'x', { renditions: 5 }, { renditions: { a: [null, 1, { envelope: 'x' }] } }]) await book.addWindow(junk)
    assert.equal(book.verified, 4)
  })

  it('playlist entries: unbacked ones at the end are dropped, in the middle they become gaps', () => {
    const text = mediaPlaylist([{ seq: 10, cid: cids[0]! }, { seq: 11, cid: forgedCid }, { seq: 12, cid: cids[2]! }, { seq: 13, cid: forgedCid }]) + '#EXT-X-ENDLIST\n'
    const url = 'http://relay/hls/janson/360p.m3u8'
    assert.deepEqual(listSegments(text, url).map(s => [s.seq, s.cid]), [[10, cids[0]], [11, forgedCid], [12, cids[2]], [13, forgedCid]])
    const checked = keepBacked(text, url, s => s.cid !== forgedCid)
    assert.equal(checked.dropped, 2)
    const after = listSegments(checked.text, url)
    assert.deepEqual(after.map(s => [s.seq, s.cid, s.gap]), [[10, cids[0], false], [11, forgedCid, true], [12, cids[2], false]])
    assert.ok(checked.text.endsWith('#EXT-X-ENDLIST\n'))
    assert.equal(keepBacked(text, url, () => true).text, text)
  })

  it('an fMP4 entry is backed only with the init section its announcement names, which the book knows too', async () => {
    const book = new AnnouncementBook('janson', [roomKey])
    const init = (await rawCid(new Uint8Array([7, 7]))).toString()
    const envelope = await signRoom({ ...announcement(20, cids[0]!), init: { cid: init, size: 2 } })
    assert.deepEqual(await book.addWindow(JSON.parse(windowJson([envelope]))), { accepted: 1, refused: 0 })
    assert.equal(book.backs('360p', 20, cids[0]!, init), true)
    assert.equal(book.backs('360p', 20, cids[0]!), false, 'not without its init section')
    assert.equal(book.backs('360p', 20, cids[0]!, forgedCid), false, 'not with another init section')
    assert.equal(book.backs('360p', 10, cids[0]!, init), false, 'an MPEG-TS entry takes no init section')
    assert.equal(book.knows(init, '360p'), true, 'the segment loader may fetch the init section')
    assert.equal(book.knows(init, '720p'), false)

    const url = 'http://relay/hls/janson/360p.m3u8'
    const text = renderMediaPlaylist({ entries: [{ seq: 20, cid: cids[0]!, duration: 1, pdt: 1, discontinuity: false, gap: false, map: init }, { seq: 21, cid: cids[1]!, duration: 1, pdt: 2, discontinuity: false, gap: false, map: forgedCid }], discontinuitySequence: 0, ended: false },
      e => `/ipfs/${e.cid}?filename=${e.seq}.m4s`, { mapUri: cid => `/ipfs/${cid}?filename=init.mp4` })
    assert.deepEqual(listSegments(text, url).map(s => [s.seq, s.map]), [[20, init], [21, forgedCid]])
    assert.deepEqual(listSegments('#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1,\n/ipfs/x\n', url).map(s => s.map), [''], 'a map without a CID backs nothing')
    const checked = keepBacked(text, url, s => s.cid !== undefined && s.map !== undefined && book.backs('360p', s.seq, s.cid, s.map))
    assert.equal(checked.dropped, 1)
    assert.deepEqual(listSegments(checked.text, url).map(s => s.seq), [20], 'the entry with an unannounced init section is cut')
  })

  it('a relay listing unsigned entries is demoted and the playlist comes from one that lists only signed ones', async () => {
    const honestList = mediaPlaylist(cids.map((cid, i) => ({ seq: 10 + i, cid })))
    const forgedList = mediaPlaylist([...cids.map((cid, i) => ({ seq: 10 + i, cid })), { seq: 14, cid: forgedCid }])
    const path = '/hls/janson/360p.m3u8'
    const lying = await startRelay({ files: new Map([[path, forgedList], ['/rooms/janson/window.json', windowJson([...signed, foreign])]]) })
    const honest = await startRelay({ files: new Map([[path, honestList], ['/rooms/janson/window.json', windowJson(signed)]]) })
    relays.push(lying, honest)
    const pool = new RelayPool({ relays: [lying.url, honest.url] })
    const book = new AnnouncementBook('janson', [roomKey])
    const counters = { entriesRejected: 0 }
    const Playlist = createPlaylistLoader(pool, book, counters)
    const outcome = await load(new Playlist(CONFIG), playlist(`${lying.url}${path}`)).first
    assert.ok(outcome.kind === 'success', JSON.stringify(outcome))
    assert.equal(outcome.data, honestList)
    assert.equal(counters.entriesRejected, 1)
    assert.deepEqual(pool.order(), [honest.url, lying.url])
    assert.deepEqual(honest.requests, [path], 'announcements already in the book are not fetched again')

    // When every relay lies, the player plays what is signed rather than nothing.
    const alone = createPlaylistLoader(new RelayPool({ relays: [lying.url] }), book, counters)
    const trimmed = await load(new alone(CONFIG), playlist(`${lying.url}${path}`)).first
    assert.ok(trimmed.kind === 'success')
    assert.deepEqual(listSegments(trimmed.data as string, trimmed.url).map(s => s.cid), cids)
  })

  it('plays nothing from a relay that cannot show announcements for its entries, and says why', async () => {
    const path = '/hls/janson/360p.m3u8'
    const relay = await startRelay({ files: new Map([[path, mediaPlaylist(cids.map((cid, i) => ({ seq: 10 + i, cid })))]]) })
    relays.push(relay)
    const Playlist = createPlaylistLoader(new RelayPool({ relays: [relay.url] }), new AnnouncementBook('janson', [roomKey]))
    const outcome = await load(new Playlist(CONFIG), playlist(`${relay.url}${path}`)).first
    assert.ok(outcome.kind === 'error' && outcome.code === 502, JSON.stringify(outcome))
    assert.match(outcome.text, /listed 4 entries not signed by the room key .*window\.json answered HTTP 404/)
  })

  it('the segment loader does not even fetch a CID the room key did not announce', async () => {
    const relay = await startRelay({ files: new Map() })
    relays.push(relay)
    const book = new AnnouncementBook('janson', [roomKey])
    await book.addWindow(JSON.parse(windowJson(signed)))
    const ledger = new SegmentLedger()
    const Segment = createSegmentLoader(new RelayPool({ relays: [relay.url] }), ledger, book)
    const outcome = await load(new Segment(CONFIG), fragment(`${relay.url}/ipfs/${forgedCid}`)).first
    assert.ok(outcome.kind === 'error' && outcome.code === 403, JSON.stringify(outcome))
    assert.deepEqual(relay.requests, [])
    const known = await load(new Segment(CONFIG), fragment(`${relay.url}/ipfs/${cids[0]!}`)).first
    assert.ok(known.kind === 'error' && known.code === 502, 'an announced CID is fetched (this relay has none)')
    assert.equal(relay.requests.length, 1)
  })
})
