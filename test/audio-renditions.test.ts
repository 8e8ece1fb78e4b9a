/**
 * Interpretation and the audio-only variant on real processes: an origin whose test pattern carries a
 * second audio stream (another tone) -> a relay -> stock ffmpeg/ffprobe. The relay's master playlist
 * has the audio group and the audio-only variant, ffprobe reads the second language from it, and
 * ffmpeg `-map` picks that language and decodes it (the tone it hears is the interpretation's); the
 * pinned recording keeps the interpretation, and ffmpeg reads it from there, cut to a range, too.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { eventually } from '@hivecast/devnet'
import { devnetForTest } from './src/devnet-fixture.ts'

const run = promisify(execFile)
const devnet = await devnetForTest('audio-renditions', { relays: 1, renditions: '360p,audio', audioTracks: ['de:Deutsch (interpretation):1'], archive: true, recordingInterval: 6 })
const relay = devnet.relays[0]!
const master = `${relay.url}/hls/${devnet.room}/master.m3u8`

/** The master playlist once every rendition (360p, audio, audio-de) has a segment listed. */
const masterText = await eventually('a master playlist listing the audio group', async () => {
  const res = await fetch(master, { signal: AbortSignal.timeout(5000) })
  const text = res.ok ? await res.text() : ''
  return text.includes('URI="audio-de.m3u8"') && text.includes('\naudio.m3u8') && text.includes('RESOLUTION=640x360') ? text : undefined
}, 45_000)

test('the relay\'s master playlist lists the interpretation as an audio rendition and the audio-only variant', async () => {
  const lines = masterText.split('\n')
  assert.deepEqual(lines.filter(l => l.startsWith('#EXT-X-MEDIA:')), [
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Original",DEFAULT=YES,AUTOSELECT=YES',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="de",NAME="Deutsch (interpretation)",DEFAULT=NO,AUTOSELECT=YES,URI="audio-de.m3u8"'
  ])
  const video = lines.findIndex(l => l.startsWith('#EXT-X-STREAM-INF:') && l.includes('RESOLUTION=640x360'))
  assert.match(lines[video]!, /AUDIO="audio"/, 'the video variant names the audio group')
  const audioOnly = lines.findIndex(l => l.startsWith('#EXT-X-STREAM-INF:') && l.includes('CODECS="mp4a.40.2"'))
  assert.ok(audioOnly >= 0, 'an audio-only variant is listed')
  assert.equal(lines[audioOnly + 1], 'audio.m3u8')
  const bandwidth = Number(/BANDWIDTH=(\d+)/.exec(lines[audioOnly]!)?.[1])
  assert.ok(bandwidth > 0 && bandwidth <= 100_000, `the audio-only variant is low bandwidth: ${bandwidth}`)
})

test('the audio-only variant\'s segments stay within its announced BANDWIDTH', async () => {
  const bandwidth = Number(/BANDWIDTH=(\d+),CODECS="mp4a.40.2"/.exec(masterText)?.[1])
  const playlist = await eventually('5 audio-only segments listed', async () => {
    const text = await (await fetch(`${relay.url}/hls/${devnet.room}/audio.m3u8`)).text()
    return text.split('\n').filter(l => l.startsWith('/ipfs/')).length >= 5 ? text : undefined
  }, 20_000)
  const lines = playlist.split('\n')
  const rates: number[] = []
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('/ipfs/')) continue
    const duration = Number(/^#EXTINF:([\d.]+),/.exec(lines[i - 1] ?? '')?.[1])
    const bytes = (await (await fetch(`${relay.url}${line}`)).arrayBuffer()).byteLength
    rates.push(bytes * 8 / duration)
  }
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length
  console.log(`audio-only variant: announced ${bandwidth} bit/s, measured mean ${Math.round(mean)}, peak ${Math.round(Math.max(...rates))} over ${rates.length} segments`)
  assert.ok(Math.max(...rates) <= bandwidth, `a segment at ${Math.round(Math.max(...rates))} bit/s is over the announced ${bandwidth}`)
})

test('ffprobe reads the second language from the relay, and ffmpeg -map picks it and hears its tone', async () => {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=index,codec_type,codec_name:stream_tags=language', '-of', 'json', master], { timeout: 30_000 })
  const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string, codec_name: string, tags?: { language?: string } }> }).streams
  assert.ok(streams.some(s => s.codec_type === 'video' && s.codec_name === 'h264'), 'the video is read')
  assert.ok(streams.some(s => s.codec_type === 'audio' && s.tags?.language === 'de'), `an audio stream in German: ${JSON.stringify(streams)}`)

  // 3 s of the German stream, decoded; its tone is the second (660 Hz), not the program's 440 Hz.
  const frequency = async (map: string): Promise<number> => {
    const { stdout: pcm } = await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', master, '-map', map, '-t', '3',
      '-ac', '1', '-ar', '48000', '-f', 's16le', '-'], { timeout: 40_000, encoding: 'buffer', maxBuffer: 8 * 1024 * 1024 })
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2))
    assert.ok(samples.length >= 48_000 * 2, `ffmpeg decoded ${samples.length} samples of ${map}`)
    // Zero crossings per second, halved: the frequency of a pure tone.
    let crossings = 0
    for (let i = 1; i < samples.length; i++) if ((samples[i - 1]! < 0) !== (samples[i]! < 0)) crossings++
    return crossings / 2 / (samples.length / 48_000)
  }
  const german = await frequency('0:a:m:language:de')
  assert.ok(Math.abs(german - 660) < 15, `the German track is the interpretation's tone: ${german.toFixed(0)} Hz`)
})

test('a pinned recording keeps the interpretation: the relay serves its audio group, cut by from/to, and ffprobe reads German from it', async () => {
  interface Listed { envelope: { payload: string }, archive: string }
  const recording = await eventually('a pinned recording of 4+ segments', async () => {
    const res = await fetch(`${relay.url}/rooms/${devnet.room}/recordings.json`)
    if (!res.ok) return undefined
    const { recordings } = await res.json() as { recordings: Listed[] }
    return recordings.filter(r => r.archive === 'pinned').map(r => JSON.parse(r.envelope.payload) as { cid: string, started: number, ended: number, segments: number }).find(r => r.segments >= 4)
  }, 40_000)
  const range = `from=${recording.started}&to=${recording.ended}`
  const text = await (await fetch(`${relay.url}/hls/recordings/${recording.cid}/master.m3u8?${range}`)).text()
  assert.match(text, /#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="de",NAME="Deutsch \(interpretation\)",DEFAULT=NO,AUTOSELECT=YES,URI="audio-de\.m3u8\?from=\d+&to=\d+"/)
  const german = await (await fetch(`${relay.url}/hls/recordings/${recording.cid}/audio-de.m3u8`)).text()
  assert.ok(german.split('\n').filter(l => l.startsWith('/ipfs/')).length >= 3, german)
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type:stream_tags=language', '-of', 'json', `${relay.url}/hls/recordings/${recording.cid}/master.m3u8`], { timeout: 30_000 })
  const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string, tags?: { language?: string } }> }).streams
  assert.ok(streams.some(s => s.codec_type === 'audio' && s.tags?.language === 'de'), `German in the recording: ${JSON.stringify(streams)}`)
})
