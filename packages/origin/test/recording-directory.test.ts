/**
 * The recording's directories are encoded whole rather than grown one `cp` at a time: the result must
 * be the very directory @helia/unixfs builds entry by entry (same CID), so any UnixFS reader takes it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { rawCid } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { CID } from 'multiformats/cid'
import { SessionRecorder } from '../src/session-recorder.ts'

test('a snapshot\'s rendition directory is the one @helia/unixfs builds entry by entry, and a later snapshot adds to it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-recording-dir-'))
  const identity = await loadOrCreateIdentity(dir)
  const node = await createP2PNode({ identity, dataDir: dir, listen: [], allowPublishToZeroTopicPeers: true })
  t.after(async () => {
    await node.stop()
    await new Promise(resolve => setTimeout(resolve, 1000))
    await rm(dir, { recursive: true, force: true })
  })
  const recorder = await SessionRecorder.open({ node, identity, room: 'dir-test', topic: '/hivecast/room/1/dir-test', dataDir: dir, log: () => {} })
  const rendition = { name: '360p', bandwidth: 935_280, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
  const fs = unixfs(node)
  let expected = await fs.addDirectory()
  const record = async (seq: number): Promise<void> => {
    const bytes = new Uint8Array(700 + seq).fill(seq)
    const cid = await rawCid(bytes)
    await node.blockstore.put(cid, bytes)
    await recorder.record({ kind: 'segment', room: 'dir-test', rendition, seq, cid: cid.toString(), size: bytes.length, duration: 1, pdt: 1_700_000_000_000 + seq * 1000, discontinuity: false, end: false })
    expected = await fs.cp(cid, expected, `${seq}.ts`)
  }
  for (const seq of [0, 1, 2, 9, 10, 11]) await record(seq)
  const first = await recorder.snapshot(false)
  assert.ok(first !== undefined)
  assert.equal((await fs.stat(CID.parse(first.cid), { path: '360p' })).cid.toString(), expected.toString())
  for (const seq of [12, 13, 100]) await record(seq)
  const second = await recorder.snapshot(false)
  assert.ok(second !== undefined && second.cid !== first.cid)
  assert.equal((await fs.stat(CID.parse(second.cid), { path: '360p' })).cid.toString(), expected.toString())
  assert.equal(second.segments, 9)
  const names: string[] = []
  for await (const entry of fs.ls(CID.parse(second.cid))) names.push(entry.name)
  assert.deepEqual(names, ['360p', '360p.m3u8', 'index.m3u8'])
})
