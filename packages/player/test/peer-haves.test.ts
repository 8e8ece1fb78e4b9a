import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BENCH_MS, MAX_HAVE_PEERS, MAX_HAVES_PER_PEER, MAX_STALLS, PeerHaves } from '../src/peer-haves.ts'

const HOLD_MS = 30_000

describe('peer haves', () => {
  it('keeps at most MAX_HAVES_PER_PEER claims of a flooding peer, its newest', () => {
    const haves = new PeerHaves(HOLD_MS)
    for (let batch = 0; batch < 100; batch++) haves.add('flood', Array.from({ length: 128 }, (_, i) => `cid-${batch}-${i}`), 1000)
    assert.equal(haves.size(), MAX_HAVES_PER_PEER)
    assert.deepEqual(haves.holders('cid-99-127', 1000), ['flood'])
    assert.deepEqual(haves.holders('cid-0-0', 1000), [])
  })

  it('keeps the claims of at most MAX_HAVE_PEERS peers, the ones heard last', () => {
    const haves = new PeerHaves(HOLD_MS)
    for (let peer = 0; peer < 200; peer++) haves.add(`peer-${peer}`, ['shared'], 1000)
    haves.add('peer-0', ['shared'], 1000)
    const holders = haves.holders('shared', 1000)
    assert.equal(holders.length, MAX_HAVE_PEERS)
    assert.ok(holders.includes('peer-199'))
    assert.ok(holders.includes('peer-0'), 'a peer heard again is kept')
    assert.ok(!holders.includes('peer-1'))
  })

  it('forgets claims after the hold time', () => {
    const haves = new PeerHaves(HOLD_MS)
    haves.add('a', ['x'], 1000)
    assert.deepEqual(haves.holders('x', 1000 + HOLD_MS - 1), ['a'])
    assert.deepEqual(haves.holders('x', 1000 + HOLD_MS), [])
    haves.sweep(1000 + HOLD_MS)
    assert.equal(haves.size(), 0)
  })

  it('benches a peer for BENCH_MS after MAX_STALLS stalls in a row; a delivery clears the count', () => {
    const haves = new PeerHaves(HOLD_MS)
    haves.add('slow', ['x'], 1000)
    for (let i = 1; i < MAX_STALLS; i++) assert.equal(haves.stalled('slow', 1000), false)
    haves.delivered('slow')
    for (let i = 1; i < MAX_STALLS; i++) assert.equal(haves.stalled('slow', 1000), false)
    assert.equal(haves.stalled('slow', 1000), true)
    assert.deepEqual(haves.holders('x', 1000), [])
    haves.add('slow', ['y'], 2000)
    assert.deepEqual(haves.holders('y', 2000), [], 'claims of a benched peer are not taken')
    assert.equal(haves.stalled('slow', 2000), false, 'a benched peer is not benched again')
    haves.sweep(1000 + BENCH_MS)
    haves.add('slow', ['z'], 1000 + BENCH_MS)
    assert.deepEqual(haves.holders('z', 1000 + BENCH_MS), ['slow'], 'after the bench the peer is heard again')
  })

  it('never hears again a peer distrusted for bad bytes', () => {
    const haves = new PeerHaves(HOLD_MS)
    haves.add('liar', ['x'], 1000)
    haves.distrust('liar')
    assert.deepEqual(haves.holders('x', 1000), [])
    haves.sweep(1000 + BENCH_MS + HOLD_MS)
    haves.add('liar', ['y'], 1000 + BENCH_MS + HOLD_MS)
    assert.deepEqual(haves.holders('y', 1000 + BENCH_MS + HOLD_MS), [])
  })
})
