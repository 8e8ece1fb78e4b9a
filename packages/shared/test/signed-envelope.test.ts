import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeEnvelope, MAX_ENVELOPE_BYTES, rawCid, signAnnouncement, signDirectoryRecord, verifyDirectoryEnvelope, verifyEnvelope } from '../src/index.ts'
import type { DirectoryRecord, SegmentAnnouncement } from '../src/index.ts'

async function keyPair (): Promise<{ key: Awaited<ReturnType<typeof generateKeyPair>>, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

async function announcement (seq = 7): Promise<SegmentAnnouncement> {
  return {
    kind: 'segment',
    room: 'janson',
    rendition: { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 },
    seq,
    cid: (await rawCid(new Uint8Array([1, 2, 3]))).toString(),
    size: 3,
    duration: 1,
    pdt: 1_763_900_000_000,
    discontinuity: false,
    end: false
  }
}

test('an envelope signed by a room key verifies and yields the announcement', async () => {
  const origin = await keyPair()
  const envelope = await signAnnouncement(await announcement(), origin.key, origin.id)
  const result = await verifyEnvelope(encodeEnvelope(envelope), [origin.id])
  assert.ok(result.ok, result.ok ? '' : result.reason)
  assert.equal(result.value.announcement.seq, 7)
  assert.deepEqual(result.value.envelope, envelope)
})

test('a key that is not listed for the room is refused', async () => {
  const origin = await keyPair()
  const stranger = await keyPair()
  const envelope = await signAnnouncement(await announcement(), stranger.key, stranger.id)
  const result = await verifyEnvelope(encodeEnvelope(envelope), [origin.id])
  assert.equal(result.ok, false)
  assert.match(result.ok ? '' : result.reason, /not a key of this room/)
})

test('a signature by another key under a listed key id is refused', async () => {
  const origin = await keyPair()
  const stranger = await keyPair()
  const forged = await signAnnouncement(await announcement(), stranger.key, origin.id)
  const result = await verifyEnvelope(encodeEnvelope(forged), [origin.id])
  assert.deepEqual(result, { ok: false, reason: 'bad signature', code: 'bad-signature' })
})

test('a payload changed after signing is refused', async () => {
  const origin = await keyPair()
  const envelope = await signAnnouncement(await announcement(), origin.key, origin.id)
  const tampered = { ...envelope, payload: envelope.payload.replace('"seq":7', '"seq":8') }
  assert.notEqual(tampered.payload, envelope.payload)
  const result = await verifyEnvelope(encodeEnvelope(tampered), [origin.id])
  assert.deepEqual(result, { ok: false, reason: 'bad signature', code: 'bad-signature' })
})

test('malformed, oversized and invalid messages are refused with a reason, never thrown', async () => {
  const origin = await keyPair()
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([0xff, 0xfe, 0x00]), /not UTF-8 JSON/],
    [new TextEncoder().encode('{"v":2}'), /not a signed envelope/],
    [new TextEncoder().encode('[]'), /not a signed envelope/],
    [new Uint8Array(MAX_ENVELOPE_BYTES + 1).fill(32), /too large/]
  ]
  for (const [bytes, reason] of cases) {
    const result = await verifyEnvelope(bytes, [origin.id])
    assert.equal(result.ok, false)
    assert.match(result.ok ? '' : result.reason, reason)
  }
  const bad = { ...(await announcement()), seq: -1 }
  const signed = await signAnnouncement(bad, origin.key, origin.id)
  const result = await verifyEnvelope(encodeEnvelope(signed), [origin.id])
  assert.equal(result.ok, false)
  assert.match(result.ok ? '' : result.reason, /^seq: /)
})

test('a relay\'s directory record verifies only when signed by the relay it describes, and never as an announcement', async () => {
  const relay = await keyPair()
  const record: DirectoryRecord = {
    kind: 'relay',
    peerId: relay.id,
    url: 'https://relay.example.org/',
    multiaddrs: [`/ip4/203.0.113.7/tcp/4001/p2p/${relay.id}`],
    rooms: ['janson'],
    load: { requestsPerSecond: 2.5, bytesPerSecond: 1_000_000 },
    viewers: 3,
    timestamp: 1_763_900_000_000,
    leaving: false
  }
  const envelope = await signDirectoryRecord(record, relay.key, relay.id)
  const verified = await verifyDirectoryEnvelope(encodeEnvelope(envelope))
  assert.ok(verified.ok)
  assert.deepEqual(verified.value.record, record)

  const other = await keyPair()
  const impostor = await verifyDirectoryEnvelope(await signDirectoryRecord(record, other.key, other.id))
  assert.deepEqual(impostor, { ok: false, reason: 'record describes another peer than its signer', code: 'wrong-key' })
  assert.equal((await verifyDirectoryEnvelope({ ...envelope, payload: envelope.payload.replace('janson', 'k1105') })).ok, false, 'tampered')
  assert.match((await verifyDirectoryEnvelope(await signDirectoryRecord({ ...record, url: 'javascript:alert(1)' }, relay.key, relay.id)) as { reason: string }).reason, /^url:/)

  // Domain separation: the same key's signatures never cross between the two kinds.
  assert.deepEqual(await verifyEnvelope(envelope, [relay.id]), { ok: false, reason: 'bad signature', code: 'bad-signature' })
  const announcementEnvelope = await signAnnouncement(await announcement(), relay.key, relay.id)
  assert.deepEqual(await verifyDirectoryEnvelope(announcementEnvelope), { ok: false, reason: 'bad signature', code: 'bad-signature' })
})
