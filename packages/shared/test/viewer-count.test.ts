import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeEnvelope, isViewerToken, MAX_ENVELOPE_BYTES, MAX_LISTED_HASHES, newViewerToken, signViewerCount, verifyViewerCountEnvelope } from '../src/index.ts'
import type { ViewerCountMessage } from '../src/index.ts'

const key = await generateKeyPair('Ed25519')
const id = peerIdFromPrivateKey(key).toString()
const hashes = (n: number): string[] => Array.from({ length: n }, (_, i) => i.toString(16).padStart(16, 'f'))
const count = (fields: Partial<ViewerCountMessage> = {}): ViewerCountMessage => ({ kind: 'viewers', peerId: id, room: 'janson', timestamp: Date.now(), hashes: hashes(3), ...fields })

test('viewer tokens are 22 base64url characters, fresh every time', () => {
  const [a, b] = [newViewerToken(), newViewerToken()]
  assert.ok(isViewerToken(a) && isViewerToken(b))
  assert.notEqual(a, b)
  for (const bad of ['', 'a'.repeat(21), 'a'.repeat(23), `${'a'.repeat(21)}+`, 7]) assert.equal(isViewerToken(bad), false)
})

test('a full count of listed hashes fits one envelope and verifies', async () => {
  const envelope = await signViewerCount(count({ hashes: hashes(MAX_LISTED_HASHES) }), key, id)
  const bytes = encodeEnvelope(envelope)
  assert.ok(bytes.length < MAX_ENVELOPE_BYTES, `${bytes.length} bytes`)
  const verified = await verifyViewerCountEnvelope(bytes)
  assert.ok(verified.ok)
  assert.equal(verified.value.hashes?.length, MAX_LISTED_HASHES)
})

test('a count is refused when forged, too long, or both hashes and sketch', async () => {
  const other = await generateKeyPair('Ed25519')
  const forged = await verifyViewerCountEnvelope(await signViewerCount(count(), other, id))
  assert.ok(!forged.ok && forged.code === 'bad-signature')
  const otherId = peerIdFromPrivateKey(other).toString()
  const misnamed = await verifyViewerCountEnvelope(await signViewerCount(count(), other, otherId))
  assert.ok(!misnamed.ok && misnamed.code === 'wrong-key')
  const long = await verifyViewerCountEnvelope(await signViewerCount(count({ hashes: hashes(MAX_LISTED_HASHES + 1) }), key, id))
  assert.ok(!long.ok && long.code === 'invalid-announcement')
  const both = await verifyViewerCountEnvelope(await signViewerCount(count({ sketch: 'A'.repeat(1366) }), key, id))
  assert.ok(!both.ok && both.code === 'invalid-announcement', 'hashes and a sketch together')
  const neither = await verifyViewerCountEnvelope(await signViewerCount(count({ hashes: undefined }), key, id))
  assert.ok(!neither.ok)
})
