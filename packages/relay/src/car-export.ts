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

/** `dag-scope` of the trustless gateway: `all` (the whole DAG, the default) or `block` (the root alone). */
export type DagScope = 'all' | 'block'

/** Links of a dag-pb block (directories, HAMT shards, chunked files); a raw block has none. */
export function dagLinks (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === RAW_CODEC) return []
  if (cid.code !== DAG_PB_CODEC) throw new Error(`block ${cid.toString()} is neither raw nor dag-pb; a recording holds only UnixFS`)
  const node = dagPb.decode(bytes)
  if (node.Links.length > MAX_LINKS) throw new Error(`block ${cid.toString()} has ${node.Links.length} links, over ${MAX_LINKS}`)
  return node.Links.map(link => link.Hash)
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
    if (scope === 'all') stack.push(...dagLinks(cid, bytes).reverse())
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
