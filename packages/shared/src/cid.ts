/**
 * CID helpers. A segment of up to 1 MiB is one raw block (CIDv1, codec raw, sha2-256), so its CID is
 * the SHA-256 of its bytes and one digest verifies it, in Node or in a browser. Where WebCrypto is
 * missing (a page served over plain http on a LAN is not a secure context) a JS SHA-256 stands in.
 */
import { sha256 as jsSha256 } from '@noble/hashes/sha2.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'

export const RAW_CODEC = 0x55
export const DAG_PB_CODEC = 0x70
export const SHA2_256 = 0x12
/** Largest segment stored as a single raw block; larger ones are UnixFS DAGs. */
export const MAX_RAW_BLOCK = 1024 * 1024

/** True when SHA-256 runs in WebCrypto; false when the slower JS stand-in does. */
export function hasWebCryptoDigest (): boolean {
  return globalThis.crypto?.subtle !== undefined
}

export async function sha256 (bytes: Uint8Array): Promise<Uint8Array> {
  if (!hasWebCryptoDigest()) return jsSha256(bytes)
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
}

/** The CIDv1 (raw, sha2-256) of a block, the same as `ipfs add --cid-version 1 --raw-leaves` of <= 1 MiB. */
export async function rawCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, await sha256(bytes)))
}

/** Parses a CID string, or returns undefined when it is not one. */
export function tryParseCid (value: string): CID | undefined {
  if (value.length > 128) return undefined
  try {
    return CID.parse(value)
  } catch {
    return undefined
  }
}

/** True for the CIDs Hivecast announces: v1, raw or dag-pb, sha2-256. */
export function isSegmentCid (value: string): boolean {
  const cid = tryParseCid(value)
  return cid !== undefined && cid.version === 1 && cid.multihash.code === SHA2_256 &&
    (cid.code === RAW_CODEC || cid.code === DAG_PB_CODEC)
}

/** True when `bytes` is exactly the raw block that `cid` names. */
export async function verifyRawBlock (cid: CID | string, bytes: Uint8Array): Promise<boolean> {
  const parsed = typeof cid === 'string' ? tryParseCid(cid) : cid
  return parsed !== undefined && parsed.code === RAW_CODEC && await verifyBlock(parsed, bytes)
}

/**
 * True when `bytes` is exactly the block that `cid` names, whatever its codec (raw, dag-pb): the
 * SHA-256 of the bytes is the CID's digest. Other hash functions are refused.
 */
export async function verifyBlock (cid: CID | string, bytes: Uint8Array): Promise<boolean> {
  const parsed = typeof cid === 'string' ? tryParseCid(cid) : cid
  if (parsed === undefined || parsed.multihash.code !== SHA2_256) return false
  const digest = await sha256(bytes)
  const expected = parsed.multihash.digest
  if (digest.length !== expected.length) return false
  let diff = 0
  for (let i = 0; i < digest.length; i++) diff |= digest[i]! ^ expected[i]!
  return diff === 0
}
