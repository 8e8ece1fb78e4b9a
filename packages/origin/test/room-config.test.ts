import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseRoomConfig, pickRoom } from '../src/room-config.ts'

const GOOD = `
rooms:
  - slug: janson
    title: Janson (main hall)
    input: { kind: rtmp, listen: 0.0.0.0:1935, key: change-me-to-a-secret }
    renditions: [source, 720p, 360p]
    segmentDuration: 2
    thumbnailInterval: 5
    roomKeys: [12D3KooWGzBRyjJC3ZSHaVFqD2ckhv3uq8TL4GvovEaoyvxXbHJw]
    slate: slates/brb.png
    data: ./janson-data
    http: 127.0.0.1:8090
    listen: [/ip4/0.0.0.0/tcp/9090]
  - slug: k1105
    input: { kind: srt, mode: listener, address: 0.0.0.0:9000, passphrase: another-long-secret }
  - slug: h2215
    input: { kind: file, path: talks/rehearsal.mp4 }
  - slug: aw1120
`

test('a rooms file is read with every field, relative paths taken from its directory', () => {
  const rooms = parseRoomConfig(GOOD, '/etc/hivecast/rooms.yaml')
  assert.deepEqual(rooms[0], {
    slug: 'janson',
    title: 'Janson (main hall)',
    input: { kind: 'rtmp', listen: '0.0.0.0:1935', key: 'change-me-to-a-secret' },
    renditions: ['source', '720p', '360p'],
    segmentDuration: 2,
    thumbnailInterval: 5,
    roomKeys: ['12D3KooWGzBRyjJC3ZSHaVFqD2ckhv3uq8TL4GvovEaoyvxXbHJw'],
    slate: '/etc/hivecast/slates/brb.png',
    data: '/etc/hivecast/janson-data',
    http: '127.0.0.1:8090',
    listen: ['/ip4/0.0.0.0/tcp/9090']
  })
  assert.deepEqual(rooms[1]?.input, { kind: 'srt', mode: 'listener', address: '0.0.0.0:9000', passphrase: 'another-long-secret' })
  assert.deepEqual(rooms[2]?.input, { kind: 'file', path: '/etc/hivecast/talks/rehearsal.mp4' })
  assert.deepEqual(rooms[3], { slug: 'aw1120' })
  assert.equal(pickRoom(rooms, 'k1105', 'rooms.yaml').slug, 'k1105')
  assert.throws(() => pickRoom(rooms, undefined, 'rooms.yaml'), /rooms\.yaml lists several rooms \(janson, k1105, h2215, aw1120\): choose one with --room/)
  assert.throws(() => pickRoom(rooms, 'nope', 'rooms.yaml'), /--room nope is not in rooms\.yaml, which lists janson/)
  assert.equal(pickRoom(rooms.slice(0, 1), undefined, 'rooms.yaml').slug, 'janson')
})

test('a room\'s audio tracks are read and checked: language tag, stream after the program\'s, one per language', () => {
  const yaml = (tracks: string): string => `rooms:\n  - slug: janson\n    renditions: [360p, audio]\n    audioTracks: ${tracks}\n`
  const [room] = parseRoomConfig(yaml('[{ language: de, name: Deutsch (interpretation), stream: 1 }]'), 'rooms.yaml')
  assert.deepEqual(room?.audioTracks, [{ language: 'de', name: 'Deutsch (interpretation)', stream: 1 }])
  assert.throws(() => parseRoomConfig(yaml('[{ language: German, name: x, stream: 1 }]'), 'rooms.yaml'), /rooms\[0\]\.audioTracks: .*not a language tag/)
  assert.throws(() => parseRoomConfig(yaml('[{ language: de, name: x, stream: 0 }]'), 'rooms.yaml'), /rooms\[0\]\.audioTracks: .*0 is the program's own sound/)
  assert.throws(() => parseRoomConfig(yaml('[{ language: de, name: x, stream: 1 }, { language: de, name: y, stream: 2 }]'), 'rooms.yaml'), /"de" is listed twice/)
  assert.throws(() => parseRoomConfig(yaml('[{ language: de, name: x }]'), 'rooms.yaml'), /stream/)
})

for (const [why, yaml, message] of [
  ['broken YAML', 'rooms: [', /rooms\.yaml is not valid YAML: .*Fix the line it names/],
  ['no rooms', 'rooms: []', /rooms\.yaml: rooms must list at least one room/],
  ['an unknown top-level field', 'room: []', /rooms\.yaml: rooms is missing: the file has one top-level field, rooms/],
  ['a missing slug', 'rooms: [{ title: x }]', /rooms\[0\]\.slug is missing: a room has slug, title/],
  ['a bad slug', 'rooms: [{ slug: Bad Room }]', /rooms\[0\]\.slug: invalid room name "Bad Room"/],
  ['a repeated slug', 'rooms: [{ slug: a }, { slug: a }]', /rooms\[1\]\.slug "a" is listed twice/],
  ['an unknown input kind', 'rooms: [{ slug: a, input: { kind: ndi } }]', /rooms\[0\]\.input\.kind must have a kind, one of test-pattern, file, rtmp, srt, udp, tcp, http/],
  ['an rtmp input without a key', 'rooms: [{ slug: a, input: { kind: rtmp, listen: "0.0.0.0:1935" } }]', /rooms\[0\]\.input\.key is missing: an rtmp input has kind, listen and key/],
  ['a short stream key', 'rooms: [{ slug: a, input: { kind: rtmp, listen: "0.0.0.0:1935", key: abc } }]', /rooms\[0\]\.input\.key: is not a usable stream key: use 8 to 64 letters/],
  ['a bad SRT mode', 'rooms: [{ slug: a, input: { kind: srt, mode: rendezvous, address: "h:1" } }]', /rooms\[0\]\.input\.mode must be listener .* or caller/],
  ['a short SRT passphrase', 'rooms: [{ slug: a, input: { kind: srt, mode: caller, address: "h:1", passphrase: short } }]', /rooms\[0\]\.input\.passphrase: is not a usable SRT passphrase/],
  ['a udp address without a port', 'rooms: [{ slug: a, input: { kind: udp, listen: 239.0.0.1 } }]', /rooms\[0\]\.input\.listen: "239\.0\.0\.1" is not host:port: use e\.g\. 0\.0\.0\.0:1935/],
  ['a field of another kind', 'rooms: [{ slug: a, input: { kind: tcp, listen: "0.0.0.0:1", key: x } }]', /rooms\[0\]\.input\.key is not a known field: a tcp input has kind and listen/],
  ['an unknown rendition', 'rooms: [{ slug: a, renditions: [4k] }]', /rooms\[0\]\.renditions: unknown rendition "4k"/],
  ['a bad segment duration', 'rooms: [{ slug: a, segmentDuration: 11 }]', /rooms\[0\]\.segmentDuration: invalid segment duration 11/],
  ['a duration given as text', 'rooms: [{ slug: a, segmentDuration: two }]', /rooms\[0\]\.segmentDuration must be a number of seconds/],
  ['a bad http address', 'rooms: [{ slug: a, http: localhost }]', /rooms\[0\]\.http: "localhost" is not host:port/],
  ['a thumbnail interval of half a second', 'rooms: [{ slug: a, thumbnailInterval: 0.5 }]', /rooms\[0\]\.thumbnailInterval: invalid thumbnail interval 0\.5: use seconds between 1 and 3600, e\.g\. 10, or 0 for no thumbnails/],
  ['a room key that is no peer id', 'rooms: [{ slug: a, roomKeys: [not-a-key] }]', /rooms\[0\]\.roomKeys\[0\]: room key "not-a-key" is not an Ed25519 peer id: copy the "room key: 12D3KooW\.\.\." line/],
  ['an empty slate', 'rooms: [{ slug: a, slate: "" }]', /rooms\[0\]\.slate must not be empty: give a path to a video or image file/],
  ['the AV1 rendition twice', 'rooms: [{ slug: a, renditions: [720p, av1, av1-720p] }]', /rooms\[0\]\.renditions: rendition "av1-720p" is listed twice/],
  ['an unknown room field', 'rooms: [{ slug: a, bitrate: 5 }]', /rooms\[0\]\.bitrate is not a known field: a room has slug, title, input/]
] as const) {
  test(`a rooms file with ${why} is refused, naming the field and the fix`, () => {
    assert.throws(() => parseRoomConfig(yaml, 'rooms.yaml'), message)
  })
}
