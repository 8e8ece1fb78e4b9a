/**
 * Recording consent from the conference schedule (`--schedule <file-or-url>`): the origin reads its
 * room's talks with the shared reader (frab/pretalx XML or schedule.json, or Hivecast's JSON), matches
 * schedule rooms to its room as the site does (name equals the slug or the title, case ignored), and
 * tells the session recorder which talks must stay out of every published recording: those flagged
 * `streamed` or `not-streamed`, and those whose speakers opted out. Live streaming is not changed.
 *
 * The schedule is read once at start (a failure stops the origin: it would otherwise record talks it
 * must not) and again every minute; a failed re-read keeps the last good schedule and logs a warning.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { InvalidConfigError, MissingResourceError, MAX_SCHEDULE_CHARS, STREAMING, errorMessage, isRecorded, parseSchedule, talksOfRoom } from '@hivecast/shared'
import type { Logger, Schedule, Talk } from '@hivecast/shared'

/** Re-read this often: organisers change schedules during the day. */
export const SCHEDULE_REREAD_MS = 60_000
const FETCH_TIMEOUT_MS = 10_000

export interface RecordingConsentOptions {
  /** A file path or an http(s) URL; none when only the organisers' opt-outs decide. */
  source?: string
  room: { slug: string, title: string }
  log: Logger
  /** Default SCHEDULE_REREAD_MS. */
  rereadMs?: number
  /** Where the organisers' last-minute opt-outs are kept, so a restart keeps them. */
  store?: string
}

/** An organisers' opt-out: a talk of the schedule by its id, or a time range. */
export type OptOutRequest = { talk: string } | { from: number, to: number, title: string }

/** The schedule's part in /status. */
export interface ScheduleStatus {
  /** Where it is read from (a URL without credentials). */
  source: string
  /** When it was last read successfully, ms since the epoch. */
  readAt: number
  /** The room's talks in it, and how many of them are not to be recorded. */
  talks: number
  notRecorded: number
  /** Events of the whole schedule that did not validate. */
  ignored: number
  timeZone: string | null
  /** The last re-read's failure, while the last good schedule is still used. */
  error: string | null
  /** Talks and ranges the organisers opted out through the admin endpoint. */
  optOuts: number
}

/** Checks a `--schedule` value: an http(s) URL or a file path. */
export function assertScheduleSource (value: string): string {
  const source = value.trim()
  if (source === '') throw new InvalidConfigError('the schedule is empty: give the conference schedule\'s file or http(s) URL (frab/pretalx XML or schedule.json)')
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    let url: URL
    try {
      url = new URL(source)
    } catch (err) {
      throw new InvalidConfigError(`the schedule ${shown(source)} is not a valid URL: ${errorMessage(err)}`, { cause: err })
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidConfigError(`the schedule ${shown(source)}: only http(s) URLs or file paths are read`)
  }
  return source
}

/** True when the source is an http(s) URL rather than a file path. */
export function isScheduleUrl (source: string): boolean {
  return /^https?:\/\//i.test(source)
}

/** A source as logs and /status show it: URL credentials blanked. */
function shown (source: string): string {
  try {
    const url = new URL(source)
    if (url.username !== '' || url.password !== '') { url.username = '***'; url.password = '' }
    return url.toString()
  } catch {
    return source
  }
}

export class RecordingConsent {
  readonly #options: RecordingConsentOptions
  readonly #source: string
  #schedule: Schedule
  /** The room's talks that may not be recorded, by start. */
  #notRecorded: Talk[] = []
  #talks = 0
  #readAt = 0
  #error: string | null = null
  #timer: NodeJS.Timeout | undefined
  /** The organisers' opt-outs, kept whatever the schedule says later. */
  #optOuts: Talk[] = []

  private constructor (options: RecordingConsentOptions, schedule: Schedule) {
    this.#options = options
    this.#source = options.source === undefined ? '' : shown(options.source)
    this.#schedule = schedule
    if (options.source !== undefined) this.#use(schedule)
  }

  /**
   * Reads the schedule (throwing when it cannot be used) and re-reads it until stop(); loads the
   * organisers' opt-outs (throwing when their file is damaged: they must not be lost quietly).
   */
  static async open (options: RecordingConsentOptions): Promise<RecordingConsent> {
    const { source } = options
    const consent = new RecordingConsent(options, source === undefined ? { talks: [], ignored: [], timeZone: undefined, warnings: [] } : await readSchedule(source))
    if (options.store !== undefined) consent.#optOuts = await readOptOuts(options.store)
    if (source !== undefined) {
      consent.#timer = setInterval(() => { void consent.reread() }, options.rereadMs ?? SCHEDULE_REREAD_MS)
      consent.#timer.unref()
    }
    return consent
  }

  /** Reads the schedule again; on failure keeps the last good one and logs why. */
  async reread (): Promise<void> {
    if (this.#options.source === undefined) return
    try {
      this.#use(await readSchedule(this.#options.source))
      this.#error = null
    } catch (err) {
      this.#error = errorMessage(err)
      this.#options.log.warn(`schedule: re-reading ${this.#source} failed, keeping the one read at ${new Date(this.#readAt).toISOString()}: ${this.#error}`)
    }
  }

  #use (schedule: Schedule): void {
    const { room, log } = this.#options
    const talks = talksOfRoom(schedule, room)
    const notRecorded = talks.filter(talk => !isRecorded(talk))
    const changed = this.#readAt === 0 || talks.length !== this.#talks || notRecorded.map(t => `${t.id}@${t.start}-${t.end}`).join() !== this.#notRecorded.map(t => `${t.id}@${t.start}-${t.end}`).join()
    this.#schedule = schedule
    this.#talks = talks.length
    this.#notRecorded = notRecorded
    this.#readAt = Date.now()
    if (!changed) return
    for (const warning of schedule.warnings) log.warn(`schedule: ${warning}`)
    if (schedule.ignored.length > 0) log.warn(`schedule: ${schedule.ignored.length} event(s) skipped, so not checked for consent (${schedule.ignored.slice(0, 3).join('; ')})`)
    if (talks.length === 0) {
      const rooms = [...new Set(schedule.talks.map(t => t.room))].slice(0, 10).join(', ')
      log.warn(`schedule: no talk of ${this.#source} is in room "${room.slug}" or "${room.title}" (its rooms: ${rooms}); name the room like the schedule does (--title)`)
    } else {
      log.info(`schedule: ${talks.length} talks in ${room.slug} from ${this.#source}, ${notRecorded.length} of them not to be recorded`)
    }
  }

  /** The first talk that may not be recorded and plays at some instant in [from, to), if any. */
  withholding (from: number, to: number): Talk | undefined {
    const overlaps = (talk: Talk): boolean => talk.start < to && talk.end > from
    return this.#optOuts.find(overlaps) ?? this.#notRecorded.find(overlaps)
  }

  /**
   * Opts out a talk of the room's schedule or a time range, for every recording made from now on;
   * kept in the store. Returns the opted-out talk, or why there is none.
   */
  async optOut (request: OptOutRequest): Promise<Talk | string> {
    const { room, store } = this.#options
    let talk: Talk
    if ('talk' in request) {
      const found = talksOfRoom(this.#schedule, room).find(t => t.id === request.talk)
      if (found === undefined) return `the schedule has no talk "${request.talk}" in room ${room.slug}`
      talk = { ...found, optOut: true }
    } else {
      talk = { id: `opt-out-${this.#optOuts.length + 1}`, room: room.slug, title: request.title, start: request.from, end: request.to, persons: [], streaming: 'recorded', optOut: true }
    }
    const next = [...this.#optOuts, talk]
    if (store !== undefined) await writeOptOuts(store, next)
    this.#optOuts = next
    return talk
  }

  optOuts (): Talk[] {
    return this.#optOuts.map(talk => ({ ...talk }))
  }

  status (): ScheduleStatus {
    return {
      source: this.#source,
      readAt: this.#readAt,
      talks: this.#talks,
      notRecorded: this.#notRecorded.length,
      ignored: this.#schedule.ignored.length,
      timeZone: this.#schedule.timeZone ?? null,
      error: this.#error,
      optOuts: this.#optOuts.length
    }
  }

  stop (): void {
    clearInterval(this.#timer)
  }
}

/** Reads and parses a schedule file or URL; throws saying what to fix. */
async function readSchedule (source: string): Promise<Schedule> {
  const text = isScheduleUrl(source) ? await fetchSchedule(source) : await readScheduleFile(source)
  const result = parseSchedule(text)
  if (!result.ok) throw new InvalidConfigError(`the schedule ${shown(source)} cannot be used: ${result.message}`)
  return result.schedule
}

async function readScheduleFile (path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new MissingResourceError(`cannot read the schedule ${path} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}): give a file the origin can read`, { cause: err })
  }
}

async function fetchSchedule (url: string): Promise<string> {
  // fetch() takes no credentials in the URL: they go in a Basic Authorization header.
  const target = new URL(url)
  const headers = new Headers()
  if (target.username !== '' || target.password !== '') {
    headers.set('Authorization', `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`)
    target.username = ''
    target.password = ''
  }
  let response: Response
  try {
    response = await fetch(target, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
  } catch (err) {
    throw new MissingResourceError(`cannot fetch the schedule ${shown(url)}: ${errorMessage(err)}`, { cause: err })
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new MissingResourceError(`the schedule ${shown(url)} answered HTTP ${response.status}; check the URL`)
  }
  // Read with a bound: a schedule server is not trusted to send a sane amount.
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = response.body?.getReader()
  try {
    for (let chunk = await reader?.read(); chunk !== undefined && !chunk.done; chunk = await reader?.read()) {
      size += chunk.value.byteLength
      if (size > MAX_SCHEDULE_CHARS) {
        await reader?.cancel()
        throw new InvalidConfigError(`the schedule ${shown(url)} is over ${MAX_SCHEDULE_CHARS} bytes, more than a conference schedule can be`)
      }
      chunks.push(chunk.value)
    }
  } catch (err) {
    if (err instanceof InvalidConfigError) throw err
    throw new MissingResourceError(`reading the schedule ${shown(url)} failed: ${errorMessage(err)}`, { cause: err })
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The organisers' opt-outs as stored: none when the file does not exist yet. */
async function readOptOuts (file: string): Promise<Talk[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new MissingResourceError(`cannot read the opt-outs ${file}: ${errorMessage(err)}`, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new InvalidConfigError(`${file} is damaged (not JSON): it holds the organisers' opt-outs; repair it rather than delete it`, { cause: err })
  }
  if (!Array.isArray(value) || !value.every(isStoredTalk)) throw new InvalidConfigError(`${file} is damaged (not a list of opt-outs): it holds the organisers' opt-outs; repair it rather than delete it`)
  return value
}

function isStoredTalk (value: unknown): value is Talk {
  if (typeof value !== 'object' || value === null) return false
  const t = value as Record<string, unknown>
  return typeof t.id === 'string' && typeof t.room === 'string' && typeof t.title === 'string' && Number.isSafeInteger(t.start) && Number.isSafeInteger(t.end) &&
    Array.isArray(t.persons) && t.persons.every(p => typeof p === 'string') && typeof t.streaming === 'string' && (STREAMING as readonly string[]).includes(t.streaming) && t.optOut === true
}

/** Written whole and renamed into place, so a crash leaves the old list or the new one. */
async function writeOptOuts (file: string, talks: Talk[]): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(talks, null, 1) + '\n')
  await rename(`${file}.tmp`, file)
}
