/**
 * The secrets an input carries (RTMP stream key, SRT passphrase, HTTP credentials and query values)
 * and the one place that blanks them out of text: ffmpeg's log lines and exit reasons pass through
 * here before they reach the log, /status or /healthz.
 */
import type { StreamInput } from './stream-input.ts'

const HIDDEN = '***'
/** Query values this short are not credentials worth hiding (and hiding them would garble logs). */
const MIN_QUERY_SECRET = 6

/** Every spelling of a secret that may show up in text: as given, and percent-decoded. */
export function inputSecrets (input: StreamInput): string[] {
  const secrets: string[] = []
  if (input.kind === 'rtmp') secrets.push(input.key)
  if (input.kind === 'srt' && input.passphrase !== undefined) secrets.push(input.passphrase, encodeURIComponent(input.passphrase))
  if (input.kind === 'http') {
    const url = new URL(input.url)
    for (const value of [url.username, url.password]) {
      if (value !== '') secrets.push(value, safeDecode(value))
    }
    for (const value of url.searchParams.values()) {
      if (value.length >= MIN_QUERY_SECRET) secrets.push(value, encodeURIComponent(value))
    }
  }
  // Longest first, so a secret that contains another is hidden whole.
  return [...new Set(secrets.filter(s => s !== ''))].sort((a, b) => b.length - a.length)
}

function safeDecode (value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** A function that replaces each of `secrets` in a text with "***". */
export function secretRedactor (secrets: readonly string[]): (text: string) => string {
  return text => secrets.reduce((out, secret) => out.replaceAll(secret, HIDDEN), text)
}
