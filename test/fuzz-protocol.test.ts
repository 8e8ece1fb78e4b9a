/**
 * Property-based fuzzing (fast-check) of the parsers at the protocol's trust boundary: whatever bytes
 * or JSON a peer sends, verification answers with a reason and never throws; the playlist model keeps
 * its invariants under any order of announcements and fetch results.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { encodeEnvelope, LiveWindow, parseAnnouncement, signAnnouncement, verifyEnvelope } from '@hivecast/shared'
import type { EntryState, SegmentAnnouncement } from '@hivecast/shared'

const key = await generateKeyPair('Ed25519')
const keyId = peerIdFromPrivateKey(key).toString()
const CID = 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'
const rendition = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }

function segment (seq: number, discontinuity = false): SegmentAnnouncement {
  return { kind: 'segment', room: 'fuzz', rendition, seq, cid: CID, size: 100, duration: 1, pdt: 1_763_900_000_000 + seq * 1000, discontinuity, end: false }
}

test('arbitrary bytes are refused with a reason, never thrown', async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 6000 }), async bytes => {
    const result = await verifyEnvelope(bytes, [keyId])
    assert.equal(result.ok, false)
    assert.equal(typeof (result.ok ? '' : result.reason), 'string')
  }), { numRuns: 300 })
})

test('arbitrary JSON, and envelope-shaped JSON with junk fields, is refused, never thrown', async () => {
  const envelopeLike = fc.record({
    v: fc.oneof(fc.constant(1), fc.jsonValue()),
    key: fc.oneof(fc.constant(keyId), fc.string()),
    payload: fc.oneof(fc.json(), fc.string()),
    sig: fc.oneof(fc.base64String(), fc.string())
  }, { requiredKeys: [] })
  await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue(), envelopeLike), async value => {
    const result = await verifyEnvelope(new TextEncoder().encode(JSON.stringify(value) ?? 'null'), [keyId])
    assert.equal(result.ok, false)
  }), { numRuns: 300 })
})

test('a correctly signed payload is accepted only when it is a whole, valid announcement', async () => {
  // A valid announcement with at most one field replaced by junk (or removed, or added).
  const fieldNames = [...Object.keys(segment(0)), 'extra'] as const
  const mutation = fc.option(fc.tuple(fc.constantFrom(...fieldNames), fc.option(fc.jsonValue(), { nil: undefined })), { nil: undefined })
  let valid = 0
  await fc.assert(fc.asyncProperty(fc.nat({ max: 1_000_000 }), mutation, async (seq, change) => {
    const value: Record<string, unknown> = { ...segment(seq) }
    if (change !== undefined) {
      const [field, junk] = change
      if (junk === undefined) delete value[field]
      else value[field] = junk
    }
    const envelope = await signAnnouncement(value as unknown as SegmentAnnouncement, key, keyId)
    const result = await verifyEnvelope(encodeEnvelope(envelope), [keyId])
    const [field, junk] = change ?? ['extra', undefined]
    if (field === 'extra' && junk === undefined) assert.equal(result.ok, true, 'an untouched announcement verifies')
    else if (field === 'extra' || junk === undefined) assert.equal(result.ok, false, 'unknown or missing fields are refused')
    if (result.ok) {
      valid++
      assert.deepEqual(result.value.announcement, JSON.parse(envelope.payload), 'what is accepted is exactly what was signed')
      assert.equal(parseAnnouncement(result.value.announcement).ok, true)
    }
  }), { numRuns: 400 })
  assert.ok(valid > 20, `only ${valid} valid announcements were generated`)
})

test('the live window lists only settled, consecutive segments, whatever order things happen in', () => {
  const op = fc.oneof(
    fc.record({ add: fc.integer({ min: 0, max: 40 }), discontinuity: fc.boolean() }),
    fc.record({ settle: fc.integer({ min: 0, max: 40 }), state: fc.constantFrom<EntryState>('stored', 'failed') })
  )
  fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 80 }), (size, ops) => {
    const window = new LiveWindow(size)
    const states = new Map<number, EntryState>()
    for (const o of ops) {
      if ('add' in o) {
        if (window.add({ announcement: segment(o.add, o.discontinuity), state: 'pending' }) && !states.has(o.add)) states.set(o.add, 'pending')
      } else if (window.get(o.settle) !== undefined) {
        window.setState(o.settle, o.state)
        states.set(o.settle, o.state)
      }
    }
    const { entries, discontinuitySequence } = window.playlist()
    assert.ok(entries.length <= size)
    assert.ok(discontinuitySequence >= 0)
    entries.forEach((entry, i) => {
      if (i > 0) assert.equal(entry.seq, entries[i - 1]!.seq + 1, 'listed seqs are consecutive')
      assert.notEqual(states.get(entry.seq), 'pending', 'a pending segment is never listed')
      assert.equal(entry.gap, states.get(entry.seq) === 'failed')
    })
  }), { numRuns: 500 })
})
