#!/usr/bin/env node
/**
 * `hivecast-origin`: runs the origin for one room until Ctrl-C or SIGTERM. Once ready it prints its
 * addresses (and writes them to `--ready-file`), then a status line every 10 s.
 */
import { stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { assertRoomSlug, errorMessage, logger, parseHostPort, parseLogLevel } from '@hivecast/shared'
import type { LogLevel, Logger } from '@hivecast/shared'
import { packageVersion, writeReadyFile } from '@hivecast/shared/node'
import { startOrigin } from './origin.ts'
import type { Origin } from './origin.ts'
import {
  DEFAULT_HTTP, DEFAULT_LISTEN, DEFAULT_PART_DURATION, DEFAULT_RECORDING_INTERVAL, DEFAULT_SEGMENT_DURATION, DEFAULT_THUMBNAIL_INTERVAL, ORIGIN_FLAGS,
  assertPartDuration, assertPeerId, assertPushFanout, flagsHelp, parseArgsFlags
} from './origin-options.ts'
import { DEFAULT_RENDITIONS, resolveRenditions } from './rendition-ladder.ts'
import { loadRoomConfig, pickRoom } from './room-config.ts'
import type { RoomConfig } from './room-config.ts'
import { assertStreamInput, parseInputUrl } from './stream-input.ts'
import type { SeparateSecrets, StreamInput } from './stream-input.ts'
import { inputSecrets } from './input-secrets.ts'
import { assertScheduleSource } from './recording-consent.ts'
import { assertAudioTracks, parseAudioTrack } from './audio-tracks.ts'
import type { AudioTrack } from './audio-tracks.ts'
import { parseCaptionLanguage } from './caption-track.ts'
import type { CaptionLanguage } from './caption-track.ts'

const HELP = `Usage: hivecast-origin --room <slug> [options]
       hivecast-origin --config rooms.yaml [--room <slug>] [options]

Takes a room's program feed (or a test pattern), encodes it into an HLS rendition ladder with one
ffmpeg, stores each segment as an IPFS block and announces it, signed with the room key, to the
room's relays over gossipsub.

Options (each overrides the same setting from --config):
${flagsHelp()}

Environment:
  LOG_LEVEL                 the --log-level value, when --log-level is not given
  LOG_FORMAT                text (default) or json: one JSON object per log line
  FFMPEG_PATH               ffmpeg binary to use (else ffmpeg on PATH; install it with
                            "apt-get install ffmpeg" or "brew install ffmpeg")
                            ffprobe (which describes each rendition from its segments) is taken
                            from beside that ffmpeg, else PATH
  HIVECAST_INPUT            the --input value, when --input is not given (keeps its secrets out of ps)
  HIVECAST_RTMP_KEY         the RTMP stream key; --input may then be rtmp://<host:port>/live
  HIVECAST_SRT_PASSPHRASE   the SRT passphrase (replaces one in --input or the config file)
  Secrets never reach ffmpeg's command line, the log, /status or /healthz: ffmpeg listens for a
  placeholder RTMP name behind the origin's key check, and reads SRT passphrases and HTTP credentials
  from <data>/input.ffconcat (mode 0600).

Config file (every field but slug is optional; relative paths are from the file's directory):
  rooms:
    - slug: janson
      title: Janson (main hall)
      input:                        # kind plus its fields:
        kind: rtmp                  #   test-pattern
        listen: 0.0.0.0:1935        #   file: path
        key: change-me-to-a-secret  #   rtmp: listen, key (8-64 of A-Z a-z 0-9 - _)
      renditions: [720p, 480p, 360p, audio]  # srt: mode (listener|caller), address, passphrase
      audioTracks:                  #   udp: listen    tcp: listen    http: url
        - { language: de, name: Deutsch (interpretation), stream: 1 }
      segmentDuration: 1
      thumbnailInterval: 10
      roomKeys: [12D3KooW...]       # the hot standby's key (and on the standby, the primary's)
      slate: ./brb.png              # shown while no input arrives
      schedule: https://pretalx.example.org/conf/schedule/export/schedule.xml
                                    # opted-out and live-only talks stay out of recordings
      data: ./.data/janson
      http: 127.0.0.1:8090
      listen: [/ip4/0.0.0.0/tcp/9090]
    - slug: k1105
      input: { kind: srt, mode: listener, address: 0.0.0.0:9000, passphrase: another-long-secret }

Examples:
  hivecast-origin --room janson --renditions 720p,480p,360p --http 127.0.0.1:8090
  HIVECAST_RTMP_KEY=change-me-to-a-secret hivecast-origin --room janson --input rtmp://0.0.0.0:1935/live
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
  audioTracks: AudioTrack[]
  captions: CaptionLanguage | undefined
  segmentDuration: number
  partDuration: number
  recordingInterval: number
  thumbnailInterval: number
  roomKeys: string[]
  slate: string | undefined
  schedule: string | undefined
  adminTokenFile: string | undefined
  captionTokenFile: string | undefined
  readyFile: string | undefined
  pushFanout: number | undefined
  logLevel: LogLevel | undefined
}

type FlagValues = Record<string, string | boolean | Array<string | boolean> | undefined>

function usageError (message: string): never {
  process.stderr.write(`hivecast-origin: ${message}\nRun hivecast-origin --help for the options.\n`)
  process.exit(2)
}

function warn (message: string): void {
  process.stderr.write(`hivecast-origin: warning: ${message}\n`)
}

function text (values: FlagValues, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

function list (values: FlagValues, name: string): string[] | undefined {
  const value = values[name]
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined
}

/** A seconds flag of the table, else the config's value, else the default; checked as the API checks it. */
function seconds (values: FlagValues, name: string, fallback: number): number {
  const given = text(values, name)
  if (given === undefined) return fallback
  const value = Number(given)
  if (given.trim() === '' || !Number.isFinite(value)) return usageError(`--${name} must be a number of seconds, got "${given}"`)
  return value
}

function secretsFromEnvironment (): SeparateSecrets {
  const { HIVECAST_RTMP_KEY: rtmpKey, HIVECAST_SRT_PASSPHRASE: srtPassphrase } = process.env
  return { ...(rtmpKey === undefined ? {} : { rtmpKey }), ...(srtPassphrase === undefined ? {} : { srtPassphrase }) }
}

/** A config file's input with the key or passphrase from the environment, which wins. */
function withSecrets (input: StreamInput, secrets: SeparateSecrets): StreamInput {
  if (input.kind === 'rtmp' && secrets.rtmpKey !== undefined) return assertStreamInput({ ...input, key: secrets.rtmpKey })
  if (input.kind === 'srt' && secrets.srtPassphrase !== undefined) return assertStreamInput({ ...input, passphrase: secrets.srtPassphrase })
  return input
}

async function parseCommandLine (): Promise<Settings> {
  let values: FlagValues
  try {
    ({ values } = parseArgs({ strict: true, allowPositionals: false, options: parseArgsFlags() }))
  } catch (err) {
    // parseArgs explains the first problem; its first sentence is the useful part.
    return usageError(errorMessage(err).split('. ')[0] ?? 'invalid arguments')
  }
  if (values.help === true) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  if (values.version === true) {
    process.stdout.write(`hivecast-origin ${packageVersion(import.meta.url)}\n`)
    process.exit(0)
  }
  const configFile = text(values, 'config')
  let config: RoomConfig | undefined
  if (configFile !== undefined) {
    try {
      config = pickRoom(await loadRoomConfig(configFile), text(values, 'room'), configFile)
    } catch (err) {
      return usageError(errorMessage(err))
    }
  }
  const room = text(values, 'room') ?? config?.slug
  if (room === undefined) return usageError('--room is required, e.g. --room janson (or give --config rooms.yaml)')
  const segmentDuration = seconds(values, 'segment-duration', config?.segmentDuration ?? DEFAULT_SEGMENT_DURATION)
  const partDuration = seconds(values, 'part-duration', DEFAULT_PART_DURATION)
  const recordingInterval = seconds(values, 'recording-interval', DEFAULT_RECORDING_INTERVAL)
  const thumbnailInterval = seconds(values, 'thumbnail-interval', config?.thumbnailInterval ?? DEFAULT_THUMBNAIL_INTERVAL)
  const renditions = text(values, 'renditions')?.split(',').map(s => s.trim()).filter(s => s !== '') ?? config?.renditions ?? [...DEFAULT_RENDITIONS]
  const http = text(values, 'http') ?? config?.http ?? DEFAULT_HTTP
  const roomKeys = list(values, 'room-key') ?? config?.roomKeys ?? []
  const logLevelFlag = text(values, 'log-level')
  const pushFanoutFlag = text(values, 'push-fanout')
  let pushFanout: number | undefined
  let audioTracks: AudioTrack[] = config?.audioTracks ?? []
  const schedule = text(values, 'schedule') ?? config?.schedule
  let input = config?.input ?? { kind: 'test-pattern' }
  const secrets = secretsFromEnvironment()
  const inputFlag = text(values, 'input')
  const inputValue = inputFlag ?? process.env.HIVECAST_INPUT
  let logLevel: LogLevel | undefined
  let captions: CaptionLanguage | undefined
  try {
    // The same checks startOrigin makes, here so that a bad value is a usage error (exit 2).
    assertRoomSlug(room)
    if (inputValue !== undefined) input = parseInputUrl(inputValue, secrets)
    else input = withSecrets(input, secrets)
    const trackFlags = list(values, 'audio-track')
    if (trackFlags !== undefined) audioTracks = assertAudioTracks(trackFlags.map(parseAudioTrack))
    resolveRenditions(renditions, audioTracks)
    const captionsFlag = text(values, 'captions')
    if (captionsFlag !== undefined) captions = parseCaptionLanguage(captionsFlag)
    if (text(values, 'caption-token-file') !== undefined && captions === undefined) throw new Error('--caption-token-file turns on the captioner of the subtitle rendition: give --captions too, e.g. --captions en:English')
    parseHostPort(http)
    assertPartDuration(partDuration, segmentDuration)
    const given: Record<string, number> = { 'segment-duration': segmentDuration, 'part-duration': partDuration, 'recording-interval': recordingInterval, 'thumbnail-interval': thumbnailInterval }
    for (const flag of ORIGIN_FLAGS) if (flag.seconds !== undefined) flag.seconds(given[flag.name] ?? 0)
    for (const key of roomKeys) assertPeerId(key)
    if (schedule !== undefined) assertScheduleSource(schedule)
    if (logLevelFlag !== undefined) logLevel = parseLogLevel(logLevelFlag, '--log-level')
    if (pushFanoutFlag !== undefined) pushFanout = assertPushFanout(pushFanoutFlag.trim() === '' ? NaN : Number(pushFanoutFlag))
  } catch (err) {
    return usageError(errorMessage(err))
  }
  if (inputFlag !== undefined && inputSecrets(input).some(secret => inputFlag.includes(secret))) {
    warn('the secret in --input is visible to every user of this machine (ps): give it in HIVECAST_INPUT, HIVECAST_RTMP_KEY or HIVECAST_SRT_PASSPHRASE, or a config file of mode 0600')
  }
  if (configFile !== undefined && config?.input !== undefined && inputSecrets(config.input).length > 0) {
    const mode = (await stat(configFile)).mode
    if ((mode & 0o077) !== 0) warn(`${configFile} holds the input's secret and other users may read it (mode ${(mode & 0o777).toString(8)}): chmod 600 ${configFile}`)
  }
  return {
    room,
    title: text(values, 'title') ?? config?.title,
    input,
    data: text(values, 'data') ?? config?.data ?? `./.data/origin-${room}`,
    http,
    listen: list(values, 'listen') ?? config?.listen ?? [DEFAULT_LISTEN],
    renditions,
    audioTracks,
    segmentDuration,
    partDuration,
    recordingInterval,
    thumbnailInterval,
    roomKeys,
    slate: text(values, 'slate') ?? config?.slate,
    schedule,
    adminTokenFile: text(values, 'admin-token-file'),
    captions,
    captionTokenFile: text(values, 'caption-token-file'),
    readyFile: text(values, 'ready-file'),
    pushFanout,
    logLevel
  }
}

const args = await parseCommandLine()
const log = ((): Logger => {
  try {
    return logger('origin', { level: args.logLevel })
  } catch (err) {
    // LOG_LEVEL or LOG_FORMAT holds a value the logger does not know.
    return usageError(errorMessage(err))
  }
})()
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
    audioTracks: args.audioTracks,
    segmentDuration: args.segmentDuration,
    partDuration: args.partDuration,
    recordingInterval: args.recordingInterval,
    thumbnailInterval: args.thumbnailInterval,
    roomKeys: args.roomKeys,
    slate: args.slate,
    schedule: args.schedule,
    adminTokenFile: args.adminTokenFile,
    ...args.captions === undefined ? {} : { captions: args.captions },
    captionTokenFile: args.captionTokenFile,
    ...(args.pushFanout === undefined ? {} : { pushFanout: args.pushFanout }),
    logLevel: log.level
  })
  if (args.readyFile !== undefined) {
    await writeReadyFile(args.readyFile, { service: 'origin', pid: process.pid, url: origin.url, multiaddrs: origin.multiaddrs, peerId: origin.key, inputs: origin.inputs })
  }
} catch (err) {
  process.stderr.write(`hivecast-origin: ${errorMessage(err)}\n`)
  process.exit(1)
}

log.info(`origin: ${origin.url}`)
log.info(`origin libp2p: ${origin.multiaddrs[0] ?? '(not listening)'}`)
log.info(`room key: ${origin.key}`)

const statusTimer = setInterval(() => {
  const s = origin.status()
  const last = s.renditions.map(r => `${r.name}=${s.recent.findLast(e => e.rendition === r.name)?.seq ?? '-'}`).join(' ')
  // The top rendition's rate over its last 10 segments: what the room really sends.
  const top = s.recent.filter(e => e.rendition === s.renditions[0]?.name).slice(-10)
  const duration = top.reduce((n, e) => n + e.duration, 0)
  const rate = duration > 0 ? `, ${s.renditions[0]?.name} ${(top.reduce((n, e) => n + e.size, 0) * 8 / duration / 1e6).toFixed(2)} Mbit/s` : ''
  log.info(`status: input ${s.input.state}${s.input.slate ? ', showing the slate' : ''} (${s.input.description})${s.input.fps === undefined ? '' : `, ${s.input.fps} fps`}${rate}, ` +
    `${s.segmentsPublished} segments published, last seq ${last}, ffmpeg ${s.ffmpeg.running ? 'up' : 'down'}` +
    `${s.ffmpeg.restarts > 0 ? ` (${s.ffmpeg.restarts} restarts)` : ''}, ${s.peers} peer${s.peers === 1 ? '' : 's'}`)
}, 10_000)

let signals = 0
async function shutdown (signal: string): Promise<void> {
  if (++signals > 1) {
    process.stderr.write(`hivecast-origin: ${signal} again, exiting without a clean stop\n`)
    process.exit(1)
  }
  log.info(`${signal}: stopping ffmpeg, publishing the last segments`)
  clearInterval(statusTimer)
  try {
    await origin.stop()
  } catch (err) {
    process.stderr.write(`hivecast-origin: stopping failed: ${errorMessage(err)}\n`)
    process.exit(1)
  }
  process.exit(0)
}
process.on('SIGINT', signal => { void shutdown(signal) })
process.on('SIGTERM', signal => { void shutdown(signal) })
