/**
 * The viewer token: a random value a player makes once per page session (never stored) and sends to
 * relays with every `window.json` request, so relays count viewers, not addresses: one viewer asking
 * two relays, or fetching from fellow viewers, is still one token. It identifies nothing beyond the
 * session. It travels as a query parameter, not a header: a custom header makes every cross-origin
 * request preflighted, and a proxy or CDN in front of a relay that answers preflights itself without
 * allowing it would stop playback; window.json is never cached, so the parameter costs no cache hits.
 */

/** The `window.json` query parameter that carries the token. */
export const VIEWER_TOKEN_PARAM = 'viewer'

/** 128 random bits in base64url without padding: 22 characters. */
const VIEWER_TOKEN = /^[A-Za-z0-9_-]{22}$/

/** True for a well-formed token; relays ignore (and count) anything else. */
export function isViewerToken (value: unknown): value is string {
  return typeof value === 'string' && VIEWER_TOKEN.test(value)
}

/** A fresh token from the platform's CSPRNG (browser and Node). */
export function newViewerToken (): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
