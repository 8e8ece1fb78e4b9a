/**
 * The relay directory: every few seconds each relay publishes on DIRECTORY_TOPIC a record about itself,
 * signed with its own key, so players, the site and other relays can find it. A record older than
 * DIRECTORY_TTL_MS, or one marked `leaving`, means the relay is gone.
 */
import * as v from 'valibot'
import type { ParseResult } from './announcement.ts'
import { ROOM_SLUG } from './names.ts'

export const DIRECTORY_TOPIC = '/hivecast/directory/1'
/** How often a relay publishes its record. */
export const DIRECTORY_INTERVAL_MS = 5_000
/** A relay whose newest record is older than this has dropped out. */
export const DIRECTORY_TTL_MS = 15_000

const count = v.pipe(v.number(), v.minValue(0), v.maxValue(1e15))

const directoryRecordSchema = v.strictObject({
  kind: v.literal('relay'),
  /** The relay's peer id; must be the key that signed the record. */
  peerId: v.pipe(v.string(), v.maxLength(100)),
  /** Where browsers reach it, e.g. `https://relay.example.org/`. */
  url: v.pipe(v.string(), v.maxLength(300), v.check(value => /^https?:\/\/[^\s/]+\/?\S*$/.test(value), 'url must be an http(s) URL')),
  multiaddrs: v.pipe(v.array(v.pipe(v.string(), v.maxLength(300))), v.maxLength(8)),
  rooms: v.pipe(v.array(v.pipe(v.string(), v.regex(ROOM_SLUG, 'invalid room slug'))), v.maxLength(32)),
  load: v.strictObject({ requestsPerSecond: count, bytesPerSecond: count }),
  /** True when the relay is connected to a room's origin (it may take segments from the origin). */
  origin: v.optional(v.boolean()),
  /**
   * False while the relay passes no segments on to other relays (a leaf of the segment push tree: set
   * so, or its uplink is too slow); absent means it does.
   */
  forwards: v.optional(v.boolean()),
  /** Viewer tokens this relay saw lately, over its rooms; a sum over relays counts a viewer per relay it asked. */
  viewers: v.optional(count),
  /** ms since the Unix epoch, from the relay's clock. */
  timestamp: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** Set on the last record a relay sends as it shuts down. */
  leaving: v.boolean()
})

export type DirectoryRecord = v.InferOutput<typeof directoryRecordSchema>

/** Validates an untrusted value as a directory record, with a one-line reason when it is not one. */
export function parseDirectoryRecord (value: unknown): ParseResult<DirectoryRecord> {
  const result = v.safeParse(directoryRecordSchema, value)
  if (result.success) return { ok: true, value: result.output }
  const issue = result.issues[0]
  const path = issue.path?.map(p => String(p.key)).join('.') ?? ''
  return { ok: false, reason: `${path === '' ? 'record' : path}: ${issue.message}` }
}
