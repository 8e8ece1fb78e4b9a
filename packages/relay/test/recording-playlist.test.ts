/**
 * Turning a recording's own playlists into CID-named VOD playlists: what the origin writes is read,
 * anything else is refused with a reason, and from/to cut to the segments that play in the range.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cutToRange, masterRenditions, parseRecordingPlaylist, renderMediaPlaylist, segmentExtension } from '@hivecast/shared'
import { parseTimeRange, renderRecordingMaster } from '../src/recording-playlist.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0)
const CIDS = new Map([0, 1, 2].map(seq => [`${seq}.ts`, `bafkrei${'a'.repeat(52)}${seq}`]))
const entries = [0, 1, 2].map(seq => ({ seq, cid: CIDS.get(`${seq}.ts`)!, duration: 2, pdt: T0 + seq * 2000, discontinuity: seq === 1, gap: false }))
const origin = renderMediaPlaylist({ entries, discontinuitySequence: 0, ended: true }, e => `720p/${e.seq}.ts`, { vod: true })

test('a rendition playlist as the origin writes it reads back with each segment\'s CID', () => {
  assert.deepEqual(parseRecordingPlaylist(origin, '720p', CIDS), entries)
})

test('anything but the origin\'s form is refused with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    [origin.replace('720p/1.ts', '../1.ts'), /lists "\.\.\/1\.ts", not 720p\/<seq>\.ts/],
    [origin.replace('720p/1.ts', '360p/1.ts'), /lists "360p\/1\.ts"/],
    [origin.replace('720p/2.ts', '720p/9.ts'), /720p\/9\.ts, which the recording's directory does not hold/],
    [origin.replace(/#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:2\.000,\n720p\/0\.ts/, '#EXTINF:2.000,\n720p/0.ts'), /without a date-time and duration/],
    [origin.replace('#EXT-X-PROGRAM-DATE-TIME:2026', '#EXT-X-PROGRAM-DATE-TIME:soon'), /unreadable date-time/],
    [origin.replace('#EXTINF:2.000,', '#EXTINF:-1,'), /unreadable duration/]
  ]
  for (const [text, reason] of cases) assert.throws(() => parseRecordingPlaylist(text, '720p', CIDS), reason)
  assert.throws(() => masterRenditions('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://elsewhere/x.m3u8\n'), /not <rendition>\.m3u8/)
  assert.deepEqual(masterRenditions('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n360p.m3u8\n'), ['720p', '360p'])
})

test('an fMP4 rendition reads back with each segment\'s init section, and a map out of place is refused', () => {
  const init = `bafkrei${'b'.repeat(52)}0`
  const next = `bafkrei${'b'.repeat(52)}2`
  const cids = new Map([...[0, 1, 2].map(seq => [`${seq}.m4s`, `bafkrei${'c'.repeat(52)}${seq}`] as const), ['init-0.mp4', init], ['init-2.mp4', next]])
  const fmp4 = [0, 1, 2].map(seq => ({ seq, cid: cids.get(`${seq}.m4s`)!, duration: 1, pdt: T0 + seq * 1000, discontinuity: seq === 2, gap: false, map: seq < 2 ? init : next }))
  const names = new Map([[init, 'init-0.mp4'], [next, 'init-2.mp4']])
  const text = renderMediaPlaylist({ entries: fmp4, discontinuitySequence: 0, ended: true }, e => `av1-360p/${e.seq}.${segmentExtension(e)}`, { vod: true, mapUri: cid => `av1-360p/${names.get(cid)!}` })
  assert.deepEqual(parseRecordingPlaylist(text, 'av1-360p', cids), fmp4)
  const cases: Array<[string, RegExp]> = [
    [text.replace(/#EXT-X-MAP:[^\n]+\n/g, ''), /lists av1-360p\/0\.m4s without an #EXT-X-MAP before it/],
    [text.replace('av1-360p/1.m4s', 'av1-360p/1.ts'), /lists av1-360p\/1\.ts after an #EXT-X-MAP/],
    [text.replace('URI="av1-360p/init-0.mp4"', 'URI="720p/init-0.mp4"'), /has "#EXT-X-MAP:URI="720p\/init-0\.mp4"", not #EXT-X-MAP:URI="av1-360p\/init-<seq>\.mp4"/],
    [text.replace('init-2.mp4', 'init-9.mp4'), /names the init section av1-360p\/init-9\.mp4, which the recording's directory does not hold/]
  ]
  for (const [bad, reason] of cases) assert.throws(() => parseRecordingPlaylist(bad, 'av1-360p', cids), reason)
})

test('from/to keep the segments that play at some instant of the range, and the master passes the range on', () => {
  assert.deepEqual(cutToRange(entries, { from: T0 + 2000, to: T0 + 4000 }).map(e => e.seq), [1])
  assert.deepEqual(cutToRange(entries, { from: T0 + 1999, to: T0 + 4001 }).map(e => e.seq), [0, 1, 2])
  assert.deepEqual(cutToRange(entries, { from: T0 + 3000 }).map(e => e.seq), [1, 2])
  assert.deepEqual(cutToRange(entries, { to: T0 + 1 }).map(e => e.seq), [0])
  assert.deepEqual(cutToRange(entries, { from: T0 + 6000 }), [])
  assert.equal(renderRecordingMaster('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p.m3u8\n', { from: 1, to: 2 }), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p.m3u8?from=1&to=2\n')
  assert.deepEqual(parseTimeRange(new URLSearchParams('from=5&to=9')), { from: 5, to: 9 })
  assert.deepEqual(parseTimeRange(new URLSearchParams('')), {})
  assert.match(parseTimeRange(new URLSearchParams('to=-1')) as string, /to="-1" is not a time/)
  assert.match(parseTimeRange(new URLSearchParams('from=9&to=5')) as string, /from=9 is not before to=5/)
})
