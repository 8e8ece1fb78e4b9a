#!/usr/bin/env node
/**
 * `hivecast-origin`: runs the origin for one room until Ctrl-C or SIGTERM. Prints the lines the demo
 * launcher and tests parse once ready, then a status line every 10 s.
 */
import { parseArgs } from 'node:util'
import { assertRoomSlug } from '@hivecast/shared'
import { DEFAULT_HTTP, DEFAULT_LISTEN, DEFAULT_RECORDING_INTERVAL, DEFAULT_THUMBNAIL_INTERVAL, assertPeerId, assertRecordingInterval, assertSegmentDuration, assertThumbnailInterval, startOrigin } from './origin.ts'
import type { Origin } from './origin.ts'
import { DEFAULT_RENDITIONS, RENDITION_PRESETS, resolveRenditions } from './rendition-ladder.ts'
import { loadRoomConfig, pickRoom } from './room-config.ts'
import type { RoomConfig } from './room-config.ts'
import { parseHostPort } from './status-server.ts'
import { parseInputUrl } from './stream-input.ts'
import type { StreamInput } from './stream-input.ts'

const HELP = `Usage: hivecast-origin --room <slug> [options]
       hivecast-origin --config rooms.yaml [--room <slug>] [options]

Takes a room's program feed (or a test pattern), encodes it into an HLS rendition ladder with one
ffmpeg, stores each segment as an IPFS block and announces it, signed with the room key, to the
room's relays over gossipsub.

Options (each overrides the same setting from --config):
  --config <file>           YAML file describing rooms (see below); with several rooms, --room picks one
  --room <slug>             room name: lowercase letters, digits and dashes (required without --config)
  --title <text>            room title shown in /status (default: the slug)
  --input <source>          what to encode (default test-pattern):
                              test-pattern                      built-in picture with clock and tone
                              file:<path>                       a video file with audio, looped in real time
                              rtmp://<host:port>/live/<key>     listen for RTMP publishers; only <key> is let in
                              srt://<host:port>?mode=listener&passphrase=<p>
                                                                listen for an SRT caller (passphrase optional)
                              srt://<host:port>?mode=caller     call an SRT listener (pull)
                              udp://<host:port>                 MPEG-TS over UDP; a 224.0.0.0/4 host joins multicast
                              tcp://<host:port>                 listen for MPEG-TS over TCP
                              http(s)://...                     pull a live MPEG-TS stream
                            the input needs a video and an audio stream; while no segment comes,
                            /status and the status line say "waiting for signal"
  --slate <file>            a video (looped) or still image (.png/.jpg) published while no input arrives
                            (after 3 segment durations + 2 s of silence), with silent audio, so viewers
                            see a card; the status still says "waiting for signal". Each join with the
                            input is an #EXT-X-DISCONTINUITY
  --data <dir>              key, blocks and state (default ./.data/origin-<room>);
                            the key in it is the room key, keep it
  --http <host:port>        GET /status, /healthz and /metrics (Prometheus) (default ${DEFAULT_HTTP});
                            port 0 picks a free port
  --listen <multiaddr>      libp2p listen address, repeatable (default ${DEFAULT_LISTEN});
                            add e.g. /ip4/127.0.0.1/tcp/9091/ws for WebSockets
  --renditions <list>       comma-separated presets, any of ${RENDITION_PRESETS.map(p => p.name).join(', ')}
                            (default ${DEFAULT_RENDITIONS.join(',')}). "source" (or "copy") passes an H.264
                            input's video through untouched; its segments are cut at the input's own
                            keyframes, so set the mixer's keyframe interval to the segment duration
                            (the x264 renditions then key on the same frames). "av1-720p" (or "av1"),
                            "av1-480p" and "av1-360p" add AV1 (SVT-AV1, fMP4 segments) for browsers that
                            decode it; off by default: on 2 cores av1-480p alone takes ~1.2 of them
  --segment-duration <s>    seconds per segment and GOP (default 1)
  --room-key <peer id>      key of another origin of this room, repeatable: a hot standby and its primary
                            each list the other's "room key:" line. This origin then never numbers a
                            segment below the other's, so relays that switch over (they follow the first
                            --origin they were given, and the next when it stops for 2 segments) see the
                            sequence keep rising. Relays list both origins: --origin <primary> --origin <standby>
  --thumbnail-interval <s>  seconds between room thumbnails: a 320 px JPEG stored as a block and
                            announced for room lists (default ${DEFAULT_THUMBNAIL_INTERVAL}; 0 turns them off)
  --recording-interval <s>  seconds between interim recordings of a live session (default ${DEFAULT_RECORDING_INTERVAL});
                            every session is recorded: one UnixFS directory (index.m3u8, VOD playlists,
                            segments) announced by CID, and a final one when the session ends
  -h, --help                show this help

Environment:
  FFMPEG_PATH               ffmpeg binary to use (else ffmpeg on PATH, else @ffmpeg-installer/ffmpeg)
                            ffprobe (which describes each rendition from its segments) is taken
                            from beside that ffmpeg, else PATH

Config file (every field but slug is optional; relative paths are from the file's directory):
  rooms:
    - slug: janson
      title: Janson (main hall)
      input:                        # kind plus its fields:
        kind: rtmp                  #   test-pattern
        listen: 0.0.0.0:1935        #   file: path
        key: change-me-to-a-secret  #   rtmp: listen, key (8-64 of A-Z a-z 0-9 - _)
      renditions: [720p, 480p, 360p]  # srt: mode (listener|caller), address, passphrase
      segmentDuration: 1            #   udp: listen    tcp: listen    http: url
      thumbnailInterval: 10
      roomKeys: [12D3KooW...]       # the hot standby's key (and on the standby, the primary's)
      slate: ./brb.png              # shown while no input arrives
      data: ./.data/janson
      http: 127.0.0.1:8090
      listen: [/ip4/0.0.0.0/tcp/9090]
    - slug: k1105
      input: { kind: srt, mode: listener, address: 0.0.0.0:9000, passphrase: another-long-secret }

Examples:
  hivecast-origin --room janson --renditions 720p,480p,360p --http 127.0.0.1:8090
  hivecast-origin --room janson --input rtmp://0.0.0.0:1935/live/change-me-to-a-secret
  hivecast-origin --config rooms.yaml --room k1105 --http 127.0.0.1:8091
`

interface Settings {
  room: string
  title: string | undefined
  input: StreamInput
  data: string
  http: string
  listen: string[]
  renditions: string[]
  segmentDuration: number
  recordingInterval: number
  thumbnailInterval: number
  roomKeys: string[]
  slate: string | undefined
}

function usageError (message: string): never {
  process.stderr.write(`hivecast-origin: ${message}\nRun hivecast-origin --help for the options.\n`)
  process.exit(2)
}

async function parseCommandLine (): Promise<Settings> {
  let values
  try {
    ({ values } = parseArgs({
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        room: { type: 'string' },
        title: { type: 'string' },
        input: { type: 'string' },
        data: { type: 'string' },
        http: { type: 'string' },
        listen: { type: 'string', multiple: true },
        renditions: { type: 'string' },
        'segment-duration': { type: 'string' },
        'recording-interval': { type: 'string' },
        'thumbnail-interval': { type: 'string' },
        'room-key': { type: 'string', multiple: true },
        slate: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    // parseArgs explains the first problem; its first sentence is the useful part.
    return usageError((err as Error).message.split('. ')[0] ?? 'invalid arguments')
  }
  if (values.help === true) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  let config: RoomConfig | undefined
  if (values.config !== undefined) {
    try {
      config = pickRoom(await loadRoomConfig(values.config), values.room, values.config)
    } catch (err) {
      return usageError((err as Error).message)
    }
  }
  const room = values.room ?? config?.slug
  if (room === undefined) return usageError('--room is required, e.g. --room janson (or give --config rooms.yaml)')
  let segmentDuration = config?.segmentDuration ?? 1
  if (values['segment-duration'] !== undefined) {
    segmentDuration = Number(values['segment-duration'])
    if (values['segment-duration'].trim() === '' || !Number.isFinite(segmentDuration)) {
      return usageError(`--segment-duration must be a number of seconds, got "${values['segment-duration']}"`)
    }
  }
  let recordingInterval = DEFAULT_RECORDING_INTERVAL
  if (values['recording-interval'] !== undefined) {
    recordingInterval = Number(values['recording-interval'])
    if (values['recording-interval'].trim() === '' || !Number.isFinite(recordingInterval)) {
      return usageError(`--recording-interval must be a number of seconds, got "${values['recording-interval']}"`)
    }
  }
  let thumbnailInterval = config?.thumbnailInterval ?? DEFAULT_THUMBNAIL_INTERVAL
  if (values['thumbnail-interval'] !== undefined) {
    thumbnailInterval = Number(values['thumbnail-interval'])
    if (values['thumbnail-interval'].trim() === '' || !Number.isFinite(thumbnailInterval)) {
      return usageError(`--thumbnail-interval must be a number of seconds, got "${values['thumbnail-interval']}"`)
    }
  }
  const renditions = values.renditions?.split(',').map(s => s.trim()).filter(s => s !== '') ?? config?.renditions ?? [...DEFAULT_RENDITIONS]
  const http = values.http ?? config?.http ?? DEFAULT_HTTP
  let input = config?.input ?? { kind: 'test-pattern' }
  try {
    // The same checks startOrigin makes, here so that a bad value is a usage error (exit 2).
    assertRoomSlug(room)
    if (values.input !== undefined) input = parseInputUrl(values.input)
    resolveRenditions(renditions)
    parseHostPort(http)
    assertSegmentDuration(segmentDuration)
    assertRecordingInterval(recordingInterval)
    assertThumbnailInterval(thumbnailInterval)
    for (const key of values['room-key'] ?? config?.roomKeys ?? []) assertPeerId(key)
  } catch (err) {
    return usageError((err as Error).message)
  }
  return {
    room,
    title: values.title ?? config?.title,
    input,
    data: values.data ?? config?.data ?? `./.data/origin-${room}`,
    http,
    listen: values.listen ?? config?.listen ?? [DEFAULT_LISTEN],
    renditions,
    segmentDuration,
    recordingInterval,
    thumbnailInterval,
    roomKeys: values['room-key'] ?? config?.roomKeys ?? [],
    slate: values.slate ?? config?.slate
  }
}

const args = await parseCommandLine()
let origin: Origin
try {
  origin = await startOrigin({
    room: args.room,
    title: args.title,
    input: args.input,
    dataDir: args.data,
    http: args.http,
    listen: args.listen,
    renditions: args.renditions,
    segmentDuration: args.segmentDuration,
    recordingInterval: args.recordingInterval,
    thumbnailInterval: args.thumbnailInterval,
    roomKeys: args.roomKeys,
    slate: args.slate
  })
} catch (err) {
  process.stderr.write(`hivecast-origin: ${(err as Error).message}\n`)
  process.exit(1)
}

console.log(`origin: ${origin.url}`)
console.log(`origin libp2p: ${origin.multiaddrs[0] ?? '(not listening)'}`)
console.log(`room key: ${origin.key}`)

const statusTimer = setInterval(() => {
  const s = origin.status()
  const last = s.renditions.map(r => `${r.name}=${s.recent.findLast(e => e.rendition === r.name)?.seq ?? '-'}`).join(' ')
  // The top rendition's rate over its last 10 segments: what the room really sends.
  const top = s.recent.filter(e => e.rendition === s.renditions[0]?.name).slice(-10)
  const seconds = top.reduce((n, e) => n + e.duration, 0)
  const rate = seconds > 0 ? `, ${s.renditions[0]?.name} ${(top.reduce((n, e) => n + e.size, 0) * 8 / seconds / 1e6).toFixed(2)} Mbit/s` : ''
  console.log(`status: input ${s.input.state}${s.input.slate ? ', showing the slate' : ''} (${s.input.description})${s.input.fps === undefined ? '' : `, ${s.input.fps} fps`}${rate}, ` +
    `${s.segmentsPublished} segments published, last seq ${last}, ffmpeg ${s.ffmpeg.running ? 'up' : 'down'}` +
    `${s.ffmpeg.restarts > 0 ? ` (${s.ffmpeg.restarts} restarts)` : ''}, ${s.peers} peer${s.peers === 1 ? '' : 's'}`)
}, 10_000)

let signals = 0
async function shutdown (signal: string): Promise<void> {
  if (++signals > 1) {
    process.stderr.write(`hivecast-origin: ${signal} again, exiting without a clean stop\n`)
    process.exit(1)
  }
  console.log(`${signal}: stopping ffmpeg, publishing the last segments`)
  clearInterval(statusTimer)
  try {
    await origin.stop()
  } catch (err) {
    process.stderr.write(`hivecast-origin: stopping failed: ${(err as Error).message}\n`)
    process.exit(1)
  }
  process.exit(0)
}
process.on('SIGINT', signal => { void shutdown(signal) })
process.on('SIGTERM', signal => { void shutdown(signal) })
