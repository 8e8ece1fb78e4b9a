import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DAG_PB_CODEC, encodeEnvelope, parseAnnouncement, rawCid, renderMediaPlaylist, signAnnouncement, verifyEnvelope, verifyRoomMessage } from '../src/index.ts'
import type { RecordingAnnouncement } from '../src/index.ts'

async function recording (): Promise<RecordingAnnouncement> {
  const dir = CID.createV1(DAG_PB_CODEC, await sha256.digest(new Uint8Array([1])))
  return { kind: 'recording', room: 'janson', cid: dir.toString(), session: '2026-11-23T16-00-00-000Z', started: 1_763_900_000_000, ended: 1_763_900_008_000, duration: 8, segments: 8, final: true }
}

test('a recording announcement verifies as a room message, never as a segment', async () => {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const envelope = encodeEnvelope(await signAnnouncement(await recording(), key, id))
  const message = await verifyRoomMessage(envelope, [id])
  assert.ok(message.ok, message.ok ? '' : message.reason)
  assert.equal(message.value.announcement.kind, 'recording')
  const segment = await verifyEnvelope(envelope, [id])
  assert.equal(segment.ok, false, 'a recording cannot pass where segments go (live windows, players)')
  const other = await generateKeyPair('Ed25519')
  assert.equal((await verifyRoomMessage(envelope, [peerIdFromPrivateKey(other).toString()])).ok, false, 'another room key is refused')
})

test('a recording must name a dag-pb directory and a sane session', async () => {
  const good = await recording()
  assert.ok(parseAnnouncement(good).ok)
  const raw = (await rawCid(new Uint8Array([1]))).toString()
  assert.match((parseAnnouncement({ ...good, cid: raw }) as { reason: string }).reason, /^cid: cid must be a CIDv1 dag-pb/)
  assert.match((parseAnnouncement({ ...good, session: '../x' }) as { reason: string }).reason, /^session:/)
  assert.equal(parseAnnouncement({ ...good, extra: 1 }).ok, false, 'unknown fields are refused')
})

test('a VOD media playlist says so and ends', () => {
  const text = renderMediaPlaylist({ entries: [{ seq: 0, cid: 'x', duration: 1, pdt: 0, discontinuity: false, gap: false }], discontinuitySequence: 0, ended: true }, e => `240p/${e.seq}.ts`, { vod: true })
  assert.match(text, /^#EXT-X-PLAYLIST-TYPE:VOD$/m)
  assert.match(text, /^#EXT-X-ENDLIST$/m)
  assert.match(text, /^240p\/0\.ts$/m)
})
