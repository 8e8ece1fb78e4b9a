/**
 * The viewer swarm's wire format (browser-safe): how viewers of a room find each other through a relay,
 * and what they say to each other over WebRTC. Every message is one length-prefixed JSON object; a
 * message that does not parse to the shape below is dropped (and the stream closed), never trusted.
 *
 * - `/hivecast/viewers/1.0.0`, viewer -> relay: `{"room":"<slug>","received":{"relays":<bytes>,"peers":<bytes>}}`
 *   (`received`, optional: the verified segment bytes the viewer got so far from relays and from other
 *   viewers, so relays can report the swarm's share); the relay answers `{"peers":["12D3KooW…", …]}`:
 *   a random sample (at most 8) of the other viewers of that room that asked recently and are still
 *   connected, none when the asker asked less than 2 s before (never the whole list). Asking again
 *   (every few seconds) keeps the viewer listed.
 * - `/hivecast/have/1.0.0`, viewer -> viewer, one long-lived stream each way: `{"have":["<cid>", …]}`,
 *   first everything the sender holds, then each CID it verifies. Holders forget after a while.
 * - `/hivecast/block/1.0.0`, viewer -> viewer, one stream per block: the request is the CID as text,
 *   the answer the raw block (empty when not held). The asker checks the bytes against the CID.
 */
import { isRoomSlug } from './room.ts'
import { tryParseCid } from './cid.ts'

export const VIEWERS_PROTOCOL = '/hivecast/viewers/1.0.0'
export const HAVE_PROTOCOL = '/hivecast/have/1.0.0'
export const BLOCK_PROTOCOL = '/hivecast/block/1.0.0'
/** Most peers one viewers answer lists. */
export const MAX_VIEWER_PEERS = 32
/** Most CIDs one `have` message may carry. */
export const MAX_HAVE_CIDS = 128
/** Largest viewers request, viewers answer and `have` message, in bytes. */
export const MAX_SWARM_MESSAGE = 16 * 1024

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{46,60}$/

function parseJson (bytes: Uint8Array): unknown {
  if (bytes.length > MAX_SWARM_MESSAGE) return undefined
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return undefined
  }
}

export function encodeSwarmMessage (value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value))
}

/** Verified segment bytes a viewer received, by where they came from. */
export interface ViewerReceived {
  relays: number
  peers: number
}

export interface ViewersRequest {
  room: string
  /** What the viewer says it received; a viewer's own word, for statistics only. */
  received?: ViewerReceived
}

const isByteCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/** A viewers request, or undefined when it is not one (a malformed `received` is left out, not fatal). */
export function parseViewersRequest (bytes: Uint8Array): ViewersRequest | undefined {
  const value = parseJson(bytes) as { room?: unknown, received?: { relays?: unknown, peers?: unknown } | null } | null | undefined
  const room = value?.room
  if (typeof room !== 'string' || !isRoomSlug(room)) return undefined
  const relays = value?.received?.relays
  const peers = value?.received?.peers
  return isByteCount(relays) && isByteCount(peers) ? { room, received: { relays, peers } } : { room }
}

/** The peer ids of a viewers answer (at most MAX_VIEWER_PEERS), or undefined when it is not one. */
export function parseViewersAnswer (bytes: Uint8Array): string[] | undefined {
  const peers = (parseJson(bytes) as { peers?: unknown } | null | undefined)?.peers
  if (!Array.isArray(peers) || peers.length > MAX_VIEWER_PEERS) return undefined
  return peers.every((p): p is string => typeof p === 'string' && PEER_ID.test(p)) ? peers : undefined
}

/** The CIDs (as strings) of a `have` message, or undefined when it is not one. */
export function parseHave (bytes: Uint8Array): string[] | undefined {
  const have = (parseJson(bytes) as { have?: unknown } | null | undefined)?.have
  if (!Array.isArray(have) || have.length > MAX_HAVE_CIDS) return undefined
  return have.every((c): c is string => typeof c === 'string' && c.length < 128 && tryParseCid(c) !== undefined) ? have : undefined
}
