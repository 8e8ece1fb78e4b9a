/**
 * The segment loader with other viewers as a source. The viewers are a named fake (`fakeViewers`): a
 * viewer that sends bytes not matching their CID cannot be made from the real player, which only
 * shares what it verified. The relay is a real HTTP server on loopback. That real viewers share
 * segments is shown in Chromium by peer-share.test.ts.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { rawCid } from '@hivecast/shared'
import type { FragmentLoaderContext, HlsConfig } from 'hls.js'
import { LOAD_CONFIG } from './loader-run.ts'
import { RelayPool } from '../src/relay-pool.ts'
import { SegmentLedger } from '../src/segment-ledger.ts'
import { createSegmentLoader, PEERS_SOURCE } from '../src/segment-loader.ts'
import type { PeerAssist } from '../src/segment-loader.ts'
import type { PeerSource, PeerStats } from '../src/peer-source-contract.ts'
import { startRelay } from './relay-servers.ts'
import type { TestRelay } from './relay-servers.ts'

/** FAKE other viewers: each holds the given bytes for every CID it is asked for (honest or not). */
function fakeViewers (sends: Uint8Array): PeerSource & { asked: number, rejected: string[], held: string[] } {
  const stats: PeerStats = { peers: 1, uploadedBytes: 0, uploadedSegments: 0, rejectedPeers: 0, benchedPeers: 0, badMessages: 0 }
  const fake = {
    asked: 0,
    rejected: [] as string[],
    held: [] as string[],
    peers: () => fake.rejected.length > 0 ? 0 : 1,
    has: () => fake.rejected.length === 0,
    waitFor: async () => fake.rejected.length === 0,
    fetch: async () => {
      fake.asked++
      return { bytes: sends.slice(), peer: 'viewer-a' }
    },
    reject: (peer: string) => { fake.rejected.push(peer) },
    hold: (cid: string) => { fake.held.push(cid) },
    stats: () => stats,
    stop: () => {}
  }
  return fake
}

async function loadSegment (relay: TestRelay, cid: string, assist: PeerAssist, ledger: SegmentLedger): Promise<{ kind: string, data?: ArrayBuffer }> {
  const Segment = createSegmentLoader(new RelayPool({ relays: [relay.url] }), ledger, { segment: () => ({ cid }) }, assist)
  const context = { url: `${relay.url}/ipfs/${cid}`, responseType: 'arraybuffer', type: 'media-fragment', frag: { sn: 10 }, part: null } as unknown as FragmentLoaderContext
  return await new Promise(resolve => {
    new Segment({} as HlsConfig).load(context, LOAD_CONFIG, {
      onSuccess: (response) => { resolve({ kind: 'success', data: response.data as ArrayBuffer }) },
      onError: () => { resolve({ kind: 'error' }) },
      onTimeout: () => { resolve({ kind: 'timeout' }) }
    })
  })
}

describe('segment loader with other viewers', () => {
  const block = new Uint8Array(randomBytes(120_000))
  let cid: string
  let relay: TestRelay

  before(async () => {
    cid = (await rawCid(block)).toString()
    relay = await startRelay({ files: new Map([[`/ipfs/${cid}`, block]]) })
  })
  after(async () => { await relay.close() })

  it('takes a segment a viewer holds from that viewer, and keeps it to share', async () => {
    const viewers = fakeViewers(block)
    const ledger = new SegmentLedger()
    const outcome = await loadSegment(relay, cid, { source: () => viewers, bufferAhead: () => 6 }, ledger)
    assert.equal(outcome.kind, 'success')
    assert.deepEqual(new Uint8Array(outcome.data!), block)
    assert.deepEqual(ledger.snapshot().bytesBySource, { [PEERS_SOURCE]: block.byteLength })
    assert.equal(relay.requests.length, 0, 'the relay was not asked')
    assert.deepEqual(viewers.held, [cid])
  })

  it('drops a viewer whose bytes do not match the CID, counts them, and plays the relay\'s copy', async () => {
    const forged = block.slice()
    forged[100] = forged[100]! ^ 0xff
    const viewers = fakeViewers(forged)
    const ledger = new SegmentLedger()
    const outcome = await loadSegment(relay, cid, { source: () => viewers, bufferAhead: () => 6 }, ledger)
    assert.equal(outcome.kind, 'success')
    assert.deepEqual(new Uint8Array(outcome.data!), block, 'the decoder got the relay\'s verified bytes')
    const stats = ledger.snapshot()
    assert.equal(stats.segmentsRejected, 1)
    assert.deepEqual(stats.segments.map(s => [s.source, s.verified]), [[PEERS_SOURCE, false], [relay.url, true]])
    assert.deepEqual(stats.bytesBySource, { [relay.url]: block.byteLength }, 'forged bytes are not counted')
    assert.deepEqual(viewers.rejected, ['viewer-a'])
  })

  it('goes straight to the relay when the buffer is too thin to wait for another viewer', async () => {
    const viewers = fakeViewers(block)
    const ledger = new SegmentLedger()
    const before = relay.requests.length
    const outcome = await loadSegment(relay, cid, { source: () => viewers, bufferAhead: () => 0.5 }, ledger)
    assert.equal(outcome.kind, 'success')
    assert.equal(viewers.asked, 0, 'no viewer was asked')
    assert.equal(relay.requests.length, before + 1)
    assert.deepEqual(viewers.held, [cid], 'the relay\'s copy is kept to share')
  })
})
