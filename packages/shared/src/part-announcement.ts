/**
 * The part announcement: what an origin says about one part of a segment still being encoded
 * (LL-HLS `#EXT-X-PART`), as soon as the part's bytes exist. A part is a run of whole MPEG-TS
 * packets of the segment, stored as one raw block; the parts of a segment, joined in order, are
 * exactly the segment's bytes, which are still announced as a segment of their own when finished.
 *
 * Parts travel on a topic of their own (`roomPartsTopic`) under a signature domain of their own, so
 * relays and players that do not know parts never see one, and a part can never pass as a segment.
 */
import * as v from 'valibot'
import { isRawBlockCid } from './announcement.ts'
import type { ParseResult } from './announcement.ts'
import { MAX_RAW_BLOCK } from './cid.ts'
import { RENDITION_NAME, ROOM_SLUG, SESSION_ID } from './names.ts'

/** Parts of one segment at most: a 10 s segment cut into 200 ms parts is 50. */
export const MAX_PARTS_PER_SEGMENT = 64

const partSchema = v.strictObject({
  kind: v.literal('part'),
  room: v.pipe(v.string(), v.regex(ROOM_SLUG, 'invalid room slug')),
  rendition: v.pipe(v.string(), v.regex(RENDITION_NAME, 'rendition must be 1-32 of a-z 0-9 _ -')),
  /** The origin run, as in its segment announcements: a part belongs to that run's numbering. */
  session: v.pipe(v.string(), v.regex(SESSION_ID, 'session must be 1-64 of A-Z a-z 0-9 _ -')),
  /** Media sequence number of the segment the part belongs to (announced later, when it is finished). */
  seq: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** The part's place in its segment, from 0. */
  part: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_PARTS_PER_SEGMENT - 1)),
  cid: v.pipe(v.string(), v.check(isRawBlockCid, 'cid must be a CIDv1 raw block, sha2-256')),
  size: v.pipe(v.number(), v.integer(), v.minValue(188), v.maxValue(MAX_RAW_BLOCK)),
  /** Seconds. */
  duration: v.pipe(v.number(), v.minValue(0.001), v.maxValue(10)),
  /** The part starts with a keyframe (decodable alone): LL-HLS `INDEPENDENT=YES`. */
  independent: v.boolean(),
  /** The segment's last part: the segment announcement follows. */
  last: v.boolean()
})

export type PartAnnouncement = v.InferOutput<typeof partSchema>

/** Validates an untrusted value as a part announcement, with a one-line reason when it is not one. */
export function parsePartAnnouncement (value: unknown): ParseResult<PartAnnouncement> {
  const result = v.safeParse(partSchema, value)
  if (result.success) return { ok: true, value: result.output }
  const issue = result.issues[0]
  const path = issue.path?.map(p => String(p.key)).join('.') ?? ''
  return { ok: false, reason: `${path === '' ? 'part' : path}: ${issue.message}` }
}

/** The gossipsub topic that carries a room's part announcements, beside its room topic. */
export function roomPartsTopic (slug: string): string {
  return `/hivecast/room-parts/1/${slug}`
}
