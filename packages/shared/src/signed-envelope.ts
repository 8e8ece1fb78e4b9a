/**
 * Signed envelopes: an announcement travels as its JSON text plus an Ed25519 signature by a room key
 * (a relay's directory record the same way, signed by the relay's own key). The signature covers the exact payload bytes (no canonical JSON needed) behind a domain prefix, so a
 * signature made for another purpose with the same key can never pass as an announcement.
 *
 * Wire form (UTF-8 JSON, at most MAX_ENVELOPE_BYTES):
 * `{"v":1,"key":"12D3KooW…","payload":"{\"kind\":\"segment\",…}","sig":"<base64url>"}`
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { base64url } from 'multiformats/bases/base64'
import { parseAnnouncement } from './announcement.ts'
import { parseDirectoryRecord } from './directory-record.ts'
import { parsePartAnnouncement } from './part-announcement.ts'
import type { PartAnnouncement } from './part-announcement.ts'
import type { Announcement, RecordingAnnouncement, SegmentAnnouncement, ThumbnailAnnouncement, WithdrawalAnnouncement } from './announcement.ts'
import type { DirectoryRecord } from './directory-record.ts'
import { parseViewerCount } from './viewer-count.ts'
import type { ViewerCountMessage } from './viewer-count.ts'
import type { PrivateKey } from '@libp2p/interface'

export const MAX_ENVELOPE_BYTES = 4096
const DOMAIN = new TextEncoder().encode('hivecast/announcement/v1\n')
/** A second envelope kind: a relay's directory record, signed by the relay's own key. */
const DIRECTORY_DOMAIN = new TextEncoder().encode('hivecast/directory/v1\n')
/** Parts of segments in progress: their own domain, so a part envelope never passes as an announcement. */
const PART_DOMAIN = new TextEncoder().encode('hivecast/part/v1\n')
/** A fourth: a relay's viewer count for a room, signed by the relay's own key. */
const VIEWER_COUNT_DOMAIN = new TextEncoder().encode('hivecast/viewer-count/v1\n')

export interface SignedEnvelope {
  v: 1
  /** Peer id of the signing key. */
  key: string
  /** The announcement's JSON text, exactly as signed. */
  payload: string
  /** base64url (no padding) Ed25519 signature over DOMAIN + payload. */
  sig: string
}

/** A segment announcement whose signature checked out, with the envelope to pass on unchanged. */
export interface VerifiedAnnouncement {
  announcement: SegmentAnnouncement
  envelope: SignedEnvelope
}

/** A recording announcement whose signature checked out. */
export interface VerifiedRecording {
  announcement: RecordingAnnouncement
  envelope: SignedEnvelope
}

/** A thumbnail announcement whose signature checked out. */
export interface VerifiedThumbnail {
  announcement: ThumbnailAnnouncement
  envelope: SignedEnvelope
}

/** A recording withdrawal whose signature checked out. */
export interface VerifiedWithdrawal {
  announcement: WithdrawalAnnouncement
  envelope: SignedEnvelope
}

/** Any room-topic message whose signature checked out; route on `announcement.kind`. */
export type VerifiedRoomMessage = VerifiedAnnouncement | VerifiedRecording | VerifiedThumbnail | VerifiedWithdrawal

/** A relay's directory record whose signature (by the relay it describes) checked out. */
export interface VerifiedDirectoryRecord {
  record: DirectoryRecord
  envelope: SignedEnvelope
}

function signedBytes (payload: string, domain: Uint8Array = DOMAIN): Uint8Array {
  const body = new TextEncoder().encode(payload)
  const out = new Uint8Array(domain.length + body.length)
  out.set(domain)
  out.set(body, domain.length)
  return out
}

async function sign (value: unknown, domain: Uint8Array, key: PrivateKey, keyId: string): Promise<SignedEnvelope> {
  const payload = JSON.stringify(value)
  const sig = await key.sign(signedBytes(payload, domain))
  return { v: 1, key: keyId, payload, sig: base64url.baseEncode(sig) }
}

export async function signAnnouncement (announcement: Announcement, key: PrivateKey, keyId: string): Promise<SignedEnvelope> {
  return await sign(announcement, DOMAIN, key, keyId)
}

/** Signs a part announcement with the room key, under the parts' own domain. */
export async function signPartAnnouncement (part: PartAnnouncement, key: PrivateKey, keyId: string): Promise<SignedEnvelope> {
  return await sign(part, PART_DOMAIN, key, keyId)
}

/** Signs a relay's directory record with the relay's own key (its libp2p identity). */
export async function signDirectoryRecord (record: DirectoryRecord, key: PrivateKey, keyId: string): Promise<SignedEnvelope> {
  return await sign(record, DIRECTORY_DOMAIN, key, keyId)
}

/** Signs a relay's viewer count for a room with the relay's own key. */
export async function signViewerCount (count: ViewerCountMessage, key: PrivateKey, keyId: string): Promise<SignedEnvelope> {
  return await sign(count, VIEWER_COUNT_DOMAIN, key, keyId)
}

/** True for a usable room key: a peer id that carries its Ed25519 public key (`12D3KooW...`). */
export function isRoomKey (value: string): boolean {
  try {
    return peerIdFromString(value).publicKey !== undefined
  } catch {
    return false
  }
}

export function encodeEnvelope (envelope: SignedEnvelope): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(envelope))
}

function isEnvelopeShape (value: unknown): value is SignedEnvelope {
  if (typeof value !== 'object' || value === null) return false
  const e = value as Record<string, unknown>
  return e.v === 1 && typeof e.key === 'string' && e.key.length <= 100 &&
    typeof e.payload === 'string' && typeof e.sig === 'string' && e.sig.length <= 200
}

/** Why an envelope was refused, for counters and metric labels (the reason is for people). */
export type VerifyFailureCode = 'oversized' | 'malformed' | 'wrong-key' | 'bad-signature' | 'invalid-announcement'

/** A verification's outcome: the value, or why not in words and as a code. */
export type VerifyResult<T> = { ok: true, value: T } | { ok: false, reason: string, code: VerifyFailureCode }

function refuse (code: VerifyFailureCode, reason: string): { ok: false, reason: string, code: VerifyFailureCode } {
  return { ok: false, reason, code }
}

/**
 * Checks an untrusted envelope (wire bytes or parsed JSON): shape, signer among `allowedKeys`,
 * signature, then the announcement itself, of any kind. Never throws; says why it refused.
 */
export async function verifyRoomMessage (input: Uint8Array | unknown, allowedKeys: readonly string[]): Promise<VerifyResult<VerifiedRoomMessage>> {
  const opened = await openEnvelope(input, DOMAIN, key => allowedKeys.includes(key) ? undefined : `signer ${key} is not a key of this room`)
  if (!opened.ok) return opened
  const announcement = parseAnnouncement(opened.value.parsed)
  if (!announcement.ok) return refuse('invalid-announcement', announcement.reason)
  return { ok: true, value: withEnvelope(announcement.value, opened.value.envelope) }
}

function withEnvelope (announcement: Announcement, envelope: SignedEnvelope): VerifiedRoomMessage {
  switch (announcement.kind) {
    case 'segment': return { announcement, envelope }
    case 'recording': return { announcement, envelope }
    case 'thumbnail': return { announcement, envelope }
    case 'withdrawal': return { announcement, envelope }
  }
}

/**
 * As verifyRoomMessage, for places that only deal in segments (live windows, players): any other
 * kind is refused, so a recording can never enter a live window.
 */
export async function verifyEnvelope (input: Uint8Array | unknown, allowedKeys: readonly string[]): Promise<VerifyResult<VerifiedAnnouncement>> {
  const result = await verifyRoomMessage(input, allowedKeys)
  if (!result.ok) return result
  const { announcement, envelope } = result.value
  if (announcement.kind !== 'segment') return refuse('invalid-announcement', `kind: a ${announcement.kind} announcement where a segment announcement belongs`)
  return { ok: true, value: { announcement, envelope } }
}

/** A part announcement whose signature checked out. */
export interface VerifiedPart {
  announcement: PartAnnouncement
  envelope: SignedEnvelope
}

/**
 * Checks an untrusted part envelope: shape, signer among `allowedKeys`, signature under the parts'
 * domain, then the part announcement. Never throws; says why it refused.
 */
export async function verifyPartEnvelope (input: Uint8Array | unknown, allowedKeys: readonly string[]): Promise<VerifyResult<VerifiedPart>> {
  const opened = await openEnvelope(input, PART_DOMAIN, key => allowedKeys.includes(key) ? undefined : `signer ${key} is not a key of this room`)
  if (!opened.ok) return opened
  const part = parsePartAnnouncement(opened.value.parsed)
  if (!part.ok) return refuse('invalid-announcement', part.reason)
  return { ok: true, value: { announcement: part.value, envelope: opened.value.envelope } }
}

/**
 * Checks an untrusted directory record: shape, signature by the key it names, then the record, whose
 * `peerId` must be that signing key (a relay speaks only for itself). Never throws; says why it refused.
 */
export async function verifyDirectoryEnvelope (input: Uint8Array | unknown): Promise<VerifyResult<VerifiedDirectoryRecord>> {
  const opened = await openEnvelope(input, DIRECTORY_DOMAIN, () => undefined)
  if (!opened.ok) return opened
  const record = parseDirectoryRecord(opened.value.parsed)
  if (!record.ok) return refuse('invalid-announcement', record.reason)
  if (record.value.peerId !== opened.value.envelope.key) return refuse('wrong-key', 'record describes another peer than its signer')
  return { ok: true, value: { record: record.value, envelope: opened.value.envelope } }
}

/**
 * Checks an untrusted viewer count: shape, signature by the key it names, then the message, whose
 * `peerId` must be that signing key (a relay counts only its own viewers). Never throws.
 */
export async function verifyViewerCountEnvelope (input: Uint8Array | unknown): Promise<VerifyResult<ViewerCountMessage>> {
  const opened = await openEnvelope(input, VIEWER_COUNT_DOMAIN, () => undefined)
  if (!opened.ok) return opened
  const count = parseViewerCount(opened.value.parsed)
  if (!count.ok) return refuse('invalid-announcement', count.reason)
  if (count.value.peerId !== opened.value.envelope.key) return refuse('wrong-key', 'count describes another relay than its signer')
  return { ok: true, value: count.value }
}

/** Size, JSON, shape, signer check and signature, shared by every envelope kind. */
async function openEnvelope (input: Uint8Array | unknown, domain: Uint8Array, refuseSigner: (key: string) => string | undefined): Promise<VerifyResult<{ envelope: SignedEnvelope, parsed: unknown }>> {
  let value: unknown = input
  if (input instanceof Uint8Array) {
    if (input.length > MAX_ENVELOPE_BYTES) return refuse('oversized', `message too large (${input.length} bytes, max ${MAX_ENVELOPE_BYTES})`)
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(input))
    } catch {
      return refuse('malformed', 'message is not UTF-8 JSON')
    }
  }
  if (!isEnvelopeShape(value)) return refuse('malformed', 'message is not a signed envelope')
  const refused = refuseSigner(value.key)
  if (refused !== undefined) return refuse('wrong-key', refused)
  let valid = false
  try {
    const publicKey = peerIdFromString(value.key).publicKey
    if (publicKey === undefined) return refuse('bad-signature', 'signer id carries no public key')
    valid = await publicKey.verify(signedBytes(value.payload, domain), base64url.baseDecode(value.sig))
  } catch {
    valid = false
  }
  if (!valid) return refuse('bad-signature', 'bad signature')
  let parsed: unknown
  try {
    parsed = JSON.parse(value.payload)
  } catch {
    return refuse('malformed', 'payload is not JSON')
  }
  return { ok: true, value: { envelope: { v: 1, key: value.key, payload: value.payload, sig: value.sig }, parsed } }
}
