/**
 * The conference schedule, from the URL that config.json names as `schedule`: either the Pentabarf/Frab
 * XML that FOSDEM-style conferences publish, or a small JSON form:
 *
 * ```json
 * { "talks": [{ "room": "Janson", "title": "Opening", "start": "2026-02-01T09:00:00+01:00",
 *               "duration": "00:25", "persons": ["Ada"], "streaming": "recorded" }] }
 * ```
 *
 * `streaming` is the organisers' per-talk flag: `recorded` (live and kept as a recording; the default),
 * `streamed` (live only), `audio-only`, or `not-streamed`. In the XML it is an `<streaming>` element inside
 * `<event>` (a Hivecast extension); Frab's `<do_not_record>true</do_not_record>` also means `streamed`.
 * A schedule room belongs to a site room when its name equals the room's slug or title (case ignored).
 */

export type Streaming = 'recorded' | 'streamed' | 'audio-only' | 'not-streamed'
const STREAMING: readonly Streaming[] = ['recorded', 'streamed', 'audio-only', 'not-streamed']

export interface Talk {
  room: string
  title: string
  /** ms since the epoch. */
  start: number
  end: number
  persons: string[]
  streaming: Streaming
}

export interface Schedule {
  talks: Talk[]
  /** Events that did not validate, with the reason, for a note on the page. */
  ignored: string[]
}

export type ScheduleResult = { ok: true, schedule: Schedule } | { ok: false, message: string }

const MAX_TALKS = 5000

export async function loadSchedule (url: string): Promise<ScheduleResult> {
  let response: Response
  try {
    response = await fetch(url, { cache: 'no-cache' })
  } catch {
    return { ok: false, message: `the schedule at ${url} could not be fetched (network error); check the "schedule" URL in config.json and that its server allows CORS.` }
  }
  if (!response.ok) return { ok: false, message: `the schedule at ${url} answered HTTP ${response.status}; check the "schedule" URL in config.json.` }
  return parseSchedule(await response.text())
}

/** Parses either form: text starting with `<` is XML, anything else JSON. */
export function parseSchedule (text: string): ScheduleResult {
  return text.trimStart().startsWith('<') ? parseScheduleXml(text) : parseScheduleJson(text)
}

export function parseScheduleXml (text: string): ScheduleResult {
  const doc = new DOMParser().parseFromString(text, 'application/xml')
  if (doc.getElementsByTagName('parsererror').length > 0) {
    return { ok: false, message: 'the schedule is not well-formed XML; export it again from Pentabarf/Frab (or validate it with xmllint).' }
  }
  if (doc.documentElement.nodeName !== 'schedule') {
    return { ok: false, message: `the schedule XML's root element is <${doc.documentElement.nodeName}>, not <schedule>; expected the Pentabarf/Frab format.` }
  }
  const talks: Talk[] = []
  const ignored: string[] = []
  for (const day of Array.from(doc.documentElement.getElementsByTagName('day'))) {
    const dayDate = day.getAttribute('date') ?? ''
    for (const room of Array.from(day.getElementsByTagName('room'))) {
      const roomName = room.getAttribute('name')?.trim() ?? ''
      for (const event of Array.from(room.getElementsByTagName('event'))) {
        if (talks.length >= MAX_TALKS) break
        const child = (name: string): string => event.getElementsByTagName(name)[0]?.textContent?.trim() ?? ''
        const persons = Array.from(event.getElementsByTagName('person')).map(p => p.textContent?.trim() ?? '').filter(p => p !== '')
        const flag = child('streaming')
        const talk = validTalk({
          room: roomName,
          title: child('title'),
          // <date> is the full ISO time (Frab, Pentabarf); otherwise the day's date and <start>, local time.
          start: child('date') !== '' ? child('date') : `${dayDate}T${child('start')}`,
          duration: child('duration'),
          persons,
          streaming: flag !== '' ? flag : child('do_not_record') === 'true' ? 'streamed' : undefined
        })
        if (typeof talk === 'string') ignored.push(`event ${event.getAttribute('id') ?? '?'}: ${talk}`)
        else talks.push(talk)
      }
    }
  }
  return finish(talks, ignored)
}

export function parseScheduleJson (text: string): ScheduleResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, message: 'the schedule is neither XML nor valid JSON; check the file the "schedule" URL points at.' }
  }
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { talks?: unknown }).talks)) {
    return { ok: false, message: 'the JSON schedule must be an object with a "talks" array of { room, title, start, duration, persons, streaming }.' }
  }
  const talks: Talk[] = []
  const ignored: string[] = []
  for (const [index, entry] of ((value as { talks: unknown[] }).talks).slice(0, MAX_TALKS).entries()) {
    if (typeof entry !== 'object' || entry === null) { ignored.push(`talk ${index}: not an object`); continue }
    const e = entry as Record<string, unknown>
    const talk = validTalk({
      room: typeof e.room === 'string' ? e.room.trim() : '',
      title: typeof e.title === 'string' ? e.title.trim() : '',
      start: typeof e.start === 'string' ? e.start : '',
      duration: typeof e.duration === 'string' || typeof e.duration === 'number' ? String(e.duration) : '',
      persons: Array.isArray(e.persons) ? e.persons.filter((p): p is string => typeof p === 'string') : [],
      streaming: typeof e.streaming === 'string' ? e.streaming : undefined
    })
    if (typeof talk === 'string') ignored.push(`talk ${index}: ${talk}`)
    else talks.push(talk)
  }
  return finish(talks, ignored)
}

interface RawTalk { room: string, title: string, start: string, duration: string, persons: string[], streaming: string | undefined }

function validTalk (raw: RawTalk): Talk | string {
  if (raw.room === '') return 'no room'
  if (raw.title === '' || raw.title.length > 500) return 'no title'
  const start = Date.parse(raw.start)
  if (Number.isNaN(start)) return `start "${raw.start.slice(0, 40)}" is not a date and time`
  const minutes = durationMinutes(raw.duration)
  if (minutes === undefined) return `duration "${raw.duration.slice(0, 20)}" is not HH:MM or minutes`
  const streaming = raw.streaming ?? 'recorded'
  if (!STREAMING.includes(streaming as Streaming)) return `streaming "${streaming.slice(0, 20)}" is not one of ${STREAMING.join(', ')}`
  return { room: raw.room, title: raw.title, start, end: start + minutes * 60_000, persons: raw.persons.slice(0, 20), streaming: streaming as Streaming }
}

/** "01:30", "01:30:00" or "90" (minutes). */
function durationMinutes (text: string): number | undefined {
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text)
  const minutes = clock !== null ? Number(clock[1]) * 60 + Number(clock[2]) + Number(clock[3] ?? 0) / 60 : /^\d{1,4}$/.test(text) ? Number(text) : NaN
  return Number.isFinite(minutes) && minutes > 0 && minutes <= 24 * 60 ? minutes : undefined
}

function finish (talks: Talk[], ignored: string[]): ScheduleResult {
  if (talks.length === 0) {
    return { ok: false, message: `the schedule has no usable talk${ignored.length > 0 ? ` (${ignored.slice(0, 3).join('; ')})` : ''}.` }
  }
  talks.sort((a, b) => a.start - b.start)
  return { ok: true, schedule: { talks, ignored } }
}

/** The talks of one site room: schedule rooms named like its slug or its title. */
export function talksOfRoom (schedule: Schedule, room: { slug: string, title: string }): Talk[] {
  const names = [room.slug.toLowerCase(), room.title.toLowerCase()]
  return schedule.talks.filter(talk => names.includes(talk.room.toLowerCase()))
}

/** What is on at `now` and the first talk after it (talks are sorted by start). */
export function nowAndNext (talks: Talk[], now: number): { current: Talk | undefined, next: Talk | undefined } {
  return {
    current: talks.find(talk => talk.start <= now && now < talk.end),
    next: talks.find(talk => talk.start > now)
  }
}

export const STREAMING_LABEL: Record<Streaming, string> = {
  recorded: 'Streamed · recorded',
  streamed: 'Streamed live only',
  'audio-only': 'Audio only',
  'not-streamed': 'Not streamed'
}

export function formatTime (ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}
