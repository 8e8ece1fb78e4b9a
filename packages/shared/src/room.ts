/** Rooms: a slug plus the public keys (libp2p peer ids) allowed to announce for it. */
import { InvalidRoomError } from './errors.ts'
import { ROOM_SLUG } from './names.ts'

export interface Room {
  /** URL-safe name, e.g. `janson` or `k1105`. */
  slug: string
  /** Peer ids (Ed25519) whose signed announcements are accepted; the first is the primary origin. */
  keys: string[]
}

export function isRoomSlug (value: string): boolean {
  return ROOM_SLUG.test(value)
}

/** Throws an InvalidRoomError that says what a valid slug looks like. */
export function assertRoomSlug (value: string): string {
  if (!isRoomSlug(value)) {
    throw new InvalidRoomError(`invalid room name "${value}": use 1-63 lowercase letters, digits and dashes, starting with a letter or digit`)
  }
  return value
}

/** The gossipsub topic that carries a room's announcements. */
export function roomTopic (slug: string): string {
  return `/hivecast/room/1/${slug}`
}
