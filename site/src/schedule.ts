/**
 * The conference schedule, from the URL that config.json names as `schedule`: frab/pretalx XML or
 * `schedule.json`, or Hivecast's small JSON form, read by the shared reader (`@hivecast/shared`, the one
 * the origin uses to leave talks out of recordings, so the site and the recordings agree). This file
 * fetches it and says how a talk is shown.
 */
import { isRecorded, parseSchedule } from '@hivecast/shared'
import type { ScheduleResult, Talk } from '@hivecast/shared'

export { isRecorded, talksOfRoom } from '@hivecast/shared'
export type { Schedule, ScheduleResult, Streaming, Talk } from '@hivecast/shared'

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

/** What is on at `now` and the first talk after it (talks are sorted by start). */
export function nowAndNext (talks: Talk[], now: number): { current: Talk | undefined, next: Talk | undefined } {
  return {
    current: talks.find(talk => talk.start <= now && now < talk.end),
    next: talks.find(talk => talk.start > now)
  }
}

/** The talk's streaming flag as a page shows it; an opt-out says the talk is not recorded. */
export function streamingLabel (talk: Talk): string {
  if (talk.streaming === 'not-streamed') return 'Not streamed'
  if (talk.streaming === 'audio-only') return isRecorded(talk) ? 'Audio only' : 'Audio only · not recorded'
  return isRecorded(talk) ? 'Streamed · recorded' : 'Streamed live · not recorded'
}

/** The CSS class of the flag: an opted-out talk looks like a live-only one. */
export function streamingClass (talk: Talk): string {
  return `flag flag-${talk.optOut && talk.streaming === 'recorded' ? 'streamed' : talk.streaming}`
}

export function formatTime (ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}
