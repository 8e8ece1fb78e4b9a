/**
 * LL-HLS on real processes (devnet: the origin on the test pattern cutting every segment into parts,
 * and a relay): the relay's media playlist lists parts whose blocks match their CIDs and join into their
 * segment, which the relay then joins from them rather than fetch it again; a blocking reload for the
 * hinted part is answered once it exists, and the hinted URL serves that part; the signed window the
 * Hivecast player reads carries the parts' envelopes and waits the same way; and ffmpeg still plays
 * the playlist.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { relayRoutes, verifyPartEnvelope, verifyRawBlock } from '@hivecast/shared'
import type { WindowJson } from '@hivecast/shared'
import type { RelayStatus } from '@hivecast/relay'
import { eventually } from '@hivecast/devnet'
import { devnetForTest } from './src/devnet-fixture.ts'

const RENDITION = '240p'
const devnet = await devnetForTest('low-latency-hls', { relays: 1, renditions: RENDITION, partDuration: 0.333 })
const relay = devnet.relays[0]!
const playlistUrl = `${relay.url}/hls/${devnet.room}/${RENDITION}.m3u8`

interface Listed {
  seq: number
  cid: string
  parts: Array<{ uri: string, duration: number, independent: boolean }>
}

/** The listed segments with their parts, the parts of the segment in progress, and the preload hint. */
function parse (text: string): { segments: Listed[], pending: Listed['parts'], hint: string | undefined, firstSeq: number } {
  const firstSeq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1])
  const segments: Listed[] = []
  let parts: Listed['parts'] = []
  let hint: string | undefined
  for (const line of text.split('\n')) {
    const part = /^#EXT-X-PART:DURATION=([\d.]+),URI="([^"]+)"(,INDEPENDENT=YES)?$/.exec(line)
    if (part !== null) parts.push({ duration: Number(part[1]), uri: part[2]!, independent: part[3] !== undefined })
    if (line.startsWith('/ipfs/')) {
      segments.push({ seq: firstSeq + segments.length, cid: new URL(line, 'http://relay').pathname.slice('/ipfs/'.length), parts })
      parts = []
    }
    const preload = /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"$/.exec(line)
    if (preload !== null) hint = preload[1]
  }
  return { segments, pending: parts, hint, firstSeq }
}

async function bytes (path: string): Promise<Uint8Array> {
  const res = await fetch(new URL(path, relay.url), { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200, `${path} answered ${res.status}`)
  return new Uint8Array(await res.arrayBuffer())
}

test('the relay lists the origin\'s parts: each verifies against its CID, and a segment\'s parts join into it', async () => {
  const text = await eventually('a playlist with two segments listed with their parts', async () => {
    const res = await fetch(playlistUrl)
    if (res.status !== 200) return undefined
    const body = await res.text()
    return parse(body).segments.filter(s => s.parts.length >= 2).length >= 2 ? body : undefined
  }, 60_000)
  assert.match(text, /^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=[\d.]+$/m)
  const target = Number(/^#EXT-X-PART-INF:PART-TARGET=([\d.]+)$/m.exec(text)?.[1])
  assert.ok(target > 0.3 && target < 0.4, `PART-TARGET=${target}`)
  const { segments } = parse(text)
  for (const segment of segments.filter(s => s.parts.length > 0)) {
    assert.equal(segment.parts[0]!.independent, true, `seq ${segment.seq}: its first part is independent`)
    assert.ok(segment.parts.every(p => p.duration <= target))
    const joined: Uint8Array[] = []
    for (const part of segment.parts) {
      const body = await bytes(part.uri)
      const cid = new URL(part.uri, 'http://relay').pathname.slice('/ipfs/'.length)
      assert.ok(await verifyRawBlock(cid, body), `${part.uri} matches its CID`)
      joined.push(body)
    }
    // Parts listed only for the newest segments may start mid-way when the relay joined late: whole ones join exactly.
    if (segment.parts.length >= 3) assert.deepEqual(Buffer.concat(joined), Buffer.from(await bytes(`/ipfs/${segment.cid}`)), `seq ${segment.seq}: the parts join into the segment`)
  }
})

test('a segment whose parts the relay holds is joined from them: its block is not fetched a second time', async () => {
  const counts = async (): Promise<{ received: number, held: number, joined: number }> => {
    const status = await (await fetch(new URL(relayRoutes.status(), relay.url), { signal: AbortSignal.timeout(5000) })).json() as RelayStatus
    const parts = status.rooms[devnet.room]!.parts
    return { received: status.p2p.blocksReceived, held: parts.held, joined: parts.joined }
  }
  const before = await eventually('a segment joined from its parts', async () => {
    const now = await counts()
    return now.joined >= 1 ? now : undefined
  }, 60_000)
  const after = await eventually('4 more segments joined', async () => {
    const now = await counts()
    return now.joined >= before.joined + 4 ? now : undefined
  }, 30_000)
  const received = after.received - before.received
  const parts = after.held - before.held
  // Fetched from the network: the parts, and now and then a thumbnail; not the segments as well.
  assert.ok(received <= parts + 1, `${received} blocks received for ${parts} parts and ${after.joined - before.joined} segments joined`)
})

test('a blocking reload for the hinted part is answered when the part exists, with the part listed', async t => {
  const waits: number[] = []
  for (let round = 0; round < 5; round++) {
    const { hint } = parse(await (await fetch(playlistUrl)).text())
    assert.ok(hint !== undefined, 'a preload hint')
    const [, seq, part] = /\/(\d+)\.(\d+)\.ts$/.exec(hint)!
    const asked = Date.now()
    const res = await fetch(`${playlistUrl}?_HLS_msn=${seq}&_HLS_part=${part}`, { signal: AbortSignal.timeout(10_000) })
    const waited = Date.now() - asked
    assert.equal(res.status, 200)
    const after = parse(await res.text())
    const newestListed = after.segments.at(-1)!.seq
    const partsOf = (n: number): Listed['parts'] | undefined => after.segments.find(s => s.seq === n)?.parts ?? (n === newestListed + 1 ? after.pending : undefined)
    assert.ok(newestListed >= Number(seq) || (partsOf(Number(seq))?.length ?? 0) > Number(part), `the reload for ${seq}.${part} lists it`)
    // Answered when the part came (the origin cuts parts as ffmpeg encodes them: the next comes
    // within about a part), not by the 3 s timeout.
    waits.push(waited)
    assert.ok(waited < 2000, `the reload for part ${seq}.${part} took ${waited} ms`)
    // The hinted URL serves the part itself, the bytes listed for it.
    const hinted = await bytes(`/hls/${devnet.room}/${hint}`)
    const listedPart = partsOf(Number(seq))?.[Number(part)]
    if (listedPart !== undefined) assert.deepEqual(hinted, await bytes(listedPart.uri))
  }
  t.diagnostic(`blocking reloads answered after ${waits.join(', ')} ms`)
})

test('window.json carries the held parts signed by the room key, and a window waiting for the hinted part comes with it', async t => {
  const waits: number[] = []
  for (let round = 0; round < 3; round++) {
    const { hint } = parse(await (await fetch(playlistUrl)).text())
    const [, seq, part] = /\/(\d+)\.(\d+)\.ts$/.exec(hint!)!
    const asked = Date.now()
    const res = await fetch(`${relay.url}${relayRoutes.window(devnet.room, undefined, { rendition: RENDITION, msn: Number(seq), part: Number(part) })}`, { signal: AbortSignal.timeout(10_000) })
    waits.push(Date.now() - asked)
    assert.equal(res.status, 200)
    const body = await res.json() as WindowJson
    const parts = []
    for (const { envelope } of body.parts?.[RENDITION] ?? []) {
      const opened = await verifyPartEnvelope(envelope, [devnet.origin.key])
      assert.ok(opened.ok, `every part envelope is signed by the room key: ${JSON.stringify(envelope).slice(0, 200)}`)
      parts.push(opened.value.announcement)
    }
    assert.ok((body.renditions[RENDITION] ?? []).length > 0, 'the window still lists the segments')
    assert.ok(parts.some(p => p.seq === Number(seq) && p.part === Number(part)), `the window waiting for part ${seq}.${part} came with it: ${parts.map(p => `${p.seq}.${p.part}`).join(' ')}`)
    assert.ok(waits.at(-1)! < 2000, `the window waiting for part ${seq}.${part} took ${waits.at(-1)} ms`)
  }
  t.diagnostic(`windows waiting for a part answered after ${waits.join(', ')} ms`)
  const bad = await fetch(`${relay.url}/rooms/${devnet.room}/window.json?wait=${RENDITION}`)
  assert.equal(bad.status, 400, 'a wait without _HLS_msn is refused, saying what it needs')
})

test('a classic HLS client (ffmpeg) plays the LL-HLS playlist', async () => {
  const { stderr } = await promisify(execFile)('ffmpeg', [
    '-hide_banner', '-nostdin', '-i', playlistUrl, '-t', '4', '-c', 'copy', '-f', 'null', '-'
  ], { timeout: 30_000 })
  assert.match(stderr, /Stream #0:\d+.*Video: h264/)
  const last = [...stderr.matchAll(/time=(\d+):(\d+):(\d+\.\d+)/g)].at(-1)
  assert.ok(last !== undefined, 'ffmpeg reported no progress')
  assert.ok(Number(last[3]) + Number(last[2]) * 60 >= 3.5, `ffmpeg read only ${last[0]}`)
})
