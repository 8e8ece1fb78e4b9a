/**
 * The rendition ladder: H.264 passthrough next to x264 renditions that keep the source's frame rate,
 * described in the announcements from the segments themselves, and the room thumbnail, announced
 * signed and fetchable by CID. Real ffmpeg, real libp2p.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import { verifyRawBlock } from '@hivecast/shared'
import { getBlock } from '@hivecast/shared/node'
import { eventually } from '@hivecast/devnet'
import { DEFAULT_RENDITIONS, ladderArgs, parseAudioTrack, resolveRenditions, startOrigin } from '../src/index.ts'
import type { Origin } from '../src/index.ts'
import { avc1FromBytes, parseFrameRate } from '../src/segment-probe.ts'
import { jpegSize } from '../src/thumbnail-publisher.ts'
import { listenToRoom, scratch } from './room-listener.ts'

const run = promisify(execFile)
const ROOM = 'ladder-test'

const INPUT = { args: ['-i', 'in.ts'], videoPad: '[0:v:0]', videoFilters: [], audioStreamMap: (stream: number) => `0:a:${stream}`, description: 'a file' }

test('the default ladder is 720p, 480p, 360p; source/copy passes H.264 through; AV1 comes last; unknown names say why not', () => {
  assert.deepEqual(DEFAULT_RENDITIONS, ['720p', '480p', '360p'])
  assert.deepEqual(resolveRenditions(['360p', 'copy', '720p']).map(p => p.name), ['source', '720p', '360p'], 'passthrough first, then best first')
  assert.deepEqual(resolveRenditions(['av1-360p', '240p', 'av1', '720p']).map(p => p.name), ['720p', '240p', 'av1-720p', 'av1-360p'], 'H.264 best first, then AV1 best first')
  assert.throws(() => resolveRenditions(['source', 'copy']), /rendition "copy" is listed twice/)
  assert.throws(() => resolveRenditions(['4k']), /unknown rendition "4k": use one or more of source, 1080p, .* \(copy = source, av1 = av1-720p\)/)
})

test('the audio-only variant and interpretation tracks are AAC variants of the MPEG-TS output, after the video, before AV1', () => {
  const tracks = [{ language: 'de', name: 'Deutsch (interpretation)', stream: 1 }, { language: 'fr', name: 'Français', stream: 2 }]
  const ladder = resolveRenditions(['av1-360p', 'audio', '360p'], tracks)
  assert.deepEqual(ladder.map(p => p.name), ['360p', 'audio', 'audio-de', 'audio-fr', 'av1-360p'])
  const args = ladderArgs({ input: INPUT, renditions: ladder, segmentDuration: 1, hlsDir: '/h', runId: 1 })
  assert.equal(args[args.indexOf('-var_stream_map') + 1], 'v:0,a:0 a:1 a:2 a:3')
  const maps = args.flatMap((a, i) => a === '-map' ? [args[i + 1]] : [])
  assert.deepEqual(maps, ['[v0]', '0:a:0', '0:a:0', '0:a:1', '0:a:2', '[v4]', '0:a:0'], 'each track its own input stream; the audio-only variant the program\'s')
  assert.ok(!args.includes('-c:v:1'), 'no video encoder for an audio-only variant')
  assert.throws(() => resolveRenditions(['audio']), /add a video rendition/)
  assert.throws(() => resolveRenditions(['360p'], [tracks[0]!, { ...tracks[0]!, stream: 3 }]), /"de" is listed twice/)
  assert.throws(() => resolveRenditions(['360p'], [{ ...tracks[0]!, stream: 0 }]), /0 is the program's own sound/)
  assert.throws(() => parseAudioTrack('de:Deutsch'), /not <language>:<name>:<stream>/)
  assert.deepEqual(parseAudioTrack('pt-BR:Português: intérprete:3'), { language: 'pt-BR', name: 'Português: intérprete', stream: 3 })
  assert.throws(() => parseAudioTrack('Deutsch:x:1'), /not a language tag/)
})

test('ffmpeg arguments with parts on: each MPEG-TS rendition one continuous MPEG-TS on its own pipe, AV1 still HLS', () => {
  const ladder = resolveRenditions(['source', '360p', 'audio', 'av1-360p'])
  const args = ladderArgs({ input: INPUT, renditions: ladder, segmentDuration: 1, hlsDir: '/h', runId: 1, continuous: true, timestampOffset: 1765000000.5 })
  assert.deepEqual(args.flatMap((a, i) => a === '-f' ? [args[i + 1]] : []), ['mpegts', 'mpegts', 'mpegts', 'hls'])
  assert.deepEqual(args.filter(a => a.startsWith('pipe:')), ['pipe:3', 'pipe:4', 'pipe:5'], 'renditions 0-2 on descriptors 3-5')
  assert.ok(!args.includes('-var_stream_map'), 'no HLS muxer for the MPEG-TS renditions')
  assert.equal(args.filter(a => a === '-flush_packets').length, 3, 'every frame leaves at once')
  assert.equal(args.filter(a => a === '-output_ts_offset').length, 4, 'every output on the room\'s timeline')
  const first = args.slice(0, args.indexOf('pipe:3'))
  assert.deepEqual(first.filter((a, i) => first[i - 1] === '-map'), ['0:v:0', '0:a:0'], 'the passthrough: the input\'s video and the program\'s sound')
  assert.equal(first[first.indexOf('-c:v:0') + 1], 'copy')
  const encoded = args.slice(args.indexOf('pipe:3') + 1, args.indexOf('pipe:4'))
  assert.equal(encoded[encoded.indexOf('-tune:v:0') + 1], 'zerolatency', 'x264 without lookahead for parts')
  assert.ok(!first.includes('-tune:v:0'), 'nothing to tune in a passthrough')
  assert.ok(!ladderArgs({ input: INPUT, renditions: ladder, segmentDuration: 1, hlsDir: '/h', runId: 1 }).some(a => a.startsWith('-tune')), 'without parts x264 keeps its lookahead')
  const audio = args.slice(args.indexOf('pipe:4') + 1, args.indexOf('pipe:5'))
  assert.ok(!audio.some(a => a.startsWith('-c:v')), 'no video encoder for the audio-only rendition')
})

test('ffmpeg arguments: copy for the passthrough, x264 keyed on the source\'s keyframes, no forced frame rate', () => {
  const args = ladderArgs({ input: INPUT, renditions: resolveRenditions(['source', '360p']), segmentDuration: 1, hlsDir: '/h', runId: 1 })
  const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1]
  assert.equal(after('-c:v:0'), 'copy')
  assert.equal(after('-c:v:1'), 'libx264')
  assert.equal(after('-force_key_frames:v:1'), 'source', 'x264 cuts where the passthrough can')
  assert.deepEqual(args.filter(a => a === '-map'), ['-map', '-map', '-map', '-map'])
  assert.equal(args[args.indexOf('-map') + 1], '0:v:0', 'the passthrough maps the input video, unfiltered')
  assert.ok(!args.includes('-r'), 'the input frame rate is kept')
  assert.match(after('-filter_complex') ?? '', /^\[0:v:0\]split=1\[s1\];\[s1\]scale=640:360/)

  const encoded = ladderArgs({ input: INPUT, renditions: resolveRenditions(['480p', '360p']), segmentDuration: 2, hlsDir: '/h', runId: 1 })
  const forced = encoded[encoded.indexOf('-force_key_frames:v:0') + 1]
  assert.equal(forced, 'expr:if(isnan(prev_forced_t),1,gte(t,prev_forced_t+2))', 'a keyframe every segment, in every rendition')
  assert.ok(!encoded.includes('-g:v:0'), 'no GOP in frames when the frame rate is not known')
  const pattern = ladderArgs({ input: INPUT, renditions: resolveRenditions(['360p']), frameRate: 30, segmentDuration: 2, hlsDir: '/h', runId: 1 })
  assert.equal(pattern[pattern.indexOf('-g:v:0') + 1], '60')
})

test('ffmpeg arguments: each AV1 rendition is an fMP4 output of its own, keyed every segment', () => {
  const args = ladderArgs({ input: INPUT, renditions: resolveRenditions(['av1-360p', '240p']), segmentDuration: 2, hlsDir: '/h', runId: 3 })
  const outputs = args.flatMap((a, i) => a.endsWith('index.m3u8') ? [i] : [])
  assert.deepEqual(outputs.map(i => args[i]), ['/h/%v/index.m3u8', '/h/1/index.m3u8'], 'the H.264 output, then the AV1 one in the next directory')
  const av1 = args.slice(outputs[0]! + 1)
  const after = (flag: string): string | undefined => av1[av1.indexOf(flag) + 1]
  assert.deepEqual(av1.filter((a, i) => av1[i - 1] === '-map'), ['[v1]', '0:a:0'], 'its own video branch and the audio')
  assert.equal(after('-c:v'), 'libsvtav1')
  assert.equal(after('-hls_segment_type'), 'fmp4')
  assert.equal(after('-hls_fmp4_init_filename'), 'run3-init.mp4')
  assert.equal(after('-hls_segment_filename'), '/h/1/run3-%d.m4s')
  assert.equal(after('-svtav1-params'), 'keyint=2s:scd=0', 'no frame rate known: a keyframe every segment duration')
  assert.match(args[args.indexOf('-filter_complex') + 1] ?? '', /split=2\[s0\]\[s1\];\[s0\]scale=426:240.*\[s1\]scale=640:360/)
  const pattern = ladderArgs({ input: INPUT, renditions: resolveRenditions(['av1-360p']), frameRate: 30, segmentDuration: 1, hlsDir: '/h', runId: 1 })
  assert.equal(pattern[pattern.indexOf('-g') + 1], '30', 'a GOP of one segment when the frame rate is known')
  assert.ok(!pattern.includes('-var_stream_map'), 'no H.264 output at all')
  assert.throws(() => ladderArgs({ input: INPUT, renditions: [...resolveRenditions(['av1-360p', '240p'])].reverse(), segmentDuration: 1, hlsDir: '/h', runId: 1 }), /AV1 renditions must come after the H.264 ones/)
})

test('ffmpeg arguments: every output, MPEG-TS and fMP4, is shifted onto the room\'s media timeline', () => {
  const args = ladderArgs({ input: INPUT, renditions: resolveRenditions(['240p', 'av1-360p']), segmentDuration: 1, hlsDir: '/h', runId: 2, timestampOffset: 1765000000.5 })
  const outputs = args.flatMap((a, i) => a.endsWith('index.m3u8') ? [i] : [])
  const offsets = args.flatMap((a, i) => a === '-output_ts_offset' ? [i] : [])
  assert.equal(offsets.length, 2, 'one offset per output')
  assert.ok(offsets[0]! < outputs[0]! && offsets[1]! > outputs[0]! && offsets[1]! < outputs[1]!, 'each before its own output')
  assert.deepEqual(offsets.map(i => args[i + 1]), ['1765000000.500', '1765000000.500'])
  assert.equal(args[args.indexOf('-hls_segment_options') + 1], 'movflags=+frag_discont', 'fMP4 carries the offset in tfdt, not an edit list')
  assert.ok(args.indexOf('-hls_segment_options') > outputs[0]!, 'on the fMP4 output only')
  assert.ok(!ladderArgs({ input: INPUT, renditions: resolveRenditions(['240p']), segmentDuration: 1, hlsDir: '/h', runId: 1 }).includes('-output_ts_offset'), 'no offset when none is given')
})

test('probe helpers: frame rates, the SPS codec string, a JPEG frame size; junk gives undefined', () => {
  assert.equal(parseFrameRate('30000/1001'), 29.97)
  assert.equal(parseFrameRate('25/1'), 25)
  assert.equal(parseFrameRate('0/0'), 0)
  assert.equal(parseFrameRate(undefined), 0)
  assert.equal(avc1FromBytes(new Uint8Array([0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac])), 'avc1.64001F')
  assert.equal(avc1FromBytes(new Uint8Array([0, 0, 1, 0x67, 0x07, 0x00, 0x1f, 0, 0])), undefined, 'no such profile')
  assert.equal(avc1FromBytes(new Uint8Array(100)), undefined)
  assert.equal(jpegSize(new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 180])), undefined, 'too short to hold a frame header')
  assert.deepEqual(jpegSize(new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 180, 1, 64, 3, 0, 0, 0, 0])), { width: 320, height: 180 })
  assert.equal(jpegSize(new Uint8Array([0x89, 0x50, 0x4e, 0x47])), undefined)
})

test('the test pattern cannot be passed through: the origin refuses before it starts', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-ladder-refuse-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await assert.rejects(startOrigin({ room: ROOM, dataDir: dir, http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['source', '240p'], log: () => {} }),
    /the test pattern is not H\.264: the passthrough rendition "source" needs an H\.264 input/)
})

test('an H.264 file at 25 fps: passthrough with the probed size, profile and rate, 240p keeps 25 fps, thumbnails announced', async t => {
  const space = await scratch(t, 'ladder')
  const dir = space.dir
  // A mixer's feed: Main-profile H.264 at 25 fps with a keyframe every second (= the segment duration).
  const source = join(dir, 'source.ts')
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=480x270:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=300',
    '-t', '4', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-level:v', '3.0', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0',
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', source])

  const origin: Origin = await startOrigin({
    room: ROOM,
    dataDir: join(dir, 'origin'),
    http: '127.0.0.1:0',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    renditions: ['240p', 'copy'],
    input: { kind: 'file', path: source },
    thumbnailInterval: 2,
    log: line => space.logs.push(line)
  })
  space.running.add(origin)
  const { peer, segments, thumbnails } = await listenToRoom(origin, ROOM, space)

  const both = await eventually('segments of both renditions', () => {
    const pass = segments.find(s => s.rendition.name === 'source')
    const small = segments.find(s => s.rendition.name === '240p')
    return pass !== undefined && small !== undefined ? { pass, small } : undefined
  }, 40_000)
  assert.deepEqual(
    [both.pass.rendition.width, both.pass.rendition.height, both.pass.rendition.frameRate, both.pass.rendition.codecs],
    [480, 270, 25, 'avc1.4D401E,mp4a.40.2'], 'the passthrough is described from its own bytes: Main profile, level 3.0')
  assert.equal(both.small.rendition.frameRate, 25, 'the encoded rendition keeps the source frame rate')
  assert.ok(both.pass.rendition.bandwidth >= 250_000 && both.pass.rendition.bandwidth % 250_000 === 0, `measured bandwidth ${both.pass.rendition.bandwidth}`)

  // The passthrough's bytes are the source's H.264, untouched: same profile and size as the input.
  const sample = join(dir, 'sample.ts')
  const passBytes = await getBlock(peer, CID.parse(both.pass.cid), { signal: AbortSignal.timeout(5000) })
  await writeFile(sample, passBytes)
  const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,profile,width,height,r_frame_rate', '-of', 'json', sample])
  assert.deepEqual((JSON.parse(probe.stdout) as { streams: unknown[] }).streams[0], { codec_name: 'h264', profile: 'Main', width: 480, height: 270, r_frame_rate: '25/1' })

  // Thumbnails: signed, a raw block that is a JPEG of the announced size, in /status too.
  const thumbnail = await eventually('a thumbnail announcement', () => thumbnails[0], 30_000)
  assert.deepEqual([thumbnail.room, thumbnail.width, thumbnail.height], [ROOM, 320, 180])
  assert.ok(Math.abs(thumbnail.at - Date.now()) < 60_000, 'taken now, by the origin\'s clock')
  const jpeg = await getBlock(peer, CID.parse(thumbnail.cid), { signal: AbortSignal.timeout(5000) })
  assert.equal(await verifyRawBlock(thumbnail.cid, jpeg), true)
  assert.deepEqual(jpegSize(jpeg), { width: 320, height: 180 })
  await eventually('a second, newer thumbnail', () => thumbnails.length >= 2 ? true : undefined, 30_000)
  assert.ok(thumbnails[1]!.at > thumbnail.at)
  const status = await (await fetch(new URL('status', origin.url))).json() as { thumbnail: { cid: string } | null, renditions: Array<{ name: string, frameRate: number }>, dropped: Record<string, number> }
  assert.ok(status.thumbnail !== null && thumbnails.some(t => t.cid === status.thumbnail!.cid))
  assert.deepEqual(status.renditions.map(r => [r.name, r.frameRate]), [['source', 25], ['240p', 25]])
  assert.deepEqual(status.dropped, { playlistEntries: 0, streamBytes: 0, segments: 0, parts: 0, publishErrors: 0, thumbnails: 0 })
  assert.match(await readFile(join(dir, 'origin', 'state.json'), 'utf8'), /"source"/)
  space.passed()
})
