/**
 * What the origin encodes: a tagged union of input kinds, each turned into the `-i` half of the one
 * ffmpeg command that does the whole ladder. Listening kinds (rtmp, srt listener, udp, tcp) make
 * ffmpeg wait for a sender; when the sender goes away ffmpeg's read times out or hits end of stream,
 * it exits, and the supervisor starts it listening again.
 */
import { access } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { InvalidInputError, isHivecastError, parseHostPort } from '@hivecast/shared'
import type { HivecastErrorOptions, HostPort } from '@hivecast/shared'
import { placeholderName } from './rtmp-gate.ts'

export type StreamInput =
  | { kind: 'test-pattern' }
  /** A local file, looped in real time: for rehearsals. */
  | { kind: 'file', path: string }
  /** RTMP push: the origin listens on `listen` (host:port); publishers use `rtmp://host:port/live/<key>`. */
  | { kind: 'rtmp', listen: string, key: string }
  /** SRT: listen for a caller on `address` or call a listener there; `passphrase` turns on encryption. */
  | { kind: 'srt', mode: 'listener' | 'caller', address: string, passphrase?: string }
  /** MPEG-TS over UDP received on `listen`; a multicast group address (224.0.0.0/4) is joined. */
  | { kind: 'udp', listen: string }
  /** MPEG-TS over TCP: the origin listens on `listen` for one sender at a time. */
  | { kind: 'tcp', listen: string }
  /** Pull a live MPEG-TS stream over HTTP(S). */
  | { kind: 'http', url: string }

export type InputKind = StreamInput['kind']
export const INPUT_KINDS: readonly InputKind[] = ['test-pattern', 'file', 'rtmp', 'srt', 'udp', 'tcp', 'http']

export interface InputContext {
  room: string
  /** Size of the top rendition: the pattern is generated at it, so no rendition is upscaled. */
  width: number
  height: number
  frameRate: number
  /** When ffmpeg starts; the burned-in clock counts on from here. */
  now: Date
  /** A TrueType font for drawtext, or undefined to run without burned-in text. */
  font: string | undefined
  /** Audio streams the ladder maps (1 + the highest interpretation track's stream): the test pattern makes as many tones. */
  audioStreams?: number
  /** For rtmp: the loopback port ffmpeg listens on behind the stream-key gate. */
  rtmpInternalPort?: number
  /** For srt and http: where the input description that holds their secrets is written (mode 0600). */
  inputFile?: string
}

/** The input half of an ffmpeg command: `-i` arguments plus where the video and audio come out. */
export interface PreparedInput {
  args: string[]
  /** Filtergraph pad of the video stream, e.g. `[0:v]`. */
  videoPad: string
  /** Filters applied to the video before it is split into renditions. */
  videoFilters: string[]
  /**
   * `-map` specifier of the input's audio stream `stream` (0: the program's own sound, mapped once per
   * rendition; more for interpretation tracks).
   */
  audioStreamMap: (stream: number) => string
  description: string
  /**
   * A file to write (mode 0600) before ffmpeg starts: an ffconcat description naming a URL with
   * secrets in it, so that they are not in ffmpeg's argv, which every user sees in ps.
   */
  file?: { path: string, content: string }
}

/** A network read that stalls this long ends the run, so a vanished sender means a restart. */
export const READ_TIMEOUT_US = 5_000_000
/** SRT passphrases: libsrt takes 10 to 79 characters (ffmpeg 5.1 documents at most 64). */
const SRT_PASSPHRASE = /^[\x21-\x7e]{10,64}$/
/** Stream keys travel in an RTMP path: keep them URL-safe and short enough for one RTMP chunk. */
export const STREAM_KEY = /^[A-Za-z0-9_-]{8,64}$/

/** Whether ffmpeg waits for a sender to connect: such inputs restart quickly and show "waiting for signal". */
export function isListening (input: StreamInput): boolean {
  return input.kind === 'rtmp' || input.kind === 'udp' || input.kind === 'tcp' || (input.kind === 'srt' && input.mode === 'listener')
}

/** A field of a stream input that cannot be used: `field` names it (`listen`, `key`, ...), `problem` says why. */
export class InvalidInputFieldError extends InvalidInputError {
  static override name = 'InvalidInputFieldError'
  override name = 'InvalidInputFieldError'
  readonly field: string
  readonly problem: string

  constructor (field: string, problem: string, options?: HivecastErrorOptions) {
    super(`input.${field} ${problem}`, options)
    this.field = field
    this.problem = problem
  }
}

/** An input's `host:port` (`:1935` is loopback); it needs a real port, ffmpeg binds or dials it. */
function splitAddress (address: string, field: string): HostPort {
  let parsed: HostPort | undefined
  try {
    parsed = parseHostPort(address)
  } catch (err) {
    if (!isHivecastError(err, 'INVALID_ADDRESS')) throw err
  }
  if (parsed === undefined || parsed.port === 0) throw new InvalidInputFieldError(field, `"${address}" is not host:port: use e.g. 0.0.0.0:1935`)
  return parsed
}

/** Where the origin listens for `input`, as a URL without secrets; empty for inputs it pulls or makes. */
export function inputListenAddresses (input: StreamInput): string[] {
  switch (input.kind) {
    case 'rtmp': return [`rtmp://${input.listen}/live`]
    case 'srt': return input.mode === 'listener' ? [`srt://${input.address}?mode=listener`] : []
    case 'udp': return [`udp://${input.listen}`]
    case 'tcp': return [`tcp://${input.listen}`]
    default: return []
  }
}

function urlHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

function isMulticast (host: string): boolean {
  const first = Number(host.split('.')[0])
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? first >= 224 && first <= 239 : /^ff/i.test(host)
}

/**
 * Checks an input descriptor and throws an error that names the field and the fix. Config files and
 * `--input` URLs both end up here, so what ffmpeg is given has always been checked.
 */
export function assertStreamInput (input: StreamInput): StreamInput {
  switch (input.kind) {
    case 'test-pattern': return input
    case 'file':
      if (input.path.trim() === '') throw new InvalidInputFieldError('path', 'is empty: give the path of a video file with audio, e.g. talk.mp4')
      return input
    case 'rtmp':
      splitAddress(input.listen, 'listen')
      if (!STREAM_KEY.test(input.key)) throw new InvalidInputFieldError('key', 'is not a usable stream key: use 8 to 64 letters, digits, "-" or "_"')
      return input
    case 'srt':
      if (input.mode !== 'listener' && input.mode !== 'caller') throw new InvalidInputFieldError('mode', `"${String(input.mode)}" is not an SRT mode: use listener or caller`)
      splitAddress(input.address, 'address')
      if (input.passphrase !== undefined && !SRT_PASSPHRASE.test(input.passphrase)) {
        throw new InvalidInputFieldError('passphrase', 'is not a usable SRT passphrase: use 10 to 64 printable characters without spaces')
      }
      return input
    case 'udp':
    case 'tcp':
      splitAddress(input.listen, 'listen')
      return input
    case 'http': {
      let url: URL
      try {
        url = new URL(input.url)
      } catch {
        throw new InvalidInputFieldError('url', `"${input.url}" is not a URL: use e.g. http://encoder.local:8000/stream.ts`)
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidInputFieldError('url', `"${input.url}" must start with http:// or https://`)
      return input
    }
    default:
      // Callers from plain JavaScript can pass anything.
      throw new InvalidInputFieldError('kind', `${JSON.stringify((input as { kind: unknown }).kind)} is unknown: use one of ${INPUT_KINDS.join(', ')}`)
  }
}

/** The path of a `file://` URL, or an error that says what a file URL looks like. */
function filePath (value: string): string {
  try {
    return fileURLToPath(value)
  } catch (err) {
    throw new InvalidInputError(`invalid --input "${value}": ${(err as Error).message}; use file:///absolute/path.ts or file:<path>`)
  }
}

/** Secrets given apart from the `--input` URL (from the environment), which then may leave them out. */
export interface SeparateSecrets {
  rtmpKey?: string
  srtPassphrase?: string
}

/**
 * Parses the `--input` flag: `test-pattern`, `file:<path>`, `rtmp://<host:port>/live/<key>`,
 * `srt://<host:port>?mode=listener|caller&passphrase=<p>`, `udp://<host:port>`, `tcp://<host:port>`,
 * or an `http(s)://` URL. A key or passphrase in `secrets` replaces the URL's.
 */
export function parseInputUrl (value: string, secrets: SeparateSecrets = {}): StreamInput {
  if (value === 'test-pattern') return { kind: 'test-pattern' }
  if (value.startsWith('file:')) return assertStreamInput({ kind: 'file', path: value.startsWith('file://') ? filePath(value) : value.slice(5) })
  const scheme = /^([a-z]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/.exec(value)
  if (scheme === null) throw new InvalidInputError(`invalid --input "${value}": use test-pattern, file:<path>, or an rtmp://, srt://, udp://, tcp://, http:// URL`)
  const [, protocol, address = '', path = '', query = ''] = scheme
  const params = new URLSearchParams(query)
  switch (protocol) {
    case 'rtmp': {
      const match = /^\/live(?:\/([^/]+))?$/.exec(path)
      const key = secrets.rtmpKey ?? match?.[1]
      if (match === null || key === undefined) throw new InvalidInputError(`invalid --input "${value}": an RTMP input is rtmp://<listen host:port>/live/<stream key>, or rtmp://<listen host:port>/live with the key in HIVECAST_RTMP_KEY`)
      return assertStreamInput({ kind: 'rtmp', listen: address, key })
    }
    case 'srt': {
      const mode = params.get('mode') ?? 'caller'
      if (mode !== 'listener' && mode !== 'caller') throw new InvalidInputError(`invalid --input "${value}": mode must be listener or caller`)
      const passphrase = secrets.srtPassphrase ?? params.get('passphrase') ?? undefined
      return assertStreamInput(passphrase === undefined ? { kind: 'srt', mode, address } : { kind: 'srt', mode, address, passphrase })
    }
    case 'udp':
    case 'tcp':
      return assertStreamInput({ kind: protocol, listen: address })
    case 'http':
    case 'https':
      return assertStreamInput({ kind: 'http', url: value })
    default:
      throw new InvalidInputError(`invalid --input "${value}": unknown scheme ${protocol}://, use rtmp, srt, udp, tcp or http(s)`)
  }
}

/** Where the input comes from, without secrets: for logs and /status. */
export function describeInput (input: StreamInput): string {
  switch (input.kind) {
    case 'test-pattern': return 'test pattern'
    case 'file': return `file ${input.path} (looped)`
    case 'rtmp': return `RTMP listening on ${input.listen} (stream key required)`
    case 'srt': return `SRT ${input.mode} ${input.mode === 'listener' ? 'on' : 'to'} ${input.address}${input.passphrase === undefined ? '' : ' (encrypted)'}`
    case 'udp': return `MPEG-TS over UDP on ${input.listen}${isMulticast(splitAddress(input.listen, 'listen').host) ? ' (multicast)' : ''}`
    case 'tcp': return `MPEG-TS over TCP listening on ${input.listen}`
    case 'http': {
      const url = new URL(input.url)
      return `HTTP pull from ${url.origin}${url.pathname}`
    }
  }
}

/**
 * Fonts Debian's ffmpeg pulls in (fonts-dejavu-core), then the copy shipped by the `dejavu-fonts-ttf`
 * package for machines with no system fonts; monospace first so the clock does not jitter.
 */
const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  fileURLToPath(import.meta.resolve('dejavu-fonts-ttf/ttf/DejaVuSansMono.ttf'))
]

export async function findFont (candidates: readonly string[] = FONT_CANDIDATES): Promise<string | undefined> {
  for (const path of candidates) {
    try {
      await access(path)
      return path
    } catch {}
  }
  return undefined
}

/** Seconds since local midnight, with milliseconds: the offset that makes `pts:hms` show the time of day. */
export function secondsSinceMidnight (now: Date): number {
  const midnight = new Date(now)
  midnight.setHours(0, 0, 0, 0)
  return (now.getTime() - midnight.getTime()) / 1000
}

function testPattern (ctx: InputContext): PreparedInput {
  const { width, height, frameRate } = ctx
  const videoFilters: string[] = []
  if (ctx.font !== undefined) {
    // With -re, pts advances in real time, so pts plus the start's time of day is a wall clock with
    // milliseconds (drawtext's localtime has only seconds). Room slugs and the font paths above hold
    // no filtergraph metacharacters, so nothing needs escaping.
    const fontSize = Math.max(12, Math.round(height / 15))
    videoFilters.push(`drawtext=fontfile=${ctx.font}:text='${ctx.room}  %{pts\\:hms\\:${secondsSinceMidnight(ctx.now).toFixed(3)}}'` +
      `:fontsize=${fontSize}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=${Math.round(fontSize / 4)}` +
      ':x=(w-text_w)/2:y=h/12')
  }
  // One tone per audio stream, each a fifth above the last (440, 660, 990 Hz ...): an interpretation
  // track is heard to be another sound than the program's.
  const tones = Math.max(1, ctx.audioStreams ?? 1)
  return {
    args: [
      '-re', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${frameRate}`,
      ...Array.from({ length: tones }, (_, k) => ['-re', '-f', 'lavfi', '-i', `sine=frequency=${Math.round(440 * 1.5 ** k)}:sample_rate=48000`]).flat()
    ],
    videoPad: '[0:v]',
    videoFilters,
    audioStreamMap: stream => `${1 + Math.min(stream, tones - 1)}:a`,
    description: `test pattern ${width}x${height}@${frameRate}${ctx.font === undefined ? '' : ' with clock'}${tones > 1 ? `, ${tones} tones` : ''}`
  }
}

/**
 * Network inputs name their one protocol and force their demuxer: a hostile source answering with an
 * HLS playlist (or any other format that names URLs) cannot make ffmpeg fetch anything else.
 */
function networkInput (protocols: string, demuxer: string, url: string): string[] {
  return ['-protocol_whitelist', protocols, '-f', demuxer, '-i', url]
}

/** ffconcat quotes: everything between single quotes is literal, a quote is closed, escaped and reopened. */
function ffconcatQuote (value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`
}

/**
 * A URL with secrets goes to ffmpeg in an ffconcat file: concat opens it with the options listed
 * there, and only the concat and MPEG-TS demuxers are allowed, so the stream is still read as
 * MPEG-TS and nothing else.
 */
function describedInput (protocols: string, url: string, options: Record<string, string>, ctx: InputContext): { args: string[], file: { path: string, content: string } } {
  if (ctx.inputFile === undefined) throw new Error('no path for the input description file')
  const lines = ['ffconcat version 1.0', `file ${ffconcatQuote(url)}`, ...Object.entries(options).map(([k, v]) => `option ${k} ${ffconcatQuote(v)}`)]
  return {
    args: ['-protocol_whitelist', `file,${protocols}`, '-format_whitelist', 'concat,mpegts', '-f', 'concat', '-safe', '0', '-i', ctx.inputFile],
    file: { path: ctx.inputFile, content: `${lines.join('\n')}\n` }
  }
}

/** The `-i` arguments that read a network or file input; the first video and first audio stream are used. */
function inputArgs (input: Exclude<StreamInput, { kind: 'test-pattern' }>, ctx: InputContext): { args: string[], file?: { path: string, content: string } } {
  switch (input.kind) {
    case 'file':
      return { args: ['-stream_loop', '-1', '-re', '-i', input.path] }
    case 'rtmp':
      if (ctx.rtmpInternalPort === undefined) throw new Error('the RTMP gate is not running')
      // ffmpeg's RTMP listener accepts any stream name (it only warns), so it listens on loopback
      // behind the gate, which checks the key before a publisher reaches it.
      return { args: ['-listen', '1', ...networkInput('rtmp,tcp', 'flv', `rtmp://127.0.0.1:${ctx.rtmpInternalPort}/live/${placeholderName(input.key)}`)] }
    case 'srt': {
      const { host, port } = splitAddress(input.address, 'address')
      const params = new URLSearchParams({ mode: input.mode })
      if (input.passphrase === undefined) return { args: networkInput('srt', 'mpegts', `srt://${urlHost(host)}:${port}?${params.toString()}`) }
      params.set('passphrase', input.passphrase)
      return describedInput('srt', `srt://${urlHost(host)}:${port}?${params.toString()}`, {}, ctx)
    }
    case 'udp': {
      const { host, port } = splitAddress(input.listen, 'listen')
      // A big receive ring and overrun_nonfatal: a burst must not kill the run; timeout ends it when the sender stops.
      return { args: networkInput('udp', 'mpegts', `udp://${urlHost(host)}:${port}?fifo_size=1000000&overrun_nonfatal=1&timeout=${READ_TIMEOUT_US}`) }
    }
    case 'tcp': {
      const { host, port } = splitAddress(input.listen, 'listen')
      return { args: networkInput('tcp', 'mpegts', `tcp://${urlHost(host)}:${port}?listen=1&timeout=${READ_TIMEOUT_US}`) }
    }
    case 'http': {
      const protocols = new URL(input.url).protocol === 'https:' ? 'https,tls,tcp' : 'http,tcp'
      return describedInput(protocols, input.url, { rw_timeout: String(READ_TIMEOUT_US) }, ctx)
    }
  }
}

export function prepareInput (input: StreamInput, ctx: InputContext): PreparedInput {
  if (input.kind === 'test-pattern') return testPattern(ctx)
  const { args, file } = inputArgs(input, ctx)
  return {
    args,
    videoPad: '[0:v:0]',
    videoFilters: [],
    audioStreamMap: stream => `0:a:${stream}`,
    description: describeInput(input),
    ...(file === undefined ? {} : { file })
  }
}
