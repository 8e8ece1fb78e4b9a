/**
 * Property-based fuzzing (fast-check) of how the player reads a relay's media playlist, the browser's
 * side of the trust boundary: whatever text a relay sends, reading it never throws, and trimming it to
 * the entries the room's key backs leaves only backed entries, each at its own sequence number.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { keepBacked, listSegments } from '../src/playlist-entries.ts'
import type { ListedSegment } from '../src/playlist-entries.ts'

const PLAYLIST_URL = 'http://relay.test/hls/room/360p.m3u8'
const CIDS = [
  'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e',
  'bafkreiausboeukddhhzdn2feuqwhtlyhxuh6nd6vvvpu7z2s4upxc7laiu',
  'bafkreibi3p4ssdrspklx6zltq4menricgi2lgr27zjzhqqt5b34teasygu',
  'bafkreic6zf43h5itp4m3qvylpmdzj3nrjzfgktlw2kd75s3dfjzcqmdgxy'
]

/** One entry as a relay writes it, sometimes with a gap or discontinuity, sometimes with a junk URI. */
const entry: fc.Arbitrary<Entry> = fc.record({
  cid: fc.constantFrom(...CIDS),
  gap: fc.boolean(),
  discontinuity: fc.boolean(),
  uri: fc.oneof(
    { weight: 8, arbitrary: fc.constant('cid') },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).filter(s => !/[\r\n]/.test(s) && s.trim() !== '' && !s.trim().startsWith('#')) }
  )
})

interface Entry { cid: string, gap: boolean, discontinuity: boolean, uri: string }

function render (mediaSequence: number, entries: Entry[], ended: boolean): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:1', `#EXT-X-MEDIA-SEQUENCE:${mediaSequence}`]
  entries.forEach((e, i) => {
    if (e.discontinuity) lines.push('#EXT-X-DISCONTINUITY')
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(1_763_900_000_000 + i * 1000).toISOString()}`, '#EXTINF:1.000,')
    if (e.gap) lines.push('#EXT-X-GAP')
    lines.push(e.uri === 'cid' ? `/ipfs/${e.cid}?filename=${mediaSequence + i}.ts` : e.uri.trim())
  })
  if (ended) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

test('any text a relay sends is read without throwing, one entry per URI line, numbered in order', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 2000 }), fc.array(fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('#EXT-X-MEDIA-SEQUENCE:7', '#EXT-X-GAP', '#EXTINF:1,', `/ipfs/${CIDS[0]}`, '#EXT-X-DISCONTINUITY')), { maxLength: 60 }).map(l => l.join('\n'))), text => {
    const segments = listSegments(text, PLAYLIST_URL)
    const uriLines = text.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
    assert.equal(segments.length, uriLines.length)
    segments.forEach((s, i) => { if (i > 0) assert.equal(s.seq, segments[i - 1]!.seq + 1) })
    const backed = (s: ListedSegment): boolean => s.seq % 2 === 0
    const trimmed = keepBacked(text, PLAYLIST_URL, backed)
    assert.equal(typeof trimmed.text, 'string')
    assert.ok(trimmed.dropped >= 0 && trimmed.dropped <= segments.length)
  }), { numRuns: 500 })
})

test('trimming keeps every backed entry at its sequence number and leaves no unbacked entry playable', () => {
  fc.assert(fc.property(fc.nat({ max: 100_000 }), fc.array(entry, { maxLength: 30 }), fc.boolean(), fc.func(fc.boolean()), (mediaSequence, entries, ended, isBacked) => {
    const text = render(mediaSequence, entries, ended)
    const before = listSegments(text, PLAYLIST_URL)
    assert.equal(before.length, entries.length)
    before.forEach((s, i) => {
      assert.equal(s.seq, mediaSequence + i)
      assert.equal(s.gap, entries[i]!.gap)
      if (entries[i]!.uri === 'cid') assert.equal(s.cid, entries[i]!.cid)
    })
    // Backing is decided per (seq, cid), as the announcement book does; an entry without a CID never is.
    const backed = (s: ListedSegment): boolean => s.cid !== undefined && isBacked(s.seq, s.cid)
    const { text: out, dropped } = keepBacked(text, PLAYLIST_URL, backed)
    assert.equal(dropped, before.filter(s => !s.gap && !backed(s)).length)
    const after = listSegments(out, PLAYLIST_URL)
    for (const s of after) assert.ok(s.gap || backed(s), `entry ${s.seq} (${s.cid}) is playable but not backed`)
    const lastBacked = before.findLast(s => !s.gap && backed(s))
    for (const s of before.filter(s => !s.gap && backed(s))) {
      const kept = after.find(a => a.seq === s.seq)
      assert.ok(kept !== undefined && !kept.gap && kept.cid === s.cid, `backed entry ${s.seq} was lost or moved`)
    }
    if (lastBacked !== undefined) assert.ok(after.length >= lastBacked.seq - mediaSequence + 1)
    assert.equal(out.includes('#EXT-X-ENDLIST'), ended)
    assert.ok(out.startsWith('#EXTM3U'))
  }), { numRuns: 500 })
})
