/**
 * Recording announcements at the relay, with a real libp2p publisher (no ffmpeg): listed per room with
 * their signed envelopes, kept out of the live window, pinned and served by path with --archive, 404
 * without it, refused when signed by another key, and junk paths answered 400.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { CarReader } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { deleteBlock, getBlock } from '@hivecast/shared/node'
import { encodeEnvelope, renderMasterPlaylist, renderMediaPlaylist, signAnnouncement } from '@hivecast/shared'
import type { RecordingAnnouncement } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import { dagLinks } from '../src/car-export.ts'
import { startRelay } from '../src/index.ts'
import type { Relay } from '../src/index.ts'
import { OriginFixture, PDT_BASE, RENDITION, removeDir, tempDir, waitFor } from './origin-fixture.ts'

const ROOM = 'recorded'
let dir: string | undefined
let origin: OriginFixture | undefined
let archiving: Relay | undefined
let plain: Relay | undefined
const logs: string[] = []

before(async () => {
  dir = await tempDir('recordings')
  origin = await OriginFixture.start({ dataDir: join(dir, 'origin'), room: ROOM })
  const options = { origins: [origin.address], rooms: [ROOM], http: { host: '127.0.0.1', port: 0 }, log: (line: string) => { logs.push(line) } }
  archiving = await startRelay({ ...options, dataDir: join(dir, 'archiving'), archive: true, recordingFetchTimeoutMs: 3_000, recordingRetryMs: 300 })
  plain = await startRelay({ ...options, dataDir: join(dir, 'plain') })
  await origin.waitForSubscriber(archiving.peerId)
  await origin.waitForSubscriber(plain.peerId)
})

after(async () => {
  await archiving?.stop()
  await plain?.stop()
  await origin?.stop()
  await removeDir(dir)
})

/**
 * A recording directory of `count` 2 s segments in the fixture's blockstore, laid out the way the
 * origin's session recorder does it: index.m3u8, 720p.m3u8 (with date-times) and 720p/<seq>.ts.
 */
async function storeRecording (count = 2, earlier: Array<{ cid: string, bytes: Uint8Array }> = []): Promise<{ cid: string, segments: Uint8Array[], cids: string[], stored: Array<{ cid: string, bytes: Uint8Array }> }> {
  const fs = unixfs(origin!.node)
  // The session so far (`earlier`), then new segments: a later interim recording of the same session.
  const segments = earlier.slice(0, count)
  while (segments.length < count) segments.push(await origin!.storeBlock(3000))
  let sub = await fs.addDirectory()
  for (const [seq, s] of segments.entries()) sub = await fs.cp(CID.parse(s.cid), sub, `${seq}.ts`)
  let root = await fs.cp(sub, await fs.addDirectory(), '720p')
  const entries = segments.map((s, seq) => ({ seq, cid: s.cid, duration: 2, pdt: PDT_BASE + seq * 2000, discontinuity: seq === 2, gap: false }))
  const playlist = renderMediaPlaylist({ entries, discontinuitySequence: 0, ended: true }, e => `720p/${e.seq}.ts`, { vod: true })
  root = await fs.cp(await fs.addBytes(new TextEncoder().encode(playlist), { rawLeaves: true }), root, '720p.m3u8')
  const master = renderMasterPlaylist([{ info: RENDITION, uri: '720p.m3u8' }])
  root = await fs.cp(await fs.addBytes(new TextEncoder().encode(master), { rawLeaves: true }), root, 'index.m3u8')
  return { cid: root.toString(), segments: segments.map(s => s.bytes), cids: segments.map(s => s.cid), stored: segments }
}

/** Every block of the DAG under `root` in the origin's store, by CID string. */
async function dagBlocks (root: string): Promise<Set<string>> {
  const seen = new Set<string>()
  const stack = [CID.parse(root)]
  while (stack.length > 0) {
    const cid = stack.pop()!
    if (seen.has(cid.toString())) continue
    seen.add(cid.toString())
    stack.push(...dagLinks(cid, await getBlock(origin!.node, cid, { signal: AbortSignal.timeout(5_000), offline: true })))
  }
  return seen
}

function recording (cid: string, fields: Partial<RecordingAnnouncement> = {}): RecordingAnnouncement {
  return { kind: 'recording', room: ROOM, cid, session: 'session-1', started: PDT_BASE, ended: PDT_BASE + 4000, duration: 4, segments: 2, final: true, ...fields }
}

test('a recording is listed by every relay, pinned and served by path only with --archive, and never enters the live window', async () => {
  const { cid, segments } = await storeRecording()
  const envelope = await signAnnouncement(recording(cid), origin!.identity.privateKey, origin!.identity.id)
  await origin!.publishBytes(encodeEnvelope(envelope))

  for (const relay of [archiving!, plain!]) {
    const listed = await waitFor('the recording in recordings.json', async () => {
      const body = await (await fetch(new URL(`rooms/${ROOM}/recordings.json`, relay.url))).json() as { recordings: Array<{ envelope: unknown, archive: string }> }
      return body.recordings.length > 0 ? body.recordings : undefined
    })
    assert.deepEqual(listed[0]!.envelope, envelope, 'the signed envelope is handed on unchanged')
  }
  await waitFor('the recording pinned', () => archiving!.status().recordings.pinned === 1)
  assert.equal(archiving!.status().recordings.pinnedBlocks, 6, 'root, rendition directory, two playlists and two segments')
  // No live window appears from it.
  assert.deepEqual(Object.keys(archiving!.status().rooms[ROOM]!.renditions), [])
  assert.equal((await fetch(new URL(`hls/${ROOM}/master.m3u8`, archiving!.url))).status, 503)

  const playlist = await fetch(new URL(`ipfs/${cid}/720p.m3u8`, archiving!.url))
  assert.equal(playlist.status, 200)
  assert.equal(playlist.headers.get('content-type'), 'application/vnd.apple.mpegurl')
  assert.match(playlist.headers.get('cache-control') ?? '', /immutable/)
  assert.match(await playlist.text(), /#EXT-X-ENDLIST/)
  const segment = await fetch(new URL(`ipfs/${cid}/720p/1.ts`, archiving!.url))
  assert.equal(segment.headers.get('content-type'), 'video/mp2t')
  assert.deepEqual(new Uint8Array(await segment.arrayBuffer()), segments[1])
  const ranged = await fetch(new URL(`ipfs/${cid}/720p/0.ts`, archiving!.url), { headers: { Range: 'bytes=0-9' } })
  assert.equal(ranged.status, 206)
  assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), segments[0]!.subarray(0, 10))
  assert.equal((await fetch(new URL(`ipfs/${cid}?format=raw`, archiving!.url))).status, 200, 'the directory block, raw')
  assert.equal((await fetch(new URL(`ipfs/${cid}`, archiving!.url))).status, 406, 'a directory is no segment: ask for a path or a CAR')
  assert.equal((await fetch(new URL(`ipfs/${cid}/720p/9.ts`, archiving!.url))).status, 404)
  assert.equal((await fetch(new URL(`ipfs/${cid}/720p`, archiving!.url))).status, 404, 'a directory is not a file')
  for (const junk of ['%2e%2e/720p.m3u8', '720p/%2F1.ts', '%ZZ', 'a/b/c/d/e', `${'x'.repeat(70)}`]) {
    assert.equal((await fetch(new URL(`ipfs/${cid}/${junk}`, archiving!.url))).status, 400, junk)
  }
  // The relay without --archive lists it but serves none of it.
  assert.equal(plain!.status().recordings.pinned, 0)
  assert.equal((await fetch(new URL(`ipfs/${cid}/720p.m3u8`, plain!.url))).status, 404)
  assert.equal((await fetch(new URL(`ipfs/${cid}?format=raw`, plain!.url))).status, 404)
  // Unfollowed rooms have no recordings list.
  assert.equal((await fetch(new URL('rooms/elsewhere/recordings.json', plain!.url))).status, 404)
})

test('a recording announcement signed by another key is rejected and not listed', async () => {
  const stranger = await loadOrCreateIdentity(join(dir!, 'stranger'))
  const { cid } = await storeRecording()
  const forged = await signAnnouncement(recording(cid, { session: 'forged' }), stranger.privateKey, stranger.id)
  const before = archiving!.status().rooms[ROOM]!.rejected['wrong-key'] ?? 0
  await origin!.publishBytes(encodeEnvelope(forged))
  await waitFor('the forgery counted', () => (archiving!.status().rooms[ROOM]!.rejected['wrong-key'] ?? 0) > before)
  const body = await (await fetch(new URL(`rooms/${ROOM}/recordings.json`, archiving!.url))).json() as { recordings: Array<{ envelope: { payload: string } }> }
  assert.ok(body.recordings.every(r => !r.envelope.payload.includes('forged')))
})

test('a pinned recording plays as VOD playlists naming each segment by its CID, cut to a talk by from/to', async () => {
  const { cid, segments, cids } = await storeRecording(5)
  const envelope = await signAnnouncement(recording(cid, { session: 'session-vod', ended: PDT_BASE + 10_000, duration: 10, segments: 5 }), origin!.identity.privateKey, origin!.identity.id)
  await origin!.publishBytes(encodeEnvelope(envelope))
  await waitFor('the recording pinned', () => archiving!.status().recordings.pinned === 2)
  const get = async (path: string, relay = archiving!): Promise<{ status: number, type: string | null, text: string }> => {
    const res = await fetch(new URL(path, relay.url))
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
  }
  const master = await get(`hls/recordings/${cid}/master.m3u8`)
  assert.equal(master.status, 200)
  assert.equal(master.type, 'application/vnd.apple.mpegurl')
  assert.match(master.text, /#EXT-X-STREAM-INF:.*\n720p\.m3u8\n/)
  const media = await get(`hls/recordings/${cid}/720p.m3u8`)
  assert.equal(media.status, 200)
  const uris = media.text.split('\n').filter(l => l.startsWith('/ipfs/'))
  assert.deepEqual(uris, cids.map((c, seq) => `/ipfs/${c}?filename=${seq}.ts`), 'every segment by its own CID, in order')
  assert.match(media.text, /#EXT-X-PLAYLIST-TYPE:VOD\n/)
  assert.match(media.text, /#EXT-X-ENDLIST\n$/)
  assert.match(media.text, /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:04:09.000Z\n/, 'discontinuities and date-times kept')
  for (const [i, uri] of uris.entries()) {
    const res = await fetch(new URL(uri, archiving!.url))
    assert.equal(res.status, 200, uri)
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), segments[i])
  }

  // One talk: from the middle of seq 1 to the start of seq 3 covers seq 1 and 2.
  const range = `from=${PDT_BASE + 3000}&to=${PDT_BASE + 6000}`
  const cutMaster = await get(`hls/recordings/${cid}/master.m3u8?${range}`)
  assert.match(cutMaster.text, new RegExp(`\\n720p\\.m3u8\\?${range}\\n`), 'the variant keeps the range')
  const cut = await get(`hls/recordings/${cid}/720p.m3u8?${range}`)
  assert.deepEqual(cut.text.split('\n').filter(l => l.startsWith('/ipfs/')), [1, 2].map(seq => `/ipfs/${cids[seq]}?filename=${seq}.ts`))
  assert.match(cut.text, /#EXT-X-MEDIA-SEQUENCE:1\n/)
  assert.equal((await get(`hls/recordings/${cid}/720p.m3u8?from=${PDT_BASE + 60_000}`)).status, 404, 'nothing in range')

  for (const [path, status, message] of [
    [`hls/recordings/${cid}/720p.m3u8?from=soon`, 400, /from="soon" is not a time/],
    [`hls/recordings/${cid}/720p.m3u8?from=5&to=5`, 400, /from=5 is not before to=5/],
    [`hls/recordings/${cids[0]}/master.m3u8`, 400, /not a recording's directory CID/],
    ['hls/recordings/nonsense/master.m3u8', 400, /not a recording's directory CID/],
    [`hls/recordings/${cid}/1080p.m3u8`, 404, /has no rendition "1080p"/],
    [`hls/recordings/${cid}/..%2Findex.m3u8`, 404, /not a playlist/],
    ['hls/recordings/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/master.m3u8', 404, /is not held here: no room this relay follows announced it/]
  ] as Array<[string, number, RegExp]>) {
    const res = await get(path)
    assert.equal(res.status, status, path)
    assert.match(res.text, message, path)
  }
  const unpinned = await get(`hls/recordings/${cid}/master.m3u8`, plain!)
  assert.equal(unpinned.status, 404)
  assert.match(unpinned.text, /does not pin recordings \(it runs without --archive\)/)
})

/** Waits until the archiving relay lists `session`'s recording as pinned. */
async function waitPinned (session: string, timeoutMs?: number): Promise<void> {
  await waitFor(`the recording of ${session} pinned`, async () => {
    const listed = await (await fetch(new URL(`rooms/${ROOM}/recordings.json`, archiving!.url))).json() as { recordings: Array<{ envelope: { payload: string }, archive: string }> }
    return listed.recordings.some(r => r.envelope.payload.includes(`"${session}"`) && r.archive === 'pinned')
  }, timeoutMs)
}

/** A CAR response's roots and blocks, each block checked against its CID. */
async function readCar (res: Response): Promise<{ roots: string[], blocks: string[] }> {
  const reader = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()))
  const blocks: string[] = []
  for await (const { cid, bytes } of reader.blocks()) {
    assert.deepEqual((await sha256.digest(bytes)).bytes, cid.multihash.bytes, `block ${cid.toString()} matches its CID`)
    blocks.push(cid.toString())
  }
  return { roots: (await reader.getRoots()).map(String), blocks }
}

test('a pinned recording is served as a CAR (depth first, each block once) by ?format=car or Accept', async () => {
  const { cid } = await storeRecording(3)
  const envelope = await signAnnouncement(recording(cid, { session: 'session-car', segments: 3 }), origin!.identity.privateKey, origin!.identity.id)
  await origin!.publishBytes(encodeEnvelope(envelope))
  await waitPinned('session-car')
  const res = await fetch(new URL(`ipfs/${cid}?format=car`, archiving!.url))
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=n')
  assert.match(res.headers.get('cache-control') ?? '', /immutable/)
  const car = await readCar(res)
  assert.deepEqual(car.roots, [cid])
  assert.equal(car.blocks[0], cid, 'the root first')
  assert.equal(car.blocks.length, 7, 'root, rendition directory, two playlists, three segments')
  assert.equal(new Set(car.blocks).size, car.blocks.length, 'no duplicates')
  const byAccept = await readCar(await fetch(new URL(`ipfs/${cid}`, archiving!.url), { headers: { Accept: 'application/vnd.ipld.car' } }))
  assert.deepEqual(byAccept.blocks, car.blocks)
  assert.deepEqual((await readCar(await fetch(new URL(`ipfs/${cid}?format=car&dag-scope=block`, archiving!.url)))).blocks, [cid])
  assert.deepEqual((await readCar(await fetch(new URL(`ipfs/${cid}?format=car&dag-scope=entity`, archiving!.url)))).blocks, [cid], 'a directory\'s entity is its own block')
  // Trustless Gateway: "Optional `path` is permitted for requests that specify CAR format": the blocks
  // that verify the path (the root directory), then the file's own DAG.
  const byPath = await fetch(new URL(`ipfs/${cid}/720p.m3u8?format=car`, archiving!.url))
  assert.equal(byPath.status, 200)
  const roots = (byPath.headers.get('x-ipfs-roots') ?? '').split(',')
  assert.equal(roots.length, 2, 'one logical root per path segment')
  const pathCar = await readCar(byPath)
  assert.deepEqual(pathCar.blocks, roots, 'the root directory, then the playlist')
  assert.equal(pathCar.blocks[0], cid)
  assert.equal((await fetch(new URL(`ipfs/${cid}/no-such.m3u8?format=car`, archiving!.url))).status, 404)
  assert.equal((await fetch(new URL(`ipfs/${cid}?format=tar`, archiving!.url))).status, 406)
  assert.equal((await fetch(new URL(`ipfs/${cid}?format=car`, plain!.url))).status, 404, 'not pinned there')
})

test('a recording pin that fails is retried with back-off until it succeeds', async () => {
  const { cid, cids } = await storeRecording(2)
  // The origin loses one segment for a while: the first pin attempt runs out of time.
  const lost = CID.parse(cids[1]!)
  const bytes = await origin!.node.blockstore.get(lost)
  const chunks: Uint8Array[] = []
  for await (const chunk of bytes as AsyncIterable<Uint8Array> | Iterable<Uint8Array>) chunks.push(chunk)
  await deleteBlock(origin!.node, lost)
  const envelope = await signAnnouncement(recording(cid, { session: 'session-retry' }), origin!.identity.privateKey, origin!.identity.id)
  await origin!.publishBytes(encodeEnvelope(envelope))
  const failedBefore = archiving!.status().recordings.failed
  await waitFor('the first attempt to fail', () => archiving!.status().recordings.failed > failedBefore)
  assert.ok(logs.some(line => line.includes(`recording ${cid}: not pinned`) && /retrying in \d+ s/.test(line)))
  await origin!.node.blockstore.put(lost, Buffer.concat(chunks))
  await waitPinned('session-retry', 20_000)
  assert.equal((await fetch(new URL(`hls/recordings/${cid}/master.m3u8`, archiving!.url))).status, 200)
})

test('a session\'s next recording pins only its new blocks, not the whole session again', async () => {
  const first = await storeRecording(6)
  await origin!.publishBytes(encodeEnvelope(await signAnnouncement(recording(first.cid, { session: 'session-growing', final: false, segments: 6 }), origin!.identity.privateKey, origin!.identity.id)))
  await waitPinned('session-growing', 20_000)
  // Ten seconds later: the same six segments and two new ones, in new directories and playlists.
  const second = await storeRecording(8, first.stored)
  await origin!.publishBytes(encodeEnvelope(await signAnnouncement(recording(second.cid, { session: 'session-growing', final: false, segments: 8 }), origin!.identity.privateKey, origin!.identity.id)))
  const pinnedLine = await waitFor('the second recording pinned', () => logs.find(line => line.startsWith(`recording ${second.cid}: pinned `)))
  const before = await dagBlocks(first.cid)
  const added = [...await dagBlocks(second.cid)].filter(cid => !before.has(cid))
  const fetched = Number(/pinned (\d+) new blocks/.exec(pinnedLine)?.[1])
  assert.equal(fetched, added.length, `only the ${added.length} blocks the first recording lacks are fetched: ${pinnedLine}`)
  assert.ok(added.length < before.size, 'the test recording shares most of its blocks with the first one')
  for (const [seq, bytes] of second.segments.entries()) {
    const res = await fetch(new URL(`ipfs/${second.cid}/720p/${seq}.ts`, archiving!.url))
    assert.equal(res.status, 200, `segment ${seq} of the second recording is served`)
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes)
  }
})

test('a withdrawal of recording consent unlists and unpins the recordings it names, deletes the range\'s segments, and keeps them out after a restart', async () => {
  const first = await storeRecording(6)
  const announced = recording(first.cid, { session: 'session-consent', final: false, segments: 6, ended: PDT_BASE + 12_000, duration: 12 })
  await origin!.publishBytes(encodeEnvelope(await signAnnouncement(announced, origin!.identity.privateKey, origin!.identity.id)))
  await waitPinned('session-consent', 20_000)
  assert.equal((await fetch(new URL(`ipfs/${first.cid}/720p/2.ts`, archiving!.url))).status, 200)

  // The talk from 4 s to 8 s (segments 2 and 3) opts out after the recording was pinned.
  const withdrawal = { kind: 'withdrawal' as const, room: ROOM, session: 'session-consent', from: PDT_BASE + 4000, to: PDT_BASE + 8000, recordings: [first.cid], at: Date.now() }
  await origin!.publishBytes(encodeEnvelope(await signAnnouncement(withdrawal, origin!.identity.privateKey, origin!.identity.id)))
  await waitFor('the withdrawn recording unlisted', async () => {
    const listed = await (await fetch(new URL(`rooms/${ROOM}/recordings.json`, archiving!.url))).json() as { recordings: Array<{ envelope: { payload: string } }> }
    return !listed.recordings.some(r => r.envelope.payload.includes(first.cid))
  })
  await waitFor('the withdrawal applied', () => archiving!.status().recordings.withdrawnSegments === 2)
  for (const seq of [2, 3]) {
    assert.equal((await fetch(new URL(`ipfs/${first.cid}/720p/${seq}.ts`, archiving!.url))).status, 404, `segment ${seq} is not served by path`)
    assert.equal((await fetch(new URL(`ipfs/${first.cids[seq]!}?format=raw`, archiving!.url))).status, 404, `segment ${seq} is not served by CID`)
  }

  // Another recording linking a withdrawn segment is never pinned; one without the range is.
  const linking = await storeRecording(4, first.stored)
  await origin!.publishBytes(encodeEnvelope(await signAnnouncement(recording(linking.cid, { session: 'session-linking', final: false, segments: 4 }), origin!.identity.privateKey, origin!.identity.id)))
  await waitFor('the linking recording refused', () => logs.some(line => line.includes(`recording ${linking.cid}: not pinned: it links`)))
  const clean = await storeRecording(2, first.stored)
  await origin!.publishBytes(encodeEnvelope(await signAnnouncement(recording(clean.cid, { session: 'session-clean', final: false, segments: 2 }), origin!.identity.privateKey, origin!.identity.id)))
  await waitPinned('session-clean', 20_000)

  // A restarted relay still refuses the withdrawn recording when it is announced again.
  const dataDir = join(dir!, 'archiving')
  await archiving!.stop()
  archiving = await startRelay({ origins: [origin!.address], rooms: [ROOM], http: { host: '127.0.0.1', port: 0 }, log: (line: string) => { logs.push(line) }, dataDir, archive: true, recordingFetchTimeoutMs: 3_000, recordingRetryMs: 300 })
  await origin!.waitForSubscriber(archiving.peerId)
  const replayed = recording(first.cid, { session: 'session-consent', final: true, segments: 6, ended: PDT_BASE + 12_000, duration: 12 })
  await origin!.publishBytes(encodeEnvelope(await signAnnouncement(replayed, origin!.identity.privateKey, origin!.identity.id)))
  await waitFor('the replay refused', () => logs.some(line => line.includes(`recording ${first.cid} was withdrawn; not listed or pinned`)))
  assert.equal((await fetch(new URL(`ipfs/${first.cids[2]!}?format=raw`, archiving.url))).status, 404)
})
