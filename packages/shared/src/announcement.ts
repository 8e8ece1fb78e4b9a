/**
 * The announcement: what an origin says about one finished, stored segment. It never carries video
 * bytes; relays and players fetch those by CID and check them against it.
 */
import * as v from 'valibot'
import { DAG_PB_CODEC, RAW_CODEC, SHA2_256, isSegmentCid, tryParseCid } from './cid.ts'
import { LANGUAGE_TAG, RENDITION_NAME, ROOM_SLUG, SESSION_ID, TRACK_NAME } from './names.ts'

/** Largest fMP4 init section announced; ffmpeg's are 1-2 KiB (the codec set-up, no media). */
export const MAX_INIT_BYTES = 64 * 1024

const renditionSchema = v.object({
  name: v.pipe(v.string(), v.regex(RENDITION_NAME, 'rendition name must be 1-32 of a-z 0-9 _ -')),
  bandwidth: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(200_000_000)),
  width: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(8192)),
  height: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(8192)),
  codecs: v.pipe(v.string(), v.regex(/^[A-Za-z0-9.,-]{1,100}$/, 'codecs must be an RFC 6381 list')),
  frameRate: v.pipe(v.number(), v.minValue(0), v.maxValue(240)),
  /**
   * Set on an audio-only rendition (AAC, no video). `main`: the program's own sound, an audio-only
   * variant of the master playlist. `alternate`: another language (interpretation), listed as an
   * `EXT-X-MEDIA` audio rendition the video variants can play with instead of their own sound.
   * Optional: older origins never send it, and relays older than it drop it.
   */
  audio: v.optional(v.strictObject({
    role: v.picklist(['main', 'alternate'], 'audio.role must be main or alternate'),
    language: v.optional(v.pipe(v.string(), v.regex(LANGUAGE_TAG, 'audio.language must be a language tag such as de or en-GB'))),
    name: v.pipe(v.string(), v.regex(TRACK_NAME, 'audio.name must be 1-64 characters without quotes'))
  })),
  /**
   * Set on a subtitle rendition: WebVTT segments cut at the video's segment boundaries (same sequence
   * numbers and durations), listed as an `EXT-X-MEDIA` subtitle rendition the variants name. Optional,
   * like `audio`.
   */
  subtitles: v.optional(v.strictObject({
    language: v.pipe(v.string(), v.regex(LANGUAGE_TAG, 'subtitles.language must be a language tag such as en or de')),
    name: v.pipe(v.string(), v.regex(TRACK_NAME, 'subtitles.name must be 1-64 characters without quotes'))
  }))
})

const segmentSchema = v.strictObject({
  kind: v.literal('segment'),
  room: v.pipe(v.string(), v.regex(ROOM_SLUG, 'invalid room slug')),
  rendition: renditionSchema,
  /** HLS media sequence number; only ever rises for a room and rendition. */
  seq: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  cid: v.pipe(v.string(), v.check(isSegmentCid, 'cid must be a CIDv1 (raw or dag-pb, sha2-256)')),
  size: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64 * 1024 * 1024)),
  /** Seconds. */
  duration: v.pipe(v.number(), v.minValue(0.001), v.maxValue(60)),
  /** Program date time of the first frame, milliseconds since the Unix epoch, from the origin's clock. */
  pdt: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  discontinuity: v.boolean(),
  /**
   * The origin run that signed this segment (one id per process). Players follow one (key, session)
   * chain and tell a replayed old session from live; optional so announcements from older origins parse.
   */
  session: v.optional(v.pipe(v.string(), v.regex(SESSION_ID, 'session must be 1-64 of A-Z a-z 0-9 _ -'))),
  /** Set on the last segment of a session. */
  end: v.boolean(),
  /**
   * The fMP4 init section (`#EXT-X-MAP`) the segment plays with, one raw block; absent for MPEG-TS
   * segments, which carry their own codec set-up.
   */
  init: v.optional(v.strictObject({
    cid: v.pipe(v.string(), v.check(isRawBlockCid, 'init.cid must be a CIDv1 raw block, sha2-256')),
    size: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_INIT_BYTES))
  }))
})

/** True for a recording's directory: CIDv1, dag-pb, sha2-256. */
export function isDirectoryCid (value: string): boolean {
  const cid = tryParseCid(value)
  return cid !== undefined && cid.version === 1 && cid.code === DAG_PB_CODEC && cid.multihash.code === SHA2_256
}

/**
 * A recording of a live session: one UnixFS directory holding `index.m3u8` (master), one VOD playlist
 * per rendition and the segments, linked by their raw-block CIDs. Announced while live (not final)
 * and once more when the session ends (final); a later one for the same session supersedes earlier ones.
 */
const recordingSchema = v.strictObject({
  kind: v.literal('recording'),
  room: v.pipe(v.string(), v.regex(ROOM_SLUG, 'invalid room slug')),
  cid: v.pipe(v.string(), v.check(isDirectoryCid, 'cid must be a CIDv1 dag-pb (UnixFS directory), sha2-256')),
  /** The session's id, the same in every announcement of one recording. */
  session: v.pipe(v.string(), v.regex(SESSION_ID, 'session must be 1-64 of A-Z a-z 0-9 _ -')),
  /** Milliseconds since the Unix epoch: program date time of the first and the end of the last segment. */
  started: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  ended: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** Seconds of media in the top rendition. */
  duration: v.pipe(v.number(), v.minValue(0), v.maxValue(31 * 24 * 3600)),
  /** Segments in the top rendition. */
  segments: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  /** True once the session ended: this directory will not change any more. */
  final: v.boolean()
})

/** Largest thumbnail block a relay fetches; a 320 px wide JPEG is 5-30 KiB. */
export const MAX_THUMBNAIL_BYTES = 512 * 1024

/** True for a thumbnail's block: CIDv1, raw, sha2-256 (one block, checked with one digest). */
export function isRawBlockCid (value: string): boolean {
  const cid = tryParseCid(value)
  return cid !== undefined && cid.version === 1 && cid.code === RAW_CODEC && cid.multihash.code === SHA2_256
}

/**
 * A still of the room for room lists: a JPEG of at most MAX_THUMBNAIL_BYTES stored as one raw block,
 * announced every few seconds while live; a newer `at` supersedes an older one.
 */
const thumbnailSchema = v.strictObject({
  kind: v.literal('thumbnail'),
  room: v.pipe(v.string(), v.regex(ROOM_SLUG, 'invalid room slug')),
  cid: v.pipe(v.string(), v.check(isRawBlockCid, 'cid must be a CIDv1 raw block, sha2-256')),
  /** When the picture was taken, milliseconds since the Unix epoch (the origin's clock). */
  at: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  width: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096)),
  height: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096))
})

/** Recording CIDs one withdrawal may name: its envelope stays well under MAX_ENVELOPE_BYTES. */
export const MAX_WITHDRAWN_RECORDINGS = 32

/**
 * A recording consent withdrawn after the fact: the program time range [from, to) of a session must not
 * be kept. `recordings` names the session's recordings already announced that hold part of it: relays
 * stop listing, serving and pinning them, delete the range's segments they pinned, and never pin a
 * recording linking one of those segments again. The origin then announces a recording without the range.
 */
const withdrawalSchema = v.pipe(v.strictObject({
  kind: v.literal('withdrawal'),
  room: v.pipe(v.string(), v.regex(ROOM_SLUG, 'invalid room slug')),
  session: v.pipe(v.string(), v.regex(SESSION_ID, 'session must be 1-64 of A-Z a-z 0-9 _ -')),
  /** Milliseconds since the Unix epoch, program date time: the range withdrawn is [from, to). */
  from: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  to: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  recordings: v.pipe(v.array(v.pipe(v.string(), v.check(isDirectoryCid, 'recordings: each must be a CIDv1 dag-pb (UnixFS directory), sha2-256'))), v.maxLength(MAX_WITHDRAWN_RECORDINGS)),
  /** When the origin withdrew it, milliseconds since the Unix epoch. */
  at: v.pipe(v.number(), v.safeInteger(), v.minValue(0))
}), v.check(w => w.to > w.from, 'to must be after from'))

export type RenditionInfo = v.InferOutput<typeof renditionSchema>
export type SegmentAnnouncement = v.InferOutput<typeof segmentSchema>
export type RecordingAnnouncement = v.InferOutput<typeof recordingSchema>
export type ThumbnailAnnouncement = v.InferOutput<typeof thumbnailSchema>
export type WithdrawalAnnouncement = v.InferOutput<typeof withdrawalSchema>
/** Every message kind on a room topic; a discriminated union on `kind` so later kinds slot in. */
export type Announcement = SegmentAnnouncement | RecordingAnnouncement | ThumbnailAnnouncement | WithdrawalAnnouncement

export const announcementSchema = v.variant('kind', [segmentSchema, recordingSchema, thumbnailSchema, withdrawalSchema])

export type ParseResult<T> = { ok: true, value: T } | { ok: false, reason: string }

/** Validates an untrusted value as an announcement, with a one-line reason when it is not one. */
export function parseAnnouncement (value: unknown): ParseResult<Announcement> {
  const result = v.safeParse(announcementSchema, value)
  if (result.success) return { ok: true, value: result.output }
  const issue = result.issues[0]
  const path = issue.path?.map(p => String(p.key)).join('.') ?? ''
  return { ok: false, reason: `${path === '' ? 'announcement' : path}: ${issue.message}` }
}
