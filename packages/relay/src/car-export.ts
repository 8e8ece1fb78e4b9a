/**
 * Trustless-gateway CAR responses (`/ipfs/<cid>?format=car`): the DAG under a CID this relay holds
 * (a pinned recording, or a live segment as a one-block CAR), as CARv1 in depth-first order without
 * duplicates, streamed from the local store block by block. A client checks every block against its CID.
 */
import { CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { DAG_PB_CODEC, RAW_CODEC } from '@hivecast/shared'
import type { CID } from 'multiformats/cid'

export const CAR_TYPE = 'application/vnd.ipld.car; version=1; order=dfs; dups=n'
/** Links a directory or file node may have; more is no recording Hivecast made. */
const MAX_LINKS = 100_000

/**
 * `dag-scope` of the trustless gateway: `all` (the whole DAG, the default), `entity` (what it takes to
 * read the file or list the directory at the root: a file's blocks, a directory's own block, HAMT shards
 * whole) or `block` (the root alone).
 */
export type DagScope = 'all' | 'entity' | 'block'

/** UnixFS `Data.Type` of a plain directory: its entries are other entities, not part of it. */
const UNIXFS_DIRECTORY = 1

/** The UnixFS type (protobuf field 1 of the dag-pb node's Data), or undefined when it has none. */
function unixfsType (data: Uint8Array | undefined): number | undefined {
  if (data === undefined) return undefined
  let at = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; at < data.length && shift < 35; shift += 7) {
      const byte = data[at++]!
      value += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) return value
    }
    throw new Error('truncated varint in a UnixFS node')
  }
  while (at < data.length) {
    const tag = varint()
    if (tag === 0x08) return varint()
    // Skip another field: varint (wire type 0) or length-delimited (2); UnixFS has no others.
    if ((tag & 7) === 0) varint()
    else if ((tag & 7) === 2) at += varint()
    else return undefined
  }
  return undefined
}

/** Links of a dag-pb block (directories, HAMT shards, chunked files); a raw block has none. */
export function dagLinks (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === RAW_CODEC) return []
  if (cid.code !== DAG_PB_CODEC) throw new Error(`block ${cid.toString()} is neither raw nor dag-pb; a recording holds only UnixFS`)
  const node = dagPb.decode(bytes)
  if (node.Links.length > MAX_LINKS) throw new Error(`block ${cid.toString()} has ${node.Links.length} links, over ${MAX_LINKS}`)
  return node.Links.map(link => link.Hash)
}

function isDirectory (cid: CID, bytes: Uint8Array): boolean {
  return cid.code === DAG_PB_CODEC && unixfsType(dagPb.decode(bytes).Data) === UNIXFS_DIRECTORY
}

/**
 * The blocks from `root` down `path` (names in plain UnixFS directories), the terminus last: what a
 * client needs to verify the path before the terminus's own DAG. Undefined when a name is not there or
 * a step is not a plain directory (a HAMT-sharded one is not walked: no Hivecast recording has one).
 */
export async function pathBlocks (root: CID, path: string[], read: (cid: CID) => Promise<Uint8Array>): Promise<Array<{ cid: CID, bytes: Uint8Array }> | undefined> {
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  let cid = root
  for (const name of path) {
    const bytes = await read(cid)
    blocks.push({ cid, bytes })
    if (!isDirectory(cid, bytes)) return undefined
    const link = dagPb.decode(bytes).Links.find(l => l.Name === name)
    if (link === undefined) return undefined
    cid = link.Hash
  }
  blocks.push({ cid, bytes: await read(cid) })
  return blocks
}

/** The blocks under `root` in depth-first order, each once, read with `read` (which must not fetch). */
export async function * dagBlocks (root: CID, read: (cid: CID) => Promise<Uint8Array>, scope: DagScope = 'all'): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
  const seen = new Set<string>()
  const stack: CID[] = [root]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    const bytes = await read(cid)
    yield { cid, bytes }
    // Pushed in reverse so the first link is visited first.
    if (scope === 'all' || (scope === 'entity' && !isDirectory(cid, bytes))) stack.push(...dagLinks(cid, bytes).reverse())
  }
}

/** CARv1 bytes, as they are produced, of `blocks` with `root` as the one root. */
export async function * carStream (root: CID, blocks: AsyncIterable<{ cid: CID, bytes: Uint8Array }>): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const writing = (async () => {
    try {
      for await (const block of blocks) await writer.put(block)
    } finally {
      await writer.close()
    }
  })()
  // A failed read must end the stream with an error, not a short CAR that looks whole.
  let failure: unknown
  writing.catch((err: unknown) => { failure = err })
  for await (const chunk of out) yield chunk
  await writing.catch(() => {})
  if (failure !== undefined) throw failure
}
