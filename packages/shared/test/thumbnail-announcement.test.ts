import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DAG_PB_CODEC, encodeEnvelope, isRoomKey, parseAnnouncement, rawCid, signAnnouncement, verifyEnvelope, verifyRoomMessage } from '../src/index.ts'
import type { ThumbnailAnnouncement } from '../src/index.ts'

async function thumbnail (): Promise<ThumbnailAnnouncement> {
  return { kind: 'thumbnail', room: 'janson', cid: (await rawCid(new Uint8Array([0xff, 0xd8, 0xff]))).toString(), at: 1_763_900_000_000, width: 320, height: 180 }
}

test('a thumbnail announcement verifies as a room message, never as a segment', async () => {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const envelope = encodeEnvelope(await signAnnouncement(await thumbnail(), key, id))
  const message = await verifyRoomMessage(envelope, [id])
  assert.ok(message.ok, message.ok ? '' : message.reason)
  assert.equal(message.value.announcement.kind, 'thumbnail')
  assert.equal((await verifyEnvelope(envelope, [id])).ok, false, 'a thumbnail cannot pass where segments go')
  assert.equal(isRoomKey(id), true)
  assert.equal(isRoomKey('12D3KooWnot-a-key'), false)
})

test('a thumbnail must name one raw block and a sane size', async () => {
  const good = await thumbnail()
  assert.ok(parseAnnouncement(good).ok)
  const dir = CID.createV1(DAG_PB_CODEC, await sha256.digest(new Uint8Array([1]))).toString()
  assert.match((parseAnnouncement({ ...good, cid: dir }) as { reason: string }).reason, /^cid: cid must be a CIDv1 raw block/)
  assert.match((parseAnnouncement({ ...good, width: 0 }) as { reason: string }).reason, /^width:/)
  assert.match((parseAnnouncement({ ...good, height: 5000 }) as { reason: string }).reason, /^height:/)
  assert.match((parseAnnouncement({ ...good, at: -1 }) as { reason: string }).reason, /^at:/)
  assert.equal(parseAnnouncement({ ...good, bytes: 'AAAA' }).ok, false, 'unknown fields are refused')
})
