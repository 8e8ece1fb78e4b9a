/**
 * The rooms file (`--config rooms.yaml`): one entry per room with its slug, title, input, ladder,
 * segment duration, schedule and data directory. It is checked whole before anything starts; the first
 * problem stops the origin with the field's path (`rooms[0].input.key`) and what to write instead.
 * Relative paths (data, input.path, slate, schedule) are taken from the file's own directory, so the
 * file can move with them.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import * as v from 'valibot'
import { parse as parseYaml } from 'yaml'
import { InvalidConfigError, MissingResourceError, assertRoomSlug, checkConfig, checkConfigField, configFields, errorMessage, parseHostPort } from '@hivecast/shared'
import { assertPeerId, assertSegmentDuration, assertThumbnailInterval } from './origin-options.ts'
import { assertScheduleSource, isScheduleUrl } from './recording-consent.ts'
import { resolveRenditions, RENDITION_PRESETS } from './rendition-ladder.ts'
import { InvalidInputFieldError, assertStreamInput, INPUT_KINDS } from './stream-input.ts'
import type { StreamInput } from './stream-input.ts'
import { assertAudioTracks } from './audio-tracks.ts'
import type { AudioTrack } from './audio-tracks.ts'

export interface RoomConfig {
  slug: string
  title?: string
  input?: StreamInput
  renditions?: string[]
  /** Interpretation: further audio streams of the input as alternate audio renditions. */
  audioTracks?: AudioTrack[]
  segmentDuration?: number
  thumbnailInterval?: number
  /** Keys of the room's other origins (hot standby). */
  roomKeys?: string[]
  /** A video or still image published while no input arrives. */
  slate?: string
  /** The conference schedule (file or http(s) URL) that says which talks may be recorded. */
  schedule?: string
  data?: string
  http?: string
  listen?: string[]
}

const text = (what: string, example: string): v.GenericSchema<unknown, string> =>
  v.pipe(v.string(`must be ${what}, e.g. ${example}`), v.nonEmpty(`must not be empty: give ${what}, e.g. ${example}`))

const address = (example: string): v.GenericSchema<unknown, string> => text('host:port', example)

const inputSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('test-pattern') }, configFields('a test-pattern input has only kind')),
  v.strictObject({ kind: v.literal('file'), path: text('a path to a video file', 'rehearsal.mp4') }, configFields('a file input has kind and path')),
  v.strictObject({ kind: v.literal('rtmp'), listen: address('0.0.0.0:1935'), key: text('the stream key publishers use', 'a long random string') },
    configFields('an rtmp input has kind, listen and key')),
  v.strictObject({
    kind: v.literal('srt'),
    mode: v.picklist(['listener', 'caller'], 'must be listener (the sender calls us) or caller (we call the sender)'),
    address: address('0.0.0.0:9000'),
    passphrase: v.optional(text('the SRT passphrase, 10 to 64 characters', 'a long random string'))
  }, configFields('an srt input has kind, mode, address and passphrase')),
  v.strictObject({ kind: v.literal('udp'), listen: address('0.0.0.0:5000 or 239.0.0.1:5000 for multicast') }, configFields('a udp input has kind and listen')),
  v.strictObject({ kind: v.literal('tcp'), listen: address('0.0.0.0:9001') }, configFields('a tcp input has kind and listen')),
  v.strictObject({ kind: v.literal('http'), url: text('a URL of an MPEG-TS stream', 'http://encoder.local:8000/live.ts') }, configFields('an http input has kind and url'))
], `must have a kind, one of ${INPUT_KINDS.join(', ')}`)

const roomSchema = v.strictObject({
  slug: text('the room\'s slug', 'janson'),
  title: v.optional(text('a title', 'Janson (main hall)')),
  input: v.optional(inputSchema),
  renditions: v.optional(v.pipe(
    v.array(v.string(), `must be a list of presets, e.g. [720p, 360p], from ${RENDITION_PRESETS.map(p => p.name).join(', ')}`),
    v.minLength(1, 'must list at least one rendition'))),
  audioTracks: v.optional(v.array(v.strictObject({
    language: text('a language tag', 'de'),
    name: text('the name players show', 'Deutsch (interpretation)'),
    stream: v.number('must be the input\'s audio stream, counted from 0 (the program\'s sound), e.g. 1')
  }, configFields('an audio track has language, name and stream')), 'must be a list of audio tracks, e.g. [{ language: de, name: Deutsch, stream: 1 }]')),
  segmentDuration: v.optional(v.number('must be a number of seconds, e.g. 1')),
  thumbnailInterval: v.optional(v.number('must be a number of seconds, e.g. 10, or 0 for no thumbnails')),
  roomKeys: v.optional(v.array(text('a peer id', '12D3KooW...'), 'must be a list of the other origins\' keys, e.g. [12D3KooW...]')),
  slate: v.optional(text('a path to a video or image file', 'slate.png')),
  schedule: v.optional(text('a file or http(s) URL of the conference schedule', 'https://pretalx.example.org/conf/schedule/export/schedule.xml')),
  data: v.optional(text('a directory', './.data/janson')),
  http: v.optional(address('127.0.0.1:8090')),
  listen: v.optional(v.array(text('a libp2p multiaddr', '/ip4/0.0.0.0/tcp/9090'), 'must be a list of multiaddrs, e.g. [/ip4/0.0.0.0/tcp/9090]'))
}, configFields('a room has slug, title, input, renditions, audioTracks, segmentDuration, thumbnailInterval, roomKeys, slate, schedule, data, http and listen'))

const fileSchema = v.strictObject({
  rooms: v.pipe(v.array(roomSchema, 'must be a list of rooms, each starting with "- slug: <name>"'), v.minLength(1, 'must list at least one room'))
}, configFields('the file has one top-level field, rooms'))

/** Checks a room's input; a problem is reported at the field it names, e.g. `rooms[0].input.key`. */
function checkInput (file: string, at: string, input: StreamInput): void {
  try {
    assertStreamInput(input)
  } catch (err) {
    if (!(err instanceof InvalidInputFieldError)) throw err
    throw new InvalidConfigError(`${file}: ${at}.input.${err.field}: ${err.problem}`, { cause: err })
  }
}

/** Parses and checks a rooms file's text; `file` names it in errors and anchors relative paths. */
export function parseRoomConfig (source: string, file: string): RoomConfig[] {
  let raw: unknown
  try {
    raw = parseYaml(source)
  } catch (err) {
    throw new InvalidConfigError(`${file} is not valid YAML: ${errorMessage(err).split('\n')[0] ?? ''}. Fix the line it names.`, { cause: err })
  }
  const checked = checkConfig(fileSchema, raw, file)
  const base = dirname(resolve(file))
  const seen = new Set<string>()
  return checked.rooms.map((room, i) => {
    const at = `rooms[${i}]`
    checkConfigField(file, `${at}.slug`, () => assertRoomSlug(room.slug))
    if (seen.has(room.slug)) throw new InvalidConfigError(`${file}: ${at}.slug "${room.slug}" is listed twice: give each room its own slug`)
    seen.add(room.slug)
    if (room.audioTracks !== undefined) checkConfigField(file, `${at}.audioTracks`, () => assertAudioTracks(room.audioTracks ?? []))
    if (room.renditions !== undefined) checkConfigField(file, `${at}.renditions`, () => resolveRenditions(room.renditions ?? []))
    if (room.segmentDuration !== undefined) checkConfigField(file, `${at}.segmentDuration`, () => assertSegmentDuration(room.segmentDuration ?? 0))
    if (room.thumbnailInterval !== undefined) checkConfigField(file, `${at}.thumbnailInterval`, () => assertThumbnailInterval(room.thumbnailInterval ?? 0))
    for (const [k, key] of (room.roomKeys ?? []).entries()) checkConfigField(file, `${at}.roomKeys[${k}]`, () => assertPeerId(key))
    if (room.http !== undefined) checkConfigField(file, `${at}.http`, () => parseHostPort(room.http ?? ''))
    if (room.schedule !== undefined) checkConfigField(file, `${at}.schedule`, () => assertScheduleSource(room.schedule ?? ''))
    let input: StreamInput | undefined = room.input
    if (input !== undefined) {
      checkInput(file, at, input)
      if (input.kind === 'file') input = { kind: 'file', path: resolve(base, input.path) }
    }
    return {
      slug: room.slug,
      ...(room.title === undefined ? {} : { title: room.title }),
      ...(input === undefined ? {} : { input }),
      ...(room.renditions === undefined ? {} : { renditions: room.renditions }),
      ...(room.audioTracks === undefined ? {} : { audioTracks: room.audioTracks }),
      ...(room.segmentDuration === undefined ? {} : { segmentDuration: room.segmentDuration }),
      ...(room.thumbnailInterval === undefined ? {} : { thumbnailInterval: room.thumbnailInterval }),
      ...(room.roomKeys === undefined ? {} : { roomKeys: room.roomKeys }),
      ...(room.slate === undefined ? {} : { slate: resolve(base, room.slate) }),
      ...(room.schedule === undefined ? {} : { schedule: isScheduleUrl(room.schedule) ? room.schedule : resolve(base, room.schedule) }),
      ...(room.data === undefined ? {} : { data: resolve(base, room.data) }),
      ...(room.http === undefined ? {} : { http: room.http }),
      ...(room.listen === undefined ? {} : { listen: room.listen })
    }
  })
}

export async function loadRoomConfig (file: string): Promise<RoomConfig[]> {
  let source: string
  try {
    source = await readFile(file, 'utf8')
  } catch (err) {
    throw new MissingResourceError(`cannot read --config ${file}: ${errorMessage(err)}`, { cause: err })
  }
  return parseRoomConfig(source, file)
}

/** The room this process runs: the only one, or the one `--room` names. */
export function pickRoom (rooms: readonly RoomConfig[], slug: string | undefined, file: string): RoomConfig {
  const slugs = rooms.map(r => r.slug).join(', ')
  if (slug === undefined) {
    if (rooms.length === 1) return rooms[0]!
    throw new InvalidConfigError(`${file} lists several rooms (${slugs}): choose one with --room; run one origin per room`)
  }
  const room = rooms.find(r => r.slug === slug)
  if (room === undefined) throw new InvalidConfigError(`--room ${slug} is not in ${file}, which lists ${slugs}`)
  return room
}
