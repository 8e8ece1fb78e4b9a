import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DAG_PB_CODEC, MAX_ENVELOPE_BYTES, MAX_WITHDRAWN_RECORDINGS, encodeEnvelope, parseAnnouncement, rawCid, signAnnouncement, verifyEnvelope, verifyRoomMessage } from '../src/index.ts'
import type { WithdrawalAnnouncement } from '../src/index.ts'

async function directory (n: number): Promise<string> {
  return CID.createV1(DAG_PB_CODEC, await sha256.digest(new Uint8Array([n]))).toString()
}

async function withdrawal (recordings = 1): Promise<WithdrawalAnnouncement> {
  const cids = await Promise.all(Array.from({ length: recordings }, async (_, i) => await directory(i)))
  return { kind: 'withdrawal', room: 'janson', session: 'session-1', from: 1_763_900_000_000, to: 1_763_900_600_000, recordings: cids, at: 1_763_900_700_000 }
}

test('a withdrawal verifies as a room message signed by the room key, never as a segment, and fits an envelope at its largest', async () => {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const envelope = encodeEnvelope(await signAnnouncement(await withdrawal(MAX_WITHDRAWN_RECORDINGS), key, id))
  assert.ok(envelope.length <= MAX_ENVELOPE_BYTES, `${envelope.length} bytes`)
  const message = await verifyRoomMessage(envelope, [id])
  assert.ok(message.ok, message.ok ? '' : message.reason)
  assert.equal(message.value.announcement.kind, 'withdrawal')
  assert.equal((await verifyEnvelope(envelope, [id])).ok, false, 'a withdrawal cannot pass where segments go')
  const other = await generateKeyPair('Ed25519')
  assert.equal((await verifyRoomMessage(envelope, [peerIdFromPrivateKey(other).toString()])).ok, false, 'another key cannot withdraw')
})

test('a withdrawal names a forward range and at most MAX_WITHDRAWN_RECORDINGS directories', async () => {
  const good = await withdrawal()
  assert.ok(parseAnnouncement(good).ok)
  assert.match((parseAnnouncement({ ...good, to: good.from }) as { reason: string }).reason, /to must be after from/)
  assert.equal(parseAnnouncement(await withdrawal(MAX_WITHDRAWN_RECORDINGS + 1)).ok, false, 'too many recordings')
  const raw = (await rawCid(new Uint8Array([1]))).toString()
  assert.match((parseAnnouncement({ ...good, recordings: [raw] }) as { reason: string }).reason, /^recordings\.0:/)
  assert.equal(parseAnnouncement({ ...good, segments: [] }).ok, false, 'unknown fields are refused')
})
