/**
 * Times in a schedule: ISO 8601 date-times read in the conference's IANA time zone with Intl alone
 * (no time-zone library), right across daylight-saving changes.
 */

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/i

/**
 * An ISO 8601 date and time in ms since the epoch: with its offset when it has one, else in `zone`
 * (`floating`). Undefined when it is not a valid date and time.
 */
export function parseDateTime (text: string, zone: string | undefined): { ms: number, floating: boolean } | undefined {
  const m = ISO_TIME.exec(text.trim())
  if (m === null) return undefined
  const fields = [1, 2, 3, 4, 5, 6].map(i => Number(m[i] ?? 0)) as DateFields
  const [year, month, day, hour, minute, second] = fields
  const check = new Date(Date.UTC(year, month - 1, day))
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return undefined
  const fraction = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000)
  const offset = m[8]
  if (offset === undefined) return { ms: zonedTime(fields, zone) + fraction, floating: true }
  const sign = offset.startsWith('-') ? -1 : 1
  const digits = offset.toUpperCase() === 'Z' ? '0000' : offset.slice(1).replace(':', '')
  const offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)))
  return { ms: Date.UTC(year, month - 1, day, hour, minute, second) + fraction - offsetMinutes * 60_000, floating: false }
}

export type DateFields = [year: number, month: number, day: number, hour: number, minute: number, second: number]

/** A wall-clock time in `zone` (undefined: this reader's zone) as ms since the epoch, with Intl alone. */
export function zonedTime (fields: DateFields, zone: string | undefined): number {
  const [year, month, day, hour, minute, second] = fields
  if (zone === undefined) return new Date(year, month - 1, day, hour, minute, second).getTime()
  const wall = Date.UTC(year, month - 1, day, hour, minute, second)
  // The zone's offset at a first guess, then again at the result: right across a DST change.
  const guess = wall - zoneOffset(wall, zone)
  return wall - zoneOffset(guess, zone)
}

const formatters = new Map<string, Intl.DateTimeFormat>()

/** Throws a RangeError for a name that is not a time zone. */
function zoneFormatter (zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    formatters.set(zone, formatter)
  }
  return formatter
}

/** How far `zone`'s wall clock is ahead of UTC at `ms`, in ms. */
function zoneOffset (ms: number, zone: string): number {
  const parts = Object.fromEntries(zoneFormatter(zone).formatToParts(ms).map(p => [p.type, Number(p.value)]))
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!)
  return wall - Math.floor(ms / 1000) * 1000
}

export function localZone (): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone
}

/** Whether `zone` is an IANA time zone name this runtime knows. */
export function isTimeZone (zone: string): boolean {
  try {
    zoneFormatter(zone)
    return true
  } catch {
    return false
  }
}
