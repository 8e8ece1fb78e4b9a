/**
 * Recording playback over HTTP: a pinned recording's playlists (read with the shared recording
 * playlist reader) served as playlists that name every segment by its own CID,
 * `/ipfs/<cid>?filename=<seq>.ts` (`.m4s` for fMP4), the form any HLS client plays.
 * `from`/`to` (program-date-time, ms) cut a session's recording down to one talk.
 */
import type { TimeRange } from '@hivecast/shared'

/**
 * The master playlist served for a recording: the recording's own, with each variant and audio
 * rendition URI carrying the range (so a player that follows it stays inside the talk).
 */
export function renderRecordingMaster (text: string, range: TimeRange): string {
  const query = rangeQuery(range)
  return text.split('\n').map(line => {
    // An alternate audio rendition's URI is an attribute of its #EXT-X-MEDIA line.
    if (line.startsWith('#EXT-X-MEDIA:')) return line.replace(/,URI="([^"]*)"/, (_, uri: string) => `,URI="${uri}${query}"`)
    return line.trim() === '' || line.startsWith('#') ? line : `${line.trim()}${query}`
  }).join('\n')
}

export function rangeQuery (range: TimeRange): string {
  const params = [...range.from === undefined ? [] : [`from=${range.from}`], ...range.to === undefined ? [] : [`to=${range.to}`]]
  return params.length === 0 ? '' : `?${params.join('&')}`
}

/** `?from=<ms>&to=<ms>` from a query; a string saying what is wrong when they are not a valid range. */
export function parseTimeRange (query: URLSearchParams): TimeRange | string {
  const range: TimeRange = {}
  for (const key of ['from', 'to'] as const) {
    const value = query.get(key)
    if (value === null) continue
    if (!/^\d{1,15}$/.test(value)) return `${key}="${value.slice(0, 40)}" is not a time: give milliseconds since the epoch (the program-date-time), e.g. ${key}=1767225600000`
    range[key] = Number(value)
  }
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) return `from=${range.from} is not before to=${range.to}: give the start of the talk first`
  return range
}
