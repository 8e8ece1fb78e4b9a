/**
 * The conference schedule, read the same way by the site (what is on, what is recorded) and by the
 * origin (which segments may go into a published recording). Three forms are read:
 *
 * - Pentabarf/frab XML (frab, pretalx, the C3VOC schema): `<schedule><conference><time_zone_name>`,
 *   `<day date>`, `<room name>`, `<event id>` with `<date>` (full ISO time, optional), `<start>`
 *   (HH:MM on the day), `<duration>`, `<title>`, `<persons><person>`, and the speakers' recording
 *   opt-out `<recording><optout>true</optout></recording>` (the legacy `<do_not_record>true` too).
 * - frab/pretalx `schedule.json`: `{ "schedule": { "conference": { "time_zone_name", "days": [{ "date",
 *   "rooms": { "<room>": [event] } }] } } }`, each event with `date`, `start`, `duration`, `title`,
 *   `persons` and `"do_not_record": true` for an opt-out.
 * - Hivecast's own small JSON:
 *
 * ```json
 * { "time_zone_name": "Europe/Brussels",
 *   "talks": [{ "room": "Janson", "title": "Opening", "start": "2026-02-01T09:00:00+01:00",
 *               "duration": "00:25", "persons": ["Ada"], "streaming": "recorded" }] }
 * ```
 *
 * `streaming` is the organisers' per-talk flag: `recorded` (live and kept as a recording; the default),
 * `streamed` (live only), `audio-only` (kept), or `not-streamed`; in the XML it is a `<streaming>`
 * element inside `<event>` (a Hivecast extension). An opt-out (`optOut`) overrides it: the talk is never
 * recorded. A time without an offset is read in the conference's time zone (`time_zone_name`, an IANA
 * name); a schedule that names none is read in the reader's own zone, with a warning. Events that do not
 * validate are left out and listed in `ignored` with the reason; a schedule room belongs to a Hivecast
 * room when its name equals the room's slug or title (case ignored).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { isTimeZone, localZone, parseDateTime, zonedTime } from './schedule-time.ts'

export type Streaming = 'recorded' | 'streamed' | 'audio-only' | 'not-streamed'
export const STREAMING: readonly Streaming[] = ['recorded', 'streamed', 'audio-only', 'not-streamed']

export interface Talk {
  /** The event's id (or guid) in the schedule; `talk-<n>` when it has none. */
  id: string
  room: string
  title: string
  /** ms since the epoch. */
  start: number
  end: number
  persons: string[]
  streaming: Streaming
  /** The speakers opted out of the recording: the talk is never recorded, whatever `streaming` says. */
  optOut: boolean
}

export interface Schedule {
  talks: Talk[]
  /** Events that did not validate, with the reason (at most MAX_IGNORED, the last one counting the rest). */
  ignored: string[]
  /** The conference's IANA time zone, when the schedule names one. */
  timeZone: string | undefined
  /** Problems with the schedule as a whole that still let it be used, e.g. no time zone named. */
  warnings: string[]
}

export type ScheduleResult = { ok: true, schedule: Schedule } | { ok: false, message: string }

/** Larger than any real conference (FOSDEM has ~1,000 events); more is refused, not read. */
export const MAX_TALKS = 5000
export const MAX_IGNORED = 100
/** FOSDEM's XML with abstracts is ~6 MB. */
export const MAX_SCHEDULE_CHARS = 32 * 1024 * 1024
const MAX_PERSONS = 20
const MAX_TITLE = 500

/** True when the talk may be kept in a recording: flagged `recorded` or `audio-only`, and not opted out. */
export function isRecorded (talk: Talk): boolean {
  return !talk.optOut && (talk.streaming === 'recorded' || talk.streaming === 'audio-only')
}

/** Why a talk is not recorded, for logs and pages: "opted out", "streamed live only", "not streamed". */
export function notRecordedReason (talk: Talk): string {
  if (talk.optOut) return 'the speakers opted out of the recording'
  return talk.streaming === 'not-streamed' ? 'it is not streamed' : 'it is streamed live only'
}

/** The talks of one room: schedule rooms named like its slug or its title (case ignored). */
export function talksOfRoom (schedule: Schedule, room: { slug: string, title: string }): Talk[] {
  const names = [room.slug.toLowerCase(), room.title.toLowerCase()]
  return schedule.talks.filter(talk => names.includes(talk.room.toLowerCase()))
}

/** Parses any of the three forms: text starting with `<` is XML, anything else JSON. */
export function parseSchedule (text: string): ScheduleResult {
  if (text.length > MAX_SCHEDULE_CHARS) return { ok: false, message: `the schedule is ${text.length} characters long, more than the ${MAX_SCHEDULE_CHARS} read; publish one file per conference.` }
  return text.trimStart().startsWith('<') ? parseScheduleXml(text) : parseScheduleJson(text)
}

/** Elements that may repeat, always parsed as lists so one and many read alike. */
const XML_LISTS = new Set(['schedule.day', 'schedule.day.room', 'schedule.day.room.event', 'schedule.day.room.event.persons.person'])

export function parseScheduleXml (text: string): ScheduleResult {
  // The parser itself accepts unclosed elements; the validator, from the same package, does not.
  const valid = XMLValidator.validate(text)
  if (valid !== true) {
    return { ok: false, message: `the schedule is not well-formed XML (line ${valid.err.line}: ${valid.err.msg.replace(/\s+/g, ' ').slice(0, 120)}); export it again from frab/pretalx (or check it with xmllint).` }
  }
  let root: Record<string, unknown>
  try {
    root = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '@_',
      // Values stay text: "00:30" and "0800" are not numbers here.
      parseTagValue: false,
      parseAttributeValue: false,
      isArray: (_name, path) => typeof path === 'string' && XML_LISTS.has(path)
    }).parse(text) as Record<string, unknown>
  } catch (err) {
    return { ok: false, message: `the schedule XML cannot be read (${(err as Error).message.slice(0, 120)}); export it again from frab/pretalx.` }
  }
  const top = Object.keys(root).filter(name => !name.startsWith('?'))
  const schedule = root.schedule
  if (!isObject(schedule)) {
    return { ok: false, message: `the schedule XML's root element is <${top[0] ?? '?'}>, not <schedule>; expected the Pentabarf/frab format.` }
  }
  const zone = readZone(childText(child(schedule, 'conference'), 'time_zone_name'))
  if (typeof zone === 'object') return zone
  const reader = new TalkReader(zone)
  for (const day of list(schedule.day)) {
    const dayDate = attribute(day, 'date')
    const dayStart = reader.instant(attribute(day, 'start'))
    for (const room of list(child(day, 'room'))) {
      const roomName = attribute(room, 'name').trim()
      let previous = -1
      for (const event of list(child(room, 'event'))) {
        const clock = childText(event, 'start')
        const minutes = clockMinutes(clock)
        const date = childText(event, 'date')
        // Events after midnight still belong to their conference day: a start earlier than the day's
        // (or than the event before, for schedules without the day's start) is on the next date.
        const start = date !== '' ? reader.instant(date) : reader.onDay(dayDate, clock, at => dayStart !== undefined ? at < dayStart : minutes !== undefined && minutes < previous)
        if (minutes !== undefined) previous = Math.max(previous, minutes)
        const optout = childText(child(event, 'recording'), 'optout')
        reader.add(`event ${attribute(event, 'id') || '?'}`, {
          id: attribute(event, 'id') || attribute(event, 'guid'),
          room: roomName,
          title: childText(event, 'title'),
          start,
          startText: date !== '' ? date : `${dayDate} ${clock}`,
          duration: childText(event, 'duration'),
          persons: list(child(child(event, 'persons'), 'person')).map(p => nodeText(p)),
          streaming: childText(event, 'streaming'),
          optOut: isTrue(optout) || isTrue(childText(event, 'do_not_record'))
        })
      }
    }
  }
  return reader.finish()
}

export function parseScheduleJson (text: string): ScheduleResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, message: 'the schedule is neither XML nor valid JSON; check the file the schedule URL points at.' }
  }
  if (isObject(value) && isObject(value.schedule)) return frabJson(value.schedule)
  if (!isObject(value) || !Array.isArray(value.talks)) {
    return { ok: false, message: 'the JSON schedule must be frab/pretalx\'s schedule.json ({ "schedule": { "conference": ... } }) or an object with a "talks" array of { room, title, start, duration, persons, streaming }.' }
  }
  const zone = readZone(typeof value.time_zone_name === 'string' ? value.time_zone_name : '')
  if (typeof zone === 'object') return zone
  const reader = new TalkReader(zone)
  for (const [index, entry] of value.talks.slice(0, MAX_TALKS + MAX_IGNORED).entries()) {
    if (!isObject(entry)) { reader.ignore(`talk ${index}: not an object`); continue }
    const start = typeof entry.start === 'string' ? entry.start : ''
    reader.add(`talk ${index}`, {
      id: typeof entry.id === 'string' || typeof entry.id === 'number' ? String(entry.id) : '',
      room: typeof entry.room === 'string' ? entry.room.trim() : '',
      title: typeof entry.title === 'string' ? entry.title.trim() : '',
      start: reader.instant(start),
      startText: start,
      duration: typeof entry.duration === 'string' || typeof entry.duration === 'number' ? String(entry.duration) : '',
      persons: Array.isArray(entry.persons) ? entry.persons.filter((p): p is string => typeof p === 'string') : [],
      streaming: typeof entry.streaming === 'string' ? entry.streaming : '',
      optOut: jsonOptOut(entry.do_not_record)
    })
  }
  return reader.finish()
}

/** frab/pretalx `schedule.json`: days, each with its rooms as an object of event lists. */
function frabJson (schedule: Record<string, unknown>): ScheduleResult {
  const conference = schedule.conference
  if (!isObject(conference) || !Array.isArray(conference.days)) {
    return { ok: false, message: 'the schedule.json has no "schedule.conference.days" list; export it again from frab/pretalx.' }
  }
  const zone = readZone(typeof conference.time_zone_name === 'string' ? conference.time_zone_name : '')
  if (typeof zone === 'object') return zone
  const reader = new TalkReader(zone)
  for (const day of conference.days) {
    if (!isObject(day) || !isObject(day.rooms)) { reader.ignore('a day without a "rooms" object'); continue }
    const dayDate = typeof day.date === 'string' ? day.date : ''
    const dayStart = reader.instant(typeof day.day_start === 'string' ? day.day_start : '')
    for (const [roomName, events] of Object.entries(day.rooms)) {
      if (!Array.isArray(events)) { reader.ignore(`room "${roomName.slice(0, 40)}": not a list of events`); continue }
      for (const [index, event] of events.entries()) {
        if (!isObject(event)) { reader.ignore(`room "${roomName.slice(0, 40)}" event ${index}: not an object`); continue }
        const id = typeof event.id === 'string' || typeof event.id === 'number' ? String(event.id) : typeof event.guid === 'string' ? event.guid : ''
        const date = typeof event.date === 'string' ? event.date : ''
        const clock = typeof event.start === 'string' ? event.start : ''
        reader.add(`event ${id || '?'}`, {
          id,
          room: roomName.trim(),
          title: typeof event.title === 'string' ? event.title.trim() : '',
          start: date !== '' ? reader.instant(date) : reader.onDay(dayDate, clock, at => dayStart !== undefined && at < dayStart),
          startText: date !== '' ? date : `${dayDate} ${clock}`,
          duration: typeof event.duration === 'string' ? event.duration : '',
          persons: Array.isArray(event.persons) ? event.persons.map(personName).filter(p => p !== '') : [],
          streaming: typeof event.streaming === 'string' ? event.streaming : '',
          optOut: jsonOptOut(event.do_not_record)
        })
      }
    }
  }
  return reader.finish()
}

/** An event as read from any form, before it is checked. */
interface RawTalk {
  id: string
  room: string
  title: string
  /** ms since the epoch, or undefined when the time did not parse. */
  start: number | undefined
  /** The time as written, for the reason an event is ignored. */
  startText: string
  duration: string
  persons: string[]
  /** '' for the default. */
  streaming: string
  optOut: boolean
}

/** Collects checked talks and the reasons others were left out, reading times in one zone. */
class TalkReader {
  readonly #zone: string | undefined
  readonly #talks: Talk[] = []
  readonly #ignored: string[] = []
  #ignoredCount = 0
  /** Times that carried no offset: they depend on the zone. */
  #floating = 0

  constructor (zone: string | undefined) {
    this.#zone = zone
  }

  /** An ISO date and time; one without an offset is in the conference's zone. */
  instant (text: string): number | undefined {
    const parsed = parseDateTime(text, this.#zone)
    if (parsed?.floating === true) this.#floating++
    return parsed?.ms
  }

  /**
   * `HH:MM[:SS]` on the conference day `YYYY-MM-DD`, in the conference's zone; on the next date when
   * `afterMidnight` says the time on the day's own date comes before the day began.
   */
  onDay (date: string, clock: string, afterMidnight: (at: number) => boolean): number | undefined {
    const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.trim())
    const time = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(clock.trim())
    if (day === null || time === null || Number(time[1]) > 23 || Number(time[2]) > 59 || Number(time[3] ?? 0) > 59) return undefined
    this.#floating++
    const on = (addDays: number): number => {
      const calendar = new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]) + addDays))
      return zonedTime([calendar.getUTCFullYear(), calendar.getUTCMonth() + 1, calendar.getUTCDate(), Number(time[1]), Number(time[2]), Number(time[3] ?? 0)], this.#zone)
    }
    const sameDate = on(0)
    return afterMidnight(sameDate) ? on(1) : sameDate
  }

  ignore (reason: string): void {
    this.#ignoredCount++
    if (this.#ignored.length < MAX_IGNORED - 1) this.#ignored.push(reason)
  }

  add (label: string, raw: RawTalk): void {
    if (this.#talks.length >= MAX_TALKS) { this.ignore(`${label}: more than ${MAX_TALKS} talks`); return }
    const talk = validTalk(raw, this.#talks.length)
    if (typeof talk === 'string') this.ignore(`${label}: ${talk}`)
    else this.#talks.push(talk)
  }

  finish (): ScheduleResult {
    if (this.#talks.length === 0) {
      return { ok: false, message: `the schedule has no usable talk${this.#ignored.length > 0 ? ` (${this.#ignored.slice(0, 3).join('; ')})` : ''}.` }
    }
    const ignored = [...this.#ignored]
    if (this.#ignoredCount > ignored.length) ignored.push(`and ${this.#ignoredCount - ignored.length} more`)
    const warnings = this.#zone === undefined && this.#floating > 0
      ? [`the schedule names no time zone (time_zone_name), so ${this.#floating} times without an offset were read in this reader's own zone (${localZone()})`]
      : []
    return { ok: true, schedule: { talks: this.#talks.sort((a, b) => a.start - b.start), ignored, timeZone: this.#zone, warnings } }
  }
}

function validTalk (raw: RawTalk, index: number): Talk | string {
  if (raw.room === '') return 'no room'
  if (raw.title === '' || raw.title.length > MAX_TITLE) return raw.title === '' ? 'no title' : `a title over ${MAX_TITLE} characters`
  if (raw.start === undefined) return `start "${raw.startText.slice(0, 40)}" is not a date and time`
  const minutes = durationMinutes(raw.duration.trim())
  if (minutes === undefined) return `duration "${raw.duration.slice(0, 20)}" is not HH:MM or minutes (up to 24 hours)`
  const streaming = raw.streaming.trim() === '' ? 'recorded' : raw.streaming.trim()
  if (!isStreaming(streaming)) return `streaming "${streaming.slice(0, 20)}" is not one of ${STREAMING.join(', ')}`
  return {
    id: raw.id.trim().slice(0, 64) || `talk-${index}`,
    room: raw.room,
    title: raw.title,
    start: raw.start,
    end: raw.start + Math.round(minutes * 60_000),
    persons: raw.persons.map(p => p.trim()).filter(p => p !== '').slice(0, MAX_PERSONS),
    streaming,
    optOut: raw.optOut
  }
}

function isStreaming (value: string): value is Streaming {
  return (STREAMING as readonly string[]).includes(value)
}

/** "01:30", "01:30:00" or "90" (minutes), more than 0 and at most a day. */
function durationMinutes (text: string): number | undefined {
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text)
  const minutes = clock !== null ? Number(clock[1]) * 60 + Number(clock[2]) + Number(clock[3] ?? 0) / 60 : /^\d{1,4}$/.test(text) ? Number(text) : NaN
  return Number.isFinite(minutes) && minutes > 0 && minutes <= 24 * 60 ? minutes : undefined
}

/** Minutes into the day of `HH:MM[:SS]`, for ordering; undefined when it is not a clock time. */
function clockMinutes (text: string): number | undefined {
  const time = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim())
  return time === null ? undefined : Number(time[1]) * 60 + Number(time[2]) + Number(time[3] ?? 0) / 60
}

/** frab and pretalx write "true"/"false"; anything but an explicit no counts as an opt-out. */
function isTrue (text: string): boolean {
  const value = text.trim().toLowerCase()
  return value !== '' && value !== 'false' && value !== '0' && value !== 'no'
}

/** JSON's `do_not_record`: frab and pretalx write a boolean; a string is read as the XML's is. */
function jsonOptOut (value: unknown): boolean {
  return value === true || value === 1 || (typeof value === 'string' && isTrue(value))
}

/** The zone a schedule names, checked; an error result when the name is not an IANA zone. */
function readZone (name: string): string | undefined | { ok: false, message: string } {
  const zone = name.trim()
  if (zone === '') return undefined
  if (!isTimeZone(zone)) {
    return { ok: false, message: `the schedule's time_zone_name "${zone.slice(0, 60)}" is not an IANA time zone (e.g. Europe/Brussels); fix it in the conference's settings.` }
  }
  return zone
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The elements of a repeatable child: none, one or many (the parser hands text or objects). */
function list (node: unknown): unknown[] {
  if (node === undefined || node === null) return []
  return Array.isArray(node) ? node : [node]
}

function child (node: unknown, name: string): unknown {
  return isObject(node) ? node[name] : undefined
}

/** An element's text: the element itself when it is text, else its `#text`. */
function nodeText (node: unknown): string {
  if (typeof node === 'string') return node.trim()
  if (isObject(node) && typeof node['#text'] === 'string') return node['#text'].trim()
  return ''
}

/** The text of a child element (the first, when it repeats). */
function childText (node: unknown, name: string): string {
  const value = child(node, name)
  return nodeText(Array.isArray(value) ? value[0] : value)
}

function attribute (node: unknown, name: string): string {
  const value = child(node, `@_${name}`)
  return typeof value === 'string' ? value : ''
}

/** A frab/pretalx person: `public_name` (frab), else `name`. */
function personName (person: unknown): string {
  if (typeof person === 'string') return person
  if (!isObject(person)) return ''
  const name = typeof person.public_name === 'string' ? person.public_name : person.name
  return typeof name === 'string' ? name : ''
}
