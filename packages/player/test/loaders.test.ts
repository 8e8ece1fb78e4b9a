import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { rawCid, signAnnouncement, signPartAnnouncement } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import type { PartAnnouncement, SegmentAnnouncement, SignedEnvelope } from '@hivecast/shared'
import type { FragmentLoaderContext, HlsConfig, Loader, LoaderCallbacks, LoaderContext, LoaderStats, PlaylistLoaderContext } from 'hls.js'
import { LOAD_CONFIG } from './loader-run.ts'
import { AnnouncementBook } from '../src/announcement-book.ts'
import { LIVE_MASTER, LivePlaylists } from '../src/live-playlists.ts'
import { PartBook } from '../src/part-book.ts'
import { createPlaylistLoader } from '../src/playlist-loader.ts'
import type { PlaylistSource } from '../src/playlist-loader.ts'
import { ATTEMPT_TIMEOUT_MS } from '../src/relay-loader.ts'
import { RelayPool } from '../src/relay-pool.ts'
import { SegmentLedger } from '../src/segment-ledger.ts'
import { createSegmentLoader } from '../src/segment-loader.ts'
import { startRelay } from './relay-servers.ts'
import type { TestRelay } from './relay-servers.ts'

const CONFIG = {} as HlsConfig
/** A stand-in playlist source for the segment loader: the last path element of a name is its CID. */
const BY_CID: Pick<PlaylistSource, 'segment'> = { segment: url => ({ cid: url.slice(url.lastIndexOf('/') + 1) }) }

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
    const Segment = createSegmentLoader(pool, ledger, BY_CID)
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
    const Segment = createSegmentLoader(pool, ledger, BY_CID)
    const outcome = await load(new Segment(CONFIG), fragment(`${tampering.url}/ipfs/${cid}`)).first
    assert.equal(outcome.kind, 'success')
    const stats = ledger.snapshot()
    assert.equal(stats.segmentsRejected, 1)
    assert.equal(stats.segmentsVerified, 1)
    assert.deepEqual(stats.segments.map(record => [record.source, record.verified]), [[tampering.url, false], [good.url, true]])
    assert.deepEqual(stats.bytesBySource, { [good.url]: block.byteLength }, 'rejected bytes are not counted')
    assert.deepEqual(pool.order(), [good.url, tampering.url], 'the tampering relay goes to the back')
  })

  it('asks the next relay when one does not hold the block yet (404), and keeps the first in its place', async () => {
    const lacking = await startRelay({ files: new Map() })
    relays.push(lacking)
    const ledger = new SegmentLedger()
    const pool = new RelayPool({ relays: [lacking.url, good.url] })
    const Segment = createSegmentLoader(pool, ledger, BY_CID)
    const outcome = await load(new Segment(CONFIG), fragment(`${lacking.url}/ipfs/${cid}`)).first
    assert.equal(outcome.kind, 'success')
    assert.deepEqual(lacking.requests, [path])
    assert.deepEqual(Object.keys(ledger.snapshot().bytesBySource), [good.url])
    // At the live edge a relay lacks the newest segment for a moment; sending it to the back for the
    // cool-down would leave the viewer on a slower relay for the next 15 segments.
    assert.deepEqual(pool.order(), [lacking.url, good.url], 'a miss is not a failure')
  })

  it('reports a retryable error when no relay has verified bytes', async () => {
    const ledger = new SegmentLedger()
    const Segment = createSegmentLoader(new RelayPool({ relays: [tampering.url, failing.url] }), ledger, BY_CID)
    const outcome = await load(new Segment(CONFIG), fragment(`${tampering.url}/ipfs/${cid}`)).first
    assert.equal(outcome.kind, 'error')
    assert.ok(outcome.kind === 'error' && outcome.code === 502 && outcome.text.includes('do not match the CID') && outcome.text.includes('HTTP 503'), JSON.stringify(outcome))
    assert.equal(ledger.snapshot().segmentsRejected, 1)
  })

  it('refuses a name the playlist source does not map to a verified CID, without fetching', async () => {
    const Segment = createSegmentLoader(new RelayPool({ relays: [good.url] }), new SegmentLedger(), { segment: () => ({ refused: 'not listed' }) })
    const before = good.requests.length
    const outcome = await load(new Segment(CONFIG), fragment(`${good.url}/ipfs/${cid}`)).first
    assert.ok(outcome.kind === 'error' && outcome.code === 403 && outcome.text.startsWith('not listed'), JSON.stringify(outcome))
    assert.equal(good.requests.length, before)
  })

  it(`moves on from a relay that does not answer within ${ATTEMPT_TIMEOUT_MS} ms`, async () => {
    const ledger = new SegmentLedger()
    const Segment = createSegmentLoader(new RelayPool({ relays: [hanging.url, good.url] }), ledger, BY_CID)
    const started = performance.now()
    const outcome = await load(new Segment(CONFIG), fragment(`${hanging.url}/ipfs/${cid}`)).first
    const took = performance.now() - started
    assert.equal(outcome.kind, 'success')
    assert.ok(took >= ATTEMPT_TIMEOUT_MS - 50 && took < ATTEMPT_TIMEOUT_MS + 2000, `took ${took} ms`)
    assert.deepEqual(Object.keys(ledger.snapshot().bytesBySource), [good.url])
  })

  it('abort() cancels the request, reports onAbort once and nothing after', async () => {
    const Segment = createSegmentLoader(new RelayPool({ relays: [hanging.url, good.url] }), new SegmentLedger(), BY_CID)
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
    const Segment = createSegmentLoader(new RelayPool({ relays: [hanging.url, good.url] }), new SegmentLedger(), BY_CID)
    const loader = new Segment(CONFIG)
    const { calls } = load(loader, fragment(`${hanging.url}/ipfs/${cid}`))
    await settle()
    loader.destroy()
    await settle(300)
    assert.deepEqual(calls, [])
    assert.equal(loader.context, null)
  })

  it('refuses to be used twice, as hls.js loaders do', async () => {
    const Segment = createSegmentLoader(new RelayPool({ relays: [good.url] }), new SegmentLedger(), BY_CID)
    const loader = new Segment(CONFIG)
    await load(loader, fragment(`${good.url}/ipfs/${cid}`)).first
    assert.throws(() => { loader.load(fragment(`${good.url}/ipfs/${cid}`), LOAD_CONFIG, { onSuccess: () => {}, onError: () => {}, onTimeout: () => {} }) }, /only be used once/)
  })
})

describe('relay pool', () => {
  it('normalizes, deduplicates and counts invalid relay URLs', () => {
    const pool = new RelayPool({ relays: ['http://127.0.0.1:8081/', 'http://127.0.0.1:8081', 'https://relay.example/hc/', 'ftp://x', 'not a url', 'http://user:pw@host'] })
    assert.deepEqual(pool.relays, ['http://127.0.0.1:8081', 'https://relay.example/hc'])
    assert.equal(pool.invalid, 3)
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

describe('playlists from the signed window', () => {
  /** Recent enough for the player's live-window freshness bound. */
  const PDT_BASE = Date.now() - 20_000
  const RENDITION = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
  const dirs: string[] = []
  const relays: TestRelay[] = []
  let roomKey: string
  let signRoom: (announcement: SegmentAnnouncement) => Promise<SignedEnvelope>
  let signPart: (part: PartAnnouncement, by?: 'room' | 'stranger') => Promise<SignedEnvelope>
  /** Envelopes for seq 10-13 of room janson signed by the room key; one by another key; one for another room. */
  let signed: SignedEnvelope[]
  let foreign: SignedEnvelope
  let otherRoom: SignedEnvelope
  let cids: string[]
  let forgedCid: string

  const announcement = (seq: number, cid: string, room = 'janson'): SegmentAnnouncement => ({
    kind: 'segment', room, rendition: RENDITION, seq, cid, size: 1000, duration: 1, pdt: PDT_BASE + seq * 1000, discontinuity: false, end: false
  })
  const windowJson = (envelopes: SignedEnvelope[], notStored: ReadonlySet<number> = new Set()): string =>
    JSON.stringify({ room: 'janson', renditions: { '360p': envelopes.map((envelope, i) => ({ envelope, storedAt: notStored.has(i) ? null : 1 })) } })
  const WINDOW = '/rooms/janson/window.json'
  const MEDIA = 'https://hivecast.invalid/live/360p.m3u8'
  const windowRelay = async (body: string): Promise<TestRelay> => {
    const relay = await startRelay({ files: new Map([[WINDOW, body]]) })
    relays.push(relay)
    return relay
  }
  const loadLive = async (urls: string[], name: string, book = new AnnouncementBook('janson', [roomKey]), counters = { entriesRejected: 0 }): Promise<{ outcome: Outcome, pool: RelayPool, source: LivePlaylists }> => {
    const pool = new RelayPool({ relays: urls })
    const source = new LivePlaylists(pool, book, counters)
    const Playlist = createPlaylistLoader(source)
    return { outcome: await load(new Playlist(CONFIG), playlist(name)).first, pool, source }
  }

  before(async () => {
    const keys = await Promise.all([0, 1].map(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'hivecast-player-key-'))
      dirs.push(dir)
      return await loadOrCreateIdentity(dir)
    }))
    const [room, stranger] = keys as [typeof keys[0], typeof keys[0]]
    roomKey = room.id
    signRoom = async a => await signAnnouncement(a, room.privateKey, room.id)
    signPart = async (p, by = 'room') => by === 'room' ? await signPartAnnouncement(p, room.privateKey, room.id) : await signPartAnnouncement(p, stranger.privateKey, stranger.id)
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
    assert.deepEqual({ ...intake, listed: [...intake.listed] }, { accepted: 4, refused: 3, stale: false, listed: [['360p', [10, 11, 12, 13].map(seq => ({ seq, stored: true }))]] })
    assert.equal(book.backs('360p', 10, cids[0]!), true)
    assert.equal(book.backs('360p', 10, forgedCid), false, 'a payload changed after signing')
    assert.equal(book.backs('360p', 14, forgedCid), false, 'signed by another key, or for another room')
    assert.equal(book.knows(cids[3]!, '360p'), true)
    assert.equal(book.knows(cids[3]!, '720p'), false)
    assert.equal(book.entry('360p', 11)?.pdt, PDT_BASE + 11_000)
    const again = await book.addWindow(JSON.parse(windowJson([...signed, foreign])))
    assert.deepEqual([again.accepted, again.refused], [0, 0], 'each signature is checked once')
    for (const junk of [null, 'x', { renditions: 5 }, { renditions: { a: [null, 1, { envelope: 'x' }] } }]) await book.addWindow(junk)
    assert.equal(book.verified, 4)
  })

  it('writes the master playlist from the signed renditions, failing over to the relay that answers', async () => {
    const failing = await startRelay({ files: new Map(), status: 500 })
    relays.push(failing)
    const garbage = await windowRelay('<html>captive portal</html>')
    const good = await windowRelay(windowJson(signed))
    const { outcome, pool } = await loadLive([failing.url, garbage.url, good.url], LIVE_MASTER)
    assert.ok(outcome.kind === 'success', JSON.stringify(outcome))
    assert.equal(outcome.url, LIVE_MASTER, 'names resolve against the player\'s own name, not a relay')
    assert.match(String(outcome.data), /#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1\.64001e,mp4a\.40\.2"/)
    assert.ok(String(outcome.data).includes(`\n${MEDIA}\n`))
    assert.equal(pool.preferred, good.url)
    assert.equal(pool.order()[0], good.url)
    assert.deepEqual(garbage.requests, [WINDOW])
  })

  it('says 404 when no relay has the room, 503 when none has a segment yet, 502 otherwise', async () => {
    const empty = await startRelay({ files: new Map() })
    const notYet = await startRelay({ files: new Map(), status: 503 })
    const failing = await startRelay({ files: new Map(), status: 500 })
    relays.push(empty, notYet, failing)
    const emptyWindow = await windowRelay(JSON.stringify({ room: 'janson', renditions: {} }))
    const code = async (urls: string[]): Promise<number | undefined> => {
      const { outcome } = await loadLive(urls, LIVE_MASTER)
      return outcome.kind === 'error' ? outcome.code : undefined
    }
    assert.equal(await code([empty.url]), 404)
    assert.equal(await code([notYet.url, empty.url]), 503)
    assert.equal(await code([emptyWindow.url, empty.url]), 503)
    assert.equal(await code([empty.url, failing.url]), 502)
  })

  it('writes a media playlist of the signed entries the relay holds, under names only the player reads', async () => {
    const relay = await windowRelay(windowJson(signed, new Set([1])))
    const { outcome, source } = await loadLive([relay.url], MEDIA)
    assert.ok(outcome.kind === 'success', JSON.stringify(outcome))
    const text = String(outcome.data)
    assert.ok(text.includes('#EXT-X-MEDIA-SEQUENCE:10\n'))
    const names = text.split('\n').filter(line => line !== '' && !line.startsWith('#'))
    assert.deepEqual(names, [10, 11, 12, 13].map(seq => `https://hivecast.invalid/live/360p/${seq}.ts`))
    assert.ok(text.includes('#EXT-X-GAP\n#EXTINF:1.000,\nhttps://hivecast.invalid/live/360p/11.ts'), 'a segment the relay could not fetch is a gap')
    assert.ok(!text.includes(relay.url) && !text.includes('ENDLIST'), text)
    assert.deepEqual(names.map(name => source.segment(name)), cids.map(cid => ({ cid })))
    assert.ok('refused' in source.segment('https://hivecast.invalid/live/360p/14.ts'))
    assert.ok('refused' in source.segment(`${relay.url}/ipfs/${cids[0]!}`), 'a relay URL is no name the player wrote')
  })

  it('in the low-latency mode, lists the signed parts of the newest segments and of the one in progress, and waits at the relay for the part hls.js asks for', async () => {
    const session = 's1'
    const segments = await Promise.all([10, 11, 12, 13].map(async seq => await signRoom({ ...announcement(seq, cids[seq - 10]!), session })))
    const partCid = async (seq: number, part: number): Promise<string> => (await rawCid(new Uint8Array([seq, part, 7]))).toString()
    const part = async (seq: number, index: number, last: boolean, by: 'room' | 'stranger' = 'room'): Promise<SignedEnvelope> =>
      await signPart({ kind: 'part', room: 'janson', rendition: '360p', session, seq, part: index, cid: await partCid(seq, index), size: 1880, duration: index === 2 ? 0.334 : 0.333, independent: index === 0, last }, by)
    const parts = [
      // Segment 11 is older than the two that keep their parts; 12's part 1 never came: it lists none.
      await part(11, 0, false), await part(12, 0, false), await part(12, 2, true),
      await part(13, 0, false), await part(13, 1, false), await part(13, 2, true),
      // In progress: parts 0 and 1 signed by the room key, part 2 by another key.
      await part(14, 0, false), await part(14, 1, false), await part(14, 2, false, 'stranger')
    ]
    const body = JSON.stringify({ room: 'janson', renditions: { '360p': segments.map(envelope => ({ envelope, storedAt: 1 })) }, parts: { '360p': parts.map(envelope => ({ envelope })) } })
    const relay = await windowRelay(body)
    const book = new AnnouncementBook('janson', [roomKey])
    const partBook = new PartBook('janson', [roomKey])
    const source = new LivePlaylists(new RelayPool({ relays: [relay.url] }), book, { entriesRejected: 0 }, { parts: partBook, lowLatency: true })
    const outcome = await load(new (createPlaylistLoader(source))(CONFIG), playlist(`${MEDIA}?_HLS_msn=14&_HLS_part=2`)).first
    assert.ok(outcome.kind === 'success', JSON.stringify(outcome))
    assert.match(relay.queries.at(-1)!, /&wait=360p&_HLS_msn=14&_HLS_part=2$/, 'the relay is asked to wait for the part hls.js waits for')
    const text = String(outcome.data)
    assert.ok(text.includes('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES') && text.includes('#EXT-X-PART-INF:PART-TARGET=0.334\n'), text)
    const listed = text.split('\n').filter(line => line.startsWith('#EXT-X-PART:')).map(line => /URI="([^"]+)"/.exec(line)![1]!)
    const name = (seq: number, index: number): string => `https://hivecast.invalid/live/360p/${seq}.${index}.ts`
    assert.deepEqual(listed, [name(13, 0), name(13, 1), name(13, 2), name(14, 0), name(14, 1)])
    assert.ok(text.includes(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${name(14, 2)}"`), text)
    assert.ok(text.indexOf(name(13, 2)) < text.indexOf('https://hivecast.invalid/live/360p/13.ts'), 'a segment\'s parts come before it')
    assert.deepEqual(source.segment(name(14, 1)), { cid: await partCid(14, 1) })
    assert.ok('refused' in source.segment(name(14, 2)), 'a part another key signed is never fetched')
    assert.ok('refused' in source.segment(name(12, 0)), 'nor a part the playlist did not list')
    assert.equal(partBook.refused, 1)
  })

  it('a relay whose window carries unsigned envelopes is demoted; another relay\'s signed window is played', async () => {
    const lying = await windowRelay(windowJson([...signed, foreign]))
    const honest = await windowRelay(windowJson(signed))
    const counters = { entriesRejected: 0 }
    const book = new AnnouncementBook('janson', [roomKey])
    const { outcome, pool } = await loadLive([lying.url, honest.url], MEDIA, book, counters)
    assert.ok(outcome.kind === 'success', JSON.stringify(outcome))
    assert.equal(counters.entriesRejected, 1)
    assert.deepEqual(pool.order(), [honest.url, lying.url])
    assert.equal(pool.preferred, honest.url)

    // When every relay lies, the player plays what is signed rather than nothing.
    const alone = await loadLive([lying.url], MEDIA, book, counters)
    assert.ok(alone.outcome.kind === 'success')
    assert.deepEqual(String(alone.outcome.data).split('\n').filter(line => line.startsWith('https://')).length, 4)
    assert.ok(!String(alone.outcome.data).includes('/14.ts'))
  })

  it('an fMP4 entry plays with the init section its announcement names, and only that one', async () => {
    const init = (await rawCid(new Uint8Array([7, 7]))).toString()
    const envelope = await signRoom({ ...announcement(20, cids[0]!), init: { cid: init, size: 2 } })
    const relay = await windowRelay(windowJson([envelope]))
    const { outcome, source } = await loadLive([relay.url], MEDIA)
    assert.ok(outcome.kind === 'success', JSON.stringify(outcome))
    assert.ok(String(outcome.data).includes(`#EXT-X-MAP:URI="https://hivecast.invalid/live/360p/init/${init}.mp4"`))
    assert.ok(String(outcome.data).includes('https://hivecast.invalid/live/360p/20.m4s'))
    assert.deepEqual(source.segment(`https://hivecast.invalid/live/360p/init/${init}.mp4`), { cid: init })
    assert.ok('refused' in source.segment(`https://hivecast.invalid/live/360p/init/${forgedCid}.mp4`))
    assert.ok('refused' in source.segment(`https://hivecast.invalid/live/720p/init/${init}.mp4`), 'not for another rendition')
  })

  it('marks a discontinuity where the signed data has one, and keeps the discontinuity sequence as entries slide out', async () => {
    const bySession = await Promise.all([10, 11, 12, 13].map(async (seq, i) => await signRoom({ ...announcement(seq, cids[i]!), session: seq < 12 ? 'first' : 'second' })))
    const book = new AnnouncementBook('janson', [roomKey])
    const whole = await windowRelay(windowJson(bySession))
    const first = await loadLive([whole.url], MEDIA, book)
    assert.ok(first.outcome.kind === 'success')
    const text = String(first.outcome.data)
    assert.ok(text.includes('#EXT-X-DISCONTINUITY-SEQUENCE:0\n'))
    assert.equal(text.split('\n').filter(line => line === '#EXT-X-DISCONTINUITY').length, 1)
    assert.ok(text.includes('#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME'), 'the break sits before seq 12, where the session changes')
    const later = await windowRelay(windowJson(bySession.slice(3)))
    const slid = await loadLive([later.url], MEDIA, book)
    assert.ok(slid.outcome.kind === 'success')
    assert.ok(String(slid.outcome.data).includes('#EXT-X-DISCONTINUITY-SEQUENCE:1\n'), 'the break before 13 counts once it slid out')
    assert.ok(!String(slid.outcome.data).includes('#EXT-X-DISCONTINUITY\n'))
  })

  it('the segment loader does not even fetch a segment the room key did not announce', async () => {
    const relay = await startRelay({ files: new Map() })
    relays.push(relay)
    const book = new AnnouncementBook('janson', [roomKey])
    await book.addWindow(JSON.parse(windowJson(signed)))
    const pool = new RelayPool({ relays: [relay.url] })
    const Segment = createSegmentLoader(pool, new SegmentLedger(), new LivePlaylists(pool, book, { entriesRejected: 0 }))
    const outcome = await load(new Segment(CONFIG), fragment('https://hivecast.invalid/live/360p/14.ts')).first
    assert.ok(outcome.kind === 'error' && outcome.code === 403, JSON.stringify(outcome))
    assert.deepEqual(relay.requests, [])
    const known = await load(new Segment(CONFIG), fragment('https://hivecast.invalid/live/360p/10.ts')).first
    assert.ok(known.kind === 'error' && known.code === 502, 'an announced segment is fetched (this relay has none)')
    assert.deepEqual(relay.requests, [`/ipfs/${cids[0]!}`])
  })
})
