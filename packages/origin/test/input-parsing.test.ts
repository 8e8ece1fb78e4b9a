/** The pure parts of ingest: --input URLs, the RTMP gate's chunk reader, ffmpeg -progress reading. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ProgressReader } from '../src/ffmpeg-progress.ts'
import type { FfmpegProgress } from '../src/ffmpeg-progress.ts'
import { ChunkReader, MessageType, RtmpProtocolError, decodeAmf0, encodeAmf0, encodeMessage, overwritePayload } from '../src/rtmp-chunk-stream.ts'
import { describeInput, parseInputUrl, prepareInput } from '../src/stream-input.ts'

test('--input URLs become checked input descriptors', () => {
  assert.deepEqual(parseInputUrl('test-pattern'), { kind: 'test-pattern' })
  assert.deepEqual(parseInputUrl('file:talk.mp4'), { kind: 'file', path: 'talk.mp4' })
  assert.deepEqual(parseInputUrl('file:///srv/talk.mp4'), { kind: 'file', path: '/srv/talk.mp4' })
  assert.deepEqual(parseInputUrl('rtmp://0.0.0.0:1935/live/abcdefgh-123'), { kind: 'rtmp', listen: '0.0.0.0:1935', key: 'abcdefgh-123' })
  assert.deepEqual(parseInputUrl('srt://0.0.0.0:9000?mode=listener&passphrase=0123456789ab'), { kind: 'srt', mode: 'listener', address: '0.0.0.0:9000', passphrase: '0123456789ab' })
  assert.deepEqual(parseInputUrl('srt://mixer.local:9000'), { kind: 'srt', mode: 'caller', address: 'mixer.local:9000' })
  assert.deepEqual(parseInputUrl('udp://239.0.0.1:5000'), { kind: 'udp', listen: '239.0.0.1:5000' })
  assert.deepEqual(parseInputUrl('tcp://[::]:9001'), { kind: 'tcp', listen: '[::]:9001' })
  assert.deepEqual(parseInputUrl('https://enc.local/live.ts'), { kind: 'http', url: 'https://enc.local/live.ts' })
  assert.throws(() => parseInputUrl('rtmp://0.0.0.0:1935/app/key'), /rtmp:\/\/<listen host:port>\/live\/<stream key>/)
  assert.throws(() => parseInputUrl('rtmp://0.0.0.0:1935/live'), /HIVECAST_RTMP_KEY/)
  assert.deepEqual(parseInputUrl('rtmp://0.0.0.0:1935/live', { rtmpKey: 'from-the-env' }), { kind: 'rtmp', listen: '0.0.0.0:1935', key: 'from-the-env' })
  assert.deepEqual(parseInputUrl('srt://0.0.0.0:9000?mode=listener', { srtPassphrase: '0123456789ab' }), { kind: 'srt', mode: 'listener', address: '0.0.0.0:9000', passphrase: '0123456789ab' })
  assert.throws(() => parseInputUrl('rtmp://0.0.0.0:1935/live/short'), /not a usable stream key/)
  assert.throws(() => parseInputUrl('srt://h:1?mode=rendezvous'), /mode must be listener or caller/)
  assert.throws(() => parseInputUrl('srt://h:1?passphrase=short'), /not a usable SRT passphrase/)
  assert.throws(() => parseInputUrl('udp://239.0.0.1'), /input\.listen "239\.0\.0\.1" is not host:port/)
  assert.throws(() => parseInputUrl('ndi://x:1'), /unknown scheme ndi:\/\//)
  assert.throws(() => parseInputUrl('talk.mp4'), /use test-pattern, file:<path>/)
})

test('multicast UDP is joined by address; secrets stay out of descriptions and ffmpeg\'s RTMP URL', () => {
  const ctx = { room: 'r', width: 426, height: 240, frameRate: 30, now: new Date(), font: undefined, rtmpInternalPort: 40000 }
  assert.match(describeInput({ kind: 'udp', listen: '239.0.0.1:5000' }), /\(multicast\)/)
  assert.doesNotMatch(describeInput({ kind: 'udp', listen: '127.0.0.1:5000' }), /multicast/)
  assert.ok(prepareInput({ kind: 'udp', listen: '239.0.0.1:5000' }, ctx).args.some(a => a.startsWith('udp://239.0.0.1:5000?')))
  const rtmp = { kind: 'rtmp', listen: '0.0.0.0:1935', key: 'secret-stream-key' } as const
  assert.doesNotMatch(describeInput(rtmp), /secret/)
  assert.ok(!prepareInput(rtmp, ctx).args.join(' ').includes('secret'), 'ffmpeg listens for a placeholder name')
  const srt = { kind: 'srt', mode: 'listener', address: '0.0.0.0:9000', passphrase: 'secret-passphrase' } as const
  assert.equal(describeInput(srt), 'SRT listener on 0.0.0.0:9000 (encrypted)')
  assert.doesNotMatch(describeInput({ kind: 'http', url: 'http://u:secret@enc.local/live.ts?token=secret' }), /secret/)
})

test('the RTMP chunk reader reassembles split commands, follows Set Chunk Size and maps the name back to the raw bytes', () => {
  const setChunkSize = encodeMessage(2, MessageType.setChunkSize, 0, Buffer.from([0, 0, 0, 8]))
  const publish = encodeMessage(8, MessageType.amf0Command, 1, encodeAmf0(['publish', 5, null, 'the-key', 'live']), 8)
  const raw = Buffer.concat([setChunkSize, publish])
  const reader = new ChunkReader(4096)
  const messages = [...reader.push(raw.subarray(0, 20)), ...reader.push(raw.subarray(20))]
  assert.equal(messages.length, 2)
  const { values, offsets } = decodeAmf0(messages[1]!.payload)
  assert.deepEqual(values, ['publish', 5, null, 'the-key', 'live'])
  overwritePayload(raw, messages[1]!, offsets[3]! + 3, Buffer.from('xxxxxxx'))
  assert.ok(!raw.includes('the-key') && raw.toString('latin1').replace(/[^a-z-]/g, '').includes('xxxxxxx'))
  assert.throws(() => new ChunkReader(100).push(encodeMessage(3, MessageType.amf0Command, 0, Buffer.alloc(200))), RtmpProtocolError)
  assert.throws(() => new ChunkReader(100).push(Buffer.from([0xc3])), /before any format-0 chunk/)
  assert.throws(() => decodeAmf0(Buffer.from([0x02, 0, 9, 0x61])), /past the end/)
})

test('ffmpeg -progress blocks become rates from frame and out_time deltas; junk is skipped', () => {
  const seen: FfmpegProgress[] = []
  let now = 0
  const reader = new ProgressReader(p => seen.push(p), () => now)
  const block = (frame: string, outUs: string): string => `frame=${frame}\nfps=0.00\nbitrate=N/A\nout_time_us=${outUs}\nspeed=N/A\nprogress=continue\n`
  reader.push(block('0', 'N/A'))
  assert.equal(reader.invalid, 1, 'N/A is not a number')
  reader.push(block('30', '1000000'))
  now = 1000
  const second = block('60', '2000000')
  reader.push(second.slice(0, 20))
  reader.push(second.slice(20))
  now = 1200
  reader.push(block('66', '2200000'))
  now = 2000
  reader.push('garbage line\n' + block('90', '3000000'))
  assert.deepEqual(seen, [{ fps: 30, speed: 1 }, { fps: 30, speed: 1 }])
  assert.equal(reader.invalid, 2)
})
