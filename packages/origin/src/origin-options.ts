/**
 * Every option of the origin, once: the API's OriginOptions with their defaults and checks, and the
 * command line's flag table, which `parseArgs` and `--help` are both built from, so a flag cannot be
 * accepted without being documented or documented without being accepted.
 */
import { InvalidOptionError, isRoomKey } from '@hivecast/shared'
import type { LogLevel } from '@hivecast/shared'
import { DEFAULT_RENDITIONS, RENDITION_PRESETS } from './rendition-ladder.ts'
import type { StreamInput } from './stream-input.ts'
import type { AudioTrack } from './audio-tracks.ts'
import type { CaptionLanguage } from './caption-track.ts'

export interface OriginOptions {
  /** Room slug, e.g. `janson`. */
  room: string
  /** Human name of the room, e.g. `Janson (main hall)`; shown in /status. Default: the slug. */
  title?: string
  /** Key, blocks, sequence state and ffmpeg's working files. */
  dataDir: string
  /** `host:port` of the status endpoint; port 0 picks a free one. Default `127.0.0.1:8090`. */
  http?: string
  /** libp2p listen multiaddrs. Default `/ip4/127.0.0.1/tcp/9090`. */
  listen?: string[]
  /** Rendition preset names. Default `720p,480p,360p`. */
  renditions?: string[]
  /**
   * Interpretation: further audio streams of the input, each announced as an alternate audio
   * rendition (`audio-<language>`) players offer beside the program's own sound. Default: none.
   */
  audioTracks?: AudioTrack[]
  /** Seconds per segment (and per GOP). Default 1. */
  segmentDuration?: number
  /**
   * Seconds per LL-HLS part: the origin cuts the MPEG-TS renditions itself from ffmpeg's continuous
   * output (stream-segmenter.ts), and each part of about this length is stored as a block and announced
   * on the room's parts topic as soon as its frames are encoded; 0 turns parts off. At most half the
   * segment duration. Default 0 (off): parts triple the signed announcements and cost picture quality
   * (x264 `zerolatency`); docs/architecture.md says why they stay off until the lab has run with them.
   */
  partDuration?: number
  /** Seconds between room thumbnails (JPEG, announced for room lists); 0 turns them off. Default 10. */
  thumbnailInterval?: number
  /** Seconds between interim recordings of a live session (a final one follows its end). Default 600. */
  recordingInterval?: number
  /**
   * Keys (peer ids) of the room's other origins: a hot standby and its primary list each other. Their
   * segment announcements on the room topic keep this origin's sequence numbers at or above theirs,
   * so relays that switch between them see the numbers keep rising.
   */
  roomKeys?: string[]
  /**
   * A video (looped) or still image published while no input arrives, instead of nothing; the status
   * still says "waiting for signal". Default: none.
   */
  slate?: string
  /**
   * The conference schedule, a file or an http(s) URL (frab/pretalx XML or schedule.json, or Hivecast's
   * JSON), re-read every minute: talks of this room (schedule room named like the slug or the title)
   * that may not be recorded are left out of every recording. Default: none, everything is recorded.
   */
  schedule?: string
  /**
   * A file holding the bearer token of the admin endpoint (`POST /admin/opt-out`), through which the
   * organisers opt a talk or a time range out of later recordings. Default: no admin endpoint.
   */
  adminTokenFile?: string
  /**
   * A subtitle rendition (`subtitles-<language>`): WebVTT segments beside the video's, with the clock's
   * cues for the test pattern and whatever the live captioner types. Default: none.
   */
  captions?: CaptionLanguage
  /**
   * A file holding the bearer token of the live captioner (`POST /captions`, the page at `/captioner`),
   * through which a person types captions. Needs `captions`. Default: no captioner.
   */
  captionTokenFile?: string
  /**
   * Relays each announced segment is offered to at once (the segment push); they pass it on to the
   * others, so the origin's uplink carries about this many copies. 0 to 4; 0: relays fetch every
   * segment themselves. Default 1.
   */
  pushFanout?: number
  /** What to encode. Default: the test pattern. */
  input?: StreamInput
  /** Lowest level logged. Default: `LOG_LEVEL`, else info. */
  logLevel?: LogLevel
  /** Where finished log lines go. Default: stdout (info, debug) and stderr (warn, error). */
  log?: (line: string) => void
}

export const DEFAULT_HTTP = '127.0.0.1:8090'
export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/9090'
export const DEFAULT_SEGMENT_DURATION = 1
export const DEFAULT_RECORDING_INTERVAL = 600
/** Off: see `partDuration`. */
export const DEFAULT_PART_DURATION = 0
export const DEFAULT_THUMBNAIL_INTERVAL = 10
/** The test pattern's frame rate (other inputs keep their own); segments are whole GOPs of it. */
export const TEST_PATTERN_FRAME_RATE = 30

/** Checks a segment duration: positive, at most 10 s, and a whole number of frames per GOP. */
export function assertSegmentDuration (value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > 10 || !Number.isInteger(Math.round(value * TEST_PATTERN_FRAME_RATE * 1000) / 1000)) {
    throw new InvalidOptionError(`invalid segment duration ${value}: use seconds between 0 and 10 that are a whole number of frames at ${TEST_PATTERN_FRAME_RATE} fps, e.g. 1 or 2`)
  }
  return value
}

/** Checks a part duration: 0 (off), or 0.1 s up to half the segment duration (when given). */
export function assertPartDuration (value: number, segmentDuration?: number): number {
  const most = segmentDuration === undefined ? 5 : segmentDuration / 2
  if (!Number.isFinite(value) || value < 0 || (value > 0 && value < 0.1) || value > most) {
    throw new InvalidOptionError(`invalid part duration ${value}: use seconds between 0.1 and ${most} (half the segment duration), e.g. 0.333, or 0 for no parts`)
  }
  return value
}

/** Checks the thumbnail interval: 0 (off) or 1 s to 1 hour. */
export function assertThumbnailInterval (value: number): number {
  if (!Number.isFinite(value) || value < 0 || (value > 0 && value < 1) || value > 3600) throw new InvalidOptionError(`invalid thumbnail interval ${value}: use seconds between 1 and 3600, e.g. 10, or 0 for no thumbnails`)
  return value
}

/** Checks a peer id given as another origin's key; throws saying what one looks like. */
export function assertPeerId (value: string): string {
  if (!isRoomKey(value)) throw new InvalidOptionError(`room key "${value}" is not an Ed25519 peer id: copy the "room key: 12D3KooW..." line the other origin prints`)
  return value
}

/** Checks the interim recording interval: 1 s to 1 day. */
export function assertRecordingInterval (value: number): number {
  if (!Number.isFinite(value) || value < 1 || value > 86_400) throw new InvalidOptionError(`invalid recording interval ${value}: use seconds between 1 and 86400, e.g. 600`)
  return value
}

/** Checks the origin's push fan-out: a whole number of relays, 0 to 4. */
export function assertPushFanout (value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 4) throw new InvalidOptionError(`invalid push fan-out ${value}: give the number of relays the origin sends each segment to, 0 to 4 (default 1; 0: relays fetch it)`)
  return value
}

/** One command-line flag. */
export interface OriginFlag {
  /** The long name, without dashes. */
  name: string
  short?: string
  /** How its value is shown in --help, e.g. `<slug>`; absent for a switch. */
  value?: string
  multiple?: boolean
  /** Seconds: parsed as a number and checked with this (the same check the API makes). */
  seconds?: (value: number) => number
  /** --help text; `\n` starts a continuation line. */
  help: string
}

export const ORIGIN_FLAGS: readonly OriginFlag[] = [
  { name: 'config', value: '<file>', help: 'YAML file describing rooms (see below); with several rooms, --room picks one' },
  { name: 'room', value: '<slug>', help: 'room name: lowercase letters, digits and dashes (required without --config)' },
  { name: 'title', value: '<text>', help: 'room title shown in /status (default: the slug)' },
  {
    name: 'input',
    value: '<source>',
    help: `what to encode (default test-pattern):
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
/status and the status line say "waiting for signal". Network inputs are
read as MPEG-TS (RTMP as FLV) over their own protocol only.
A key, passphrase or password in --input is visible to every user in ps:
give it in HIVECAST_INPUT, HIVECAST_RTMP_KEY, HIVECAST_SRT_PASSPHRASE or
a config file of mode 0600 instead`
  },
  {
    name: 'slate',
    value: '<file>',
    help: `a video (looped) or still image (.png/.jpg) published while no input arrives
(after 3 segment durations + 2 s of silence), with silent audio, so viewers
see a card; the status still says "waiting for signal". Each join with the
input is an #EXT-X-DISCONTINUITY`
  },
  { name: 'data', value: '<dir>', help: 'key, blocks and state (default ./.data/origin-<room>);\nthe key in it is the room key, keep it' },
  { name: 'http', value: '<host:port>', help: `GET /status, /healthz and /metrics (Prometheus) (default ${DEFAULT_HTTP});\nport 0 picks a free port` },
  { name: 'listen', value: '<multiaddr>', multiple: true, help: `libp2p listen address, repeatable (default ${DEFAULT_LISTEN});\nadd e.g. /ip4/127.0.0.1/tcp/9091/ws for WebSockets` },
  {
    name: 'renditions',
    value: '<list>',
    help: `comma-separated presets, any of ${RENDITION_PRESETS.map(p => p.name).join(', ')}
(default ${DEFAULT_RENDITIONS.join(',')}). "source" (or "copy") passes an H.264
input's video through untouched; its segments are cut at the input's own
keyframes, so set the mixer's keyframe interval to the segment duration
(the x264 renditions then key on the same frames). "av1-720p" (or "av1"),
"av1-480p" and "av1-360p" add AV1 (SVT-AV1, fMP4 segments) for browsers that
decode it; off by default: on 2 cores av1-480p alone takes ~1.2 of them.
"audio" adds the audio-only variant: the program's sound alone (AAC,
64 kbit/s) for bad connections and audio-only talks`
  },
  {
    name: 'audio-track',
    value: '<lang:name:stream>',
    multiple: true,
    help: `interpretation, repeatable: the input's audio stream <stream> (counted
from 0, the program's own sound, which stays the default) as an AAC
rendition "audio-<lang>" that players list in their language menu, e.g.
--audio-track "de:Deutsch (interpretation):1". The test pattern makes
one tone per stream`
  },
  { name: 'segment-duration', value: '<s>', seconds: assertSegmentDuration, help: `seconds per segment and GOP (default ${DEFAULT_SEGMENT_DURATION})` },
  {
    name: 'part-duration',
    value: '<s>',
    seconds: value => assertPartDuration(value),
    help: `seconds per LL-HLS part, e.g. 0.333 (default ${DEFAULT_PART_DURATION}: no parts): the
MPEG-TS renditions are cut by the origin as ffmpeg encodes them, and each
part is stored as a block and announced on the room's parts topic at once,
for relays that serve low-latency HLS and for the player's low-latency
mode; segments are announced as before. At most half a segment`
  },
  {
    name: 'room-key',
    value: '<peer id>',
    multiple: true,
    help: `key of another origin of this room, repeatable: a hot standby and its primary
each list the other's "room key:" line. This origin then never numbers a
segment below the other's, so relays that switch over (they follow the first
--origin they were given, and the next when it stops for 2 segments) see the
sequence keep rising. Relays list both origins: --origin <primary> --origin <standby>`
  },
  {
    name: 'thumbnail-interval',
    value: '<s>',
    seconds: assertThumbnailInterval,
    help: `seconds between room thumbnails: a 320 px JPEG stored as a block and
announced for room lists (default ${DEFAULT_THUMBNAIL_INTERVAL}; 0 turns them off)`
  },
  {
    name: 'recording-interval',
    value: '<s>',
    seconds: assertRecordingInterval,
    help: `seconds between interim recordings of a live session (default ${DEFAULT_RECORDING_INTERVAL});
every session is recorded: one UnixFS directory (index.m3u8, VOD playlists,
segments) announced by CID, and a final one when the session ends`
  },
  {
    name: 'schedule',
    value: '<file|url>',
    help: `the conference schedule: frab/pretalx XML or schedule.json, or Hivecast's
JSON; read at start (the origin stops if it cannot be used) and every 60 s.
Talks in this room (a schedule room named like the slug or --title) whose
speakers opted out (<recording><optout>true, "do_not_record": true) or
that are flagged streamed or not-streamed are left out of every recording;
live streaming is not changed. Times without an offset are read in the
schedule's time_zone_name`
  },
  {
    name: 'admin-token-file',
    value: '<file>',
    help: `a file (mode 0600) holding a bearer token, 16+ characters: turns on
POST /admin/opt-out on --http, with "Authorization: Bearer <token>" and
{ "talk": "<schedule event id>" } or { "from": "<ISO time>", "to": "<ISO time>" },
for a last-minute opt-out: recordings made after it leave that range out,
and ones already announced are withdrawn from the relays (a signed
withdrawal); GET /admin/opt-outs lists them`
  },
  {
    name: 'captions',
    value: '<lang>:<name>',
    help: `a subtitle rendition, e.g. en:English: WebVTT segments cut with the video's
(same sequence numbers), listed as EXT-X-MEDIA TYPE=SUBTITLES; the test
pattern's carry the clock, one cue a second; text comes from the captioner
and from CEA-608 captions in the input's H.264 (A/53, channel CC1)`
  },
  {
    name: 'caption-token-file',
    value: '<file>',
    help: `a file (mode 0600) holding a bearer token, 16+ characters: turns on the
live captioner on --http: the page GET /captioner, and POST /captions with
"Authorization: Bearer <token>" and { "text": "...", "typingMs": 1200 };
each line is a cue at the time it was typed, in the next subtitle segment`
  },
  {
    name: 'ready-file',
    value: '<path>',
    help: `once the origin serves, write there (atomically) a JSON document with its
status URL, room key, libp2p addresses and input listen addresses, for
supervisors and scripts (instead of reading the log)`
  },
  {
    name: 'push-fanout',
    value: '<relays>',
    help: `relays each segment is sent to as soon as it is announced (default 1); they
pass it on to the other relays in a tree, so the uplink carries about this
many copies whatever the number of relays. 0 to 4; 0: relays fetch segments`
  },
  { name: 'log-level', value: '<level>', help: 'error, warn, info or debug (default: LOG_LEVEL, else info)' },
  { name: 'help', short: 'h', help: 'show this help' },
  { name: 'version', short: 'v', help: 'print the version' }
]

export type ParseArgsFlags = Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }>

/** The flag table as `parseArgs` takes it. */
export function parseArgsFlags (flags: readonly OriginFlag[] = ORIGIN_FLAGS): ParseArgsFlags {
  return Object.fromEntries(flags.map(f => [f.name, {
    type: f.value === undefined ? 'boolean' : 'string',
    ...(f.multiple === true ? { multiple: true } : {}),
    ...(f.short === undefined ? {} : { short: f.short })
  }]))
}

const HELP_COLUMN = 28

/** The flag table as --help shows it: the flag, then its text from column 28. */
export function flagsHelp (flags: readonly OriginFlag[] = ORIGIN_FLAGS): string {
  return flags.map(f => {
    const usage = `  ${f.short === undefined ? '' : `-${f.short}, `}--${f.name}${f.value === undefined ? '' : ` ${f.value}`}`
    const [first = '', ...rest] = f.help.split('\n')
    const head = usage.length < HELP_COLUMN - 1 ? `${usage.padEnd(HELP_COLUMN)}${first}` : `${usage}\n${' '.repeat(HELP_COLUMN)}${first}`
    return [head, ...rest.map(line => `${' '.repeat(HELP_COLUMN)}${line}`)].join('\n')
  }).join('\n')
}
