import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { DAG_PB_CODEC, hasWebCryptoDigest, isSegmentCid, rawCid, tryParseCid, verifyBlock, verifyRawBlock } from '../src/index.ts'

test('the raw CID of bytes is their SHA-256, as `ipfs add --cid-version 1 --raw-leaves` gives', async () => {
  const bytes = new TextEncoder().encode('hello hivecast')
  const cid = await rawCid(bytes)
  assert.equal(cid.version, 1)
  assert.equal(cid.code, 0x55)
  assert.deepEqual(Buffer.from(cid.multihash.digest), createHash('sha256').update(bytes).digest())
  // Known vector: the CIDv1 raw of "hello world" (no newline).
  assert.equal((await rawCid(new TextEncoder().encode('hello world'))).toString(), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e')
})

test('verifyRawBlock accepts the exact bytes and nothing else', async () => {
  const bytes = new Uint8Array(4096).map((_, i) => i % 256)
  const cid = await rawCid(bytes)
  assert.equal(await verifyRawBlock(cid, bytes), true)
  assert.equal(await verifyRawBlock(cid.toString(), bytes), true)
  const flipped = bytes.slice()
  flipped[100] = flipped[100]! ^ 1
  assert.equal(await verifyRawBlock(cid, flipped), false)
  assert.equal(await verifyRawBlock(cid, bytes.subarray(1)), false)
  assert.equal(await verifyRawBlock('not-a-cid', bytes), false)
})

test('verifyBlock checks any sha2-256 block (a recording\'s dag-pb directory too) against its CID', async () => {
  const bytes = new Uint8Array([0x12, 0x03, 0x0a, 0x01, 0x08, 0x01])
  const directory = CID.createV1(DAG_PB_CODEC, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
  assert.equal(await verifyBlock(directory, bytes), true)
  assert.equal(await verifyBlock(directory.toString(), bytes), true)
  assert.equal(await verifyBlock(directory, bytes.slice(1)), false)
  assert.equal(await verifyRawBlock(directory, bytes), false, 'a dag-pb CID is no raw block')
  const otherHash = CID.createV1(DAG_PB_CODEC, Digest.create(0x13, new Uint8Array(64)))
  assert.equal(await verifyBlock(otherHash, bytes), false, 'only sha2-256 is checked')
  assert.equal(await verifyBlock('not a cid', bytes), false)
})

test('only CIDv1 raw or dag-pb with sha2-256 count as segment CIDs', () => {
  assert.equal(isSegmentCid('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'), true)
  assert.equal(isSegmentCid('QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'), false, 'CIDv0')
  assert.equal(isSegmentCid('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), false, 'dag-cbor')
  assert.equal(isSegmentCid(''), false)
  assert.equal(tryParseCid('x'.repeat(200)), undefined)
})

test('without WebCrypto (a plain-http page) the JS SHA-256 gives the same CIDs and verdicts', async () => {
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256)
  const expected = (await rawCid(bytes)).toString()
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!
  Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true })
  try {
    assert.equal(hasWebCryptoDigest(), false)
    assert.equal((await rawCid(bytes)).toString(), expected)
    assert.equal(await verifyRawBlock(expected, bytes), true)
    const flipped = bytes.slice()
    flipped[5] = flipped[5]! ^ 1
    assert.equal(await verifyRawBlock(expected, flipped), false)
  } finally {
    Object.defineProperty(globalThis, 'crypto', descriptor)
  }
  assert.equal(hasWebCryptoDigest(), true)
})
