/**
 * Viewer counts between relays: every VIEWER_COUNT_INTERVAL_MS each relay publishes, per room it
 * follows, the viewer tokens it saw lately on VIEWER_COUNT_TOPIC, signed with its own key (see
 * signed-envelope.ts). A token travels only as a 64-bit hash. Up to MAX_LISTED_HASHES tokens the
 * message lists the hashes (the union is exact); above that it carries a HyperLogLog sketch of
 * SKETCH_REGISTERS registers (about 3 % error), so a message stays small however large the audience.
 * Any relay merges its own tokens with the others' messages into the room's network-wide count.
 */
import * as v from 'valibot'
import type { ParseResult } from './announcement.ts'
import { ROOM_SLUG } from './names.ts'

export const VIEWER_COUNT_TOPIC = '/hivecast/viewer-count/1'
/** How often a relay publishes a room's count. */
export const VIEWER_COUNT_INTERVAL_MS = 5_000
/** A relay's count older than this no longer adds to the room's network-wide count. */
export const VIEWER_COUNT_TTL_MS = 15_000
/** Listed hashes at most; a room with more tokens is sent as a sketch. */
export const MAX_LISTED_HASHES = 128
/** HyperLogLog registers (2^10): 1.04 / sqrt(1024) ≈ 3.3 % standard error, 1 KiB per room. */
export const SKETCH_REGISTERS = 1024
/** A register holds the rank of a 54-bit remainder: 1-55 (0 when empty). */
export const MAX_SKETCH_RANK = 55
/** base64url (no padding) length of SKETCH_REGISTERS bytes. */
const SKETCH_TEXT_LENGTH = Math.ceil(SKETCH_REGISTERS * 4 / 3)

const viewerCountSchema = v.pipe(v.strictObject({
  kind: v.literal('viewers'),
  /** The relay's peer id; must be the key that signed the message. */
  peerId: v.pipe(v.string(), v.maxLength(100)),
  room: v.pipe(v.string(), v.regex(ROOM_SLUG, 'invalid room slug')),
  /** ms since the Unix epoch, from the relay's clock. */
  timestamp: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** 64-bit token hashes, 16 lowercase hex digits each. */
  hashes: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'a hash is 16 hex digits'))), v.maxLength(MAX_LISTED_HASHES))),
  /** The HyperLogLog registers, base64url without padding. */
  sketch: v.optional(v.pipe(v.string(), v.length(SKETCH_TEXT_LENGTH), v.regex(/^[A-Za-z0-9_-]+$/, 'sketch must be base64url')))
}), v.check(value => (value.hashes === undefined) !== (value.sketch === undefined), 'a count carries either hashes or a sketch'))

export type ViewerCountMessage = v.InferOutput<typeof viewerCountSchema>

/** Validates an untrusted value as a viewer count message, with a one-line reason when it is not one. */
export function parseViewerCount (value: unknown): ParseResult<ViewerCountMessage> {
  const result = v.safeParse(viewerCountSchema, value)
  if (result.success) return { ok: true, value: result.output }
  const issue = result.issues[0]
  const path = issue.path?.map(p => String(p.key)).join('.') ?? ''
  return { ok: false, reason: `${path === '' ? 'count' : path}: ${issue.message}` }
}
