import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { isHivecastError, listedEnvelopes, parseRelayStatus, relayRoutes, relayUrl, verifyDirectoryEnvelope, verifyEnvelope, verifyRoomMessage } from '../src/index.ts'
import type { WindowJson } from '../src/index.ts'

test('route builders give the relay paths and refuse names no relay serves', () => {
  assert.equal(relayUrl('http://127.0.0.1:8081/', relayRoutes.status()), 'http://127.0.0.1:8081/status')
  assert.equal(relayUrl('http://127.0.0.1:8081', relayRoutes.window('janson')), 'http://127.0.0.1:8081/rooms/janson/window.json')
  assert.equal(relayRoutes.thumbnail('k1105', 1700000000000.7), '/rooms/k1105/thumbnail.jpg?at=1700000000000')
  assert.equal(relayRoutes.mediaPlaylist('janson', 'av1-480p'), '/hls/janson/av1-480p.m3u8')
  assert.equal(relayRoutes.recordingMaster('bafy', { from: 1000, to: 2000 }), '/hls/recordings/bafy/master.m3u8?from=1000&to=2000')
  assert.equal(relayRoutes.recordingFile('bafy', ['720p', 'index.m3u8']), '/ipfs/bafy/720p/index.m3u8')
  assert.throws(() => relayRoutes.window('../status'), (err: unknown) => isHivecastError(err, 'INVALID_ROOM'))
  assert.throws(() => relayRoutes.mediaPlaylist('janson', 'x/../y'), (err: unknown) => isHivecastError(err, 'INVALID_RENDITION'))
})

test('parseRelayStatus keeps well-formed fields and reads malformed ones as empty', () => {
  assert.equal(parseRelayStatus(null), undefined)
  assert.equal(parseRelayStatus({ rooms: {} }), undefined)
  const status = parseRelayStatus({
    peerId: '12D3KooWabc',
    bytesServed: -5,
    requests: 'many',
    viewers: 3,
    rooms: {
      janson: { keys: ['k', 7], thumbnail: { cid: 'bafk', at: 10 }, renditions: { '720p': { storedAt: 99, held: 4, listed: 'x' }, bad: 'nope' }, viewers: { local: 2, network: 5 } },
      k1105: 'not a room'
    },
    viewerSwarm: { multiaddrs: ['/ip4/127.0.0.1/tcp/1/ws/p2p/x', 5], viewers: { janson: 2 }, received: { janson: { relays: 10, peers: 'x' } } },
    extra: { ignored: true }
  })
  assert.ok(status !== undefined)
  assert.equal(status.bytesServed, 0)
  assert.equal(status.requests, 0)
  assert.equal(status.viewers, 3)
  assert.deepEqual(status.multiaddrs, [])
  assert.deepEqual(Object.keys(status.rooms), ['janson', 'k1105'])
  assert.deepEqual(status.rooms.janson, { keys: ['k'], thumbnail: { cid: 'bafk', at: 10 }, renditions: { '720p': { latestSeq: null, listed: 0, storedAt: 99, held: 4, behind: 0 } }, viewers: { local: 2, network: 5 } })
  assert.deepEqual(status.rooms.k1105, { keys: [], thumbnail: null, renditions: {}, viewers: { local: 0, network: 0 } })
  assert.deepEqual(status.viewerSwarm, { multiaddrs: ['/ip4/127.0.0.1/tcp/1/ws/p2p/x'], viewers: { janson: 2 }, received: { janson: { relays: 10, peers: 0 } } })
})

test('parseRelayStatus bounds what a hostile relay can make a reader hold', () => {
  const rooms = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`r${i}`, {}]))
  const status = parseRelayStatus({ peerId: 'p', rooms, multiaddrs: Array.from({ length: 1000 }, () => 'x'.repeat(300)) })
  assert.equal(Object.keys(status?.rooms ?? {}).length, 64)
  assert.deepEqual(status?.multiaddrs, [])
})

test('listedEnvelopes takes the envelopes of a directory or recordings answer, bounded', () => {
  assert.deepEqual(listedEnvelopes({ relays: [{ envelope: 1 }, {}, 'x', { envelope: 2 }, { envelope: 3 }] }, 'relays', 4), [1, 2])
  assert.deepEqual(listedEnvelopes({ recordings: 'no' }, 'recordings', 10), [])
  assert.deepEqual(listedEnvelopes(null, 'relays', 10), [])
})

/** What a real relay answered on the contract's routes (fixtures/capture-relay-contract.ts made it). */
interface Captured {
  room: string
  roomKey: string
  answers: Record<string, unknown>
}

const captured = JSON.parse(await readFile(new URL('fixtures/relay-contract.json', import.meta.url), 'utf8')) as Captured

/** Every key of a parsed document is in the raw one: the schema names fields the relay sends, none read as a default. */
function assertSentByRelay (parsed: object, raw: unknown, where: string): void {
  assert.ok(typeof raw === 'object' && raw !== null, `${where} is an object`)
  for (const [key, value] of Object.entries(parsed)) {
    assert.ok(key in raw, `the relay sends ${where}.${key}`)
    const sent = (raw as Record<string, unknown>)[key]
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) assertSentByRelay(value, sent, `${where}.${key}`)
  }
}

test('a real relay answers on the paths the route builders give', () => {
  const { room, answers } = captured
  assert.deepEqual(Object.keys(answers), [relayRoutes.status(), relayRoutes.directory(), relayRoutes.window(room), relayRoutes.recordings(room)])
})

test('a real relay\'s /status parses with every contract field as the relay sent it', () => {
  const raw = captured.answers[relayRoutes.status()]
  const status = parseRelayStatus(raw)
  assert.ok(status !== undefined, 'a relay status')
  assertSentByRelay(status, raw, 'status')
  assert.ok(status.multiaddrs.length > 0 && status.multiaddrs.every(a => a.endsWith(`/p2p/${status.peerId}`)), 'libp2p addresses end in the relay\'s peer id')
  assert.ok(status.viewerSwarm.multiaddrs.every(a => a.includes('/ws/')), 'viewers dial WebSocket addresses')
  const room = status.rooms[captured.room]
  assert.ok(room !== undefined, 'the followed room is listed')
  assert.deepEqual(room.keys, [captured.roomKey])
  assert.ok(room.thumbnail !== null && room.thumbnail.cid.startsWith('baf'), 'the room\'s thumbnail')
  const rendition = room.renditions['240p']
  assert.ok(rendition !== undefined && rendition.held >= 3 && rendition.storedAt !== null && rendition.latestSeq !== null, `the rendition's state: ${JSON.stringify(rendition)}`)
})

test('a real relay\'s window, directory and recordings carry envelopes that verify', async () => {
  const { room, roomKey, answers } = captured
  const window = answers[relayRoutes.window(room)] as WindowJson
  assert.equal(window.room, room)
  const entries = Object.values(window.renditions).flat()
  assert.ok(entries.length >= 3, 'the window lists segments')
  for (const entry of entries) {
    const verified = await verifyEnvelope(entry.envelope, [roomKey])
    assert.ok(verified.ok && verified.value.announcement.room === room, 'each window entry is a segment signed by the room key')
    assert.ok(entry.storedAt === null || Number.isFinite(entry.storedAt))
  }
  const status = parseRelayStatus(answers[relayRoutes.status()])
  const relays = listedEnvelopes(answers[relayRoutes.directory()], 'relays', 10)
  assert.equal(relays.length, 1)
  const record = await verifyDirectoryEnvelope(relays[0])
  assert.ok(record.ok && record.value.record.peerId === status?.peerId, 'the directory lists the relay, signed by itself')
  const recordings = listedEnvelopes(answers[relayRoutes.recordings(room)], 'recordings', 10)
  assert.ok(recordings.length > 0)
  for (const envelope of recordings) {
    const verified = await verifyRoomMessage(envelope, [roomKey])
    assert.ok(verified.ok && verified.value.announcement.kind === 'recording', 'each recording is announced by the room key')
  }
})
