/**
 * The shapes of names that travel in URLs and on the wire: one definition each, used by the schemas,
 * the relay's routes and the route builders, so a name one part accepts every other part accepts too.
 */
import { InvalidRenditionError } from './errors.ts'

/** A room slug: 1-63 lowercase letters, digits and dashes, starting with a letter or digit. */
export const ROOM_SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/

/** A rendition name (`720p`, `av1-480p`, `source`): 1-32 of a-z 0-9 _ -, starting with a letter or digit. */
export const RENDITION_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/

/** A language tag as HLS `LANGUAGE` takes it (RFC 5646, the common forms): `de`, `en-GB`, `zh-Hant`. */
export const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/

/** A track's name for players' menus: 1-64 characters, no quote or control character (it is an HLS attribute). */
export const TRACK_NAME = /^[^"\p{Cc}]{1,64}$/u

/** An origin run's session id: 1-64 of A-Z a-z 0-9 _ -. */
export const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/

export function isRenditionName (value: string): boolean {
  return RENDITION_NAME.test(value)
}

/** Throws an InvalidRenditionError that says what a valid rendition name looks like. */
export function assertRenditionName (value: string): string {
  if (!isRenditionName(value)) throw new InvalidRenditionError(`invalid rendition name "${value}": use 1-32 of a-z 0-9 _ -, starting with a letter or digit`)
  return value
}
