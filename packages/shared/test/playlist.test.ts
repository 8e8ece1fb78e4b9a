import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LiveWindow, masterRenditions, parseAnnouncement, parseRecordingPlaylist, renderMasterPlaylist, renderMediaPlaylist, segmentExtension } from '../src/index.ts'
import type { SegmentAnnouncement, WindowRecord } from '../src/index.ts'

const rendition = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
const cid = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'

function segment (seq: number, extra: Partial<SegmentAnnouncement> = {}): SegmentAnnouncement {
  return { kind: 'segment', room: 'demo', rendition, seq, cid, size: 10, duration: 1.001, pdt: 1_763_900_000_000 + seq * 1000, discontinuity: false, end: false, ...extra }
}

/** A new window record for the segment: pending until its block is had. */
function pending (seq: number, extra: Partial<SegmentAnnouncement> = {}): WindowRecord {
  return { announcement: segment(seq, extra), state: 'pending' }
}

test('a segment is listed only once it and every earlier one are settled', () => {
  const window = new LiveWindow(10)
  for (const seq of [5, 6, 7]) window.add(pending(seq))
  window.setState(6, 'stored')
  assert.deepEqual(window.playlist().entries, [])
  window.setState(5, 'stored')
  assert.deepEqual(window.playlist().entries.map(e => e.seq), [5, 6])
  window.setState(7, 'failed')
  const entries = window.playlist().entries
  assert.deepEqual(entries.map(e => [e.seq, e.gap]), [[5, false], [6, false], [7, true]])
})

test('the window keeps the newest entries and counts discontinuities that slid out', () => {
  const window = new LiveWindow(3)
  window.add(pending(1, { discontinuity: true }))
  for (const seq of [2, 3, 4]) window.add(pending(seq))
  for (const seq of [1, 2, 3, 4]) window.setState(seq, 'stored')
  const playlist = window.playlist()
  assert.deepEqual(playlist.entries.map(e => e.seq), [2, 3, 4])
  assert.equal(playlist.discontinuitySequence, 1)
  assert.equal(window.add(pending(1)), false, 'a segment older than a full window is not taken back')
  assert.equal(window.add(pending(4)), false, 'a duplicate is not taken')
})

test('a sequence number never announced restarts the listed run after it', () => {
  const window = new LiveWindow(10)
  for (const seq of [1, 2, 4, 5]) {
    window.add(pending(seq))
    window.setState(seq, 'stored')
  }
  assert.deepEqual(window.playlist().entries.map(e => e.seq), [4, 5])
})

test('the media playlist carries date-time on every segment, gaps and the end', () => {
  const window = new LiveWindow(10)
  window.add(pending(3, { discontinuity: true }))
  window.add(pending(4))
  window.add(pending(5, { end: true }))
  window.setState(3, 'stored')
  window.setState(4, 'failed')
  window.setState(5, 'stored')
  const text = renderMediaPlaylist(window.playlist(), e => `/ipfs/${e.cid}`)
  assert.match(text, /^#EXTM3U\n/)
  assert.match(text, /#EXT-X-MEDIA-SEQUENCE:3\n/)
  assert.match(text, /#EXT-X-TARGETDURATION:2\n/)
  assert.equal(text.match(/#EXT-X-PROGRAM-DATE-TIME:/g)?.length, 3)
  assert.match(text, /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2025-11-23T12:13:23.000Z\n#EXTINF:1.001,\n\/ipfs\//)
  assert.match(text, /#EXT-X-GAP\n#EXTINF:1.001,/)
  assert.match(text, /#EXT-X-ENDLIST\n$/)
})

test('fMP4 segments name their init section: #EXT-X-MAP where it starts or changes, version 6', () => {
  const init = { cid: 'bafkreiausboeukddhhzdn2feuqwhtlyhxuh6nd6vvvpu7z2s4upxc7laiu', size: 1200 }
  const next = { cid: 'bafkreibi3p4ssdrspklx6zltq4menricgi2lgr27zjzhqqt5b34teasygu', size: 1300 }
  const window = new LiveWindow(10)
  for (const seq of [1, 2]) window.add(pending(seq, { init }))
  window.add(pending(3, { init: next, discontinuity: true }))
  for (const seq of [1, 2, 3]) window.setState(seq, 'stored')
  const playlist = window.playlist()
  assert.deepEqual(playlist.entries.map(e => [e.map, segmentExtension(e)]), [[init.cid, 'm4s'], [init.cid, 'm4s'], [next.cid, 'm4s']])
  const text = renderMediaPlaylist(playlist, e => `/ipfs/${e.cid}?filename=${e.seq}.${segmentExtension(e)}`, { mapUri: c => `/ipfs/${c}?filename=init.mp4` })
  assert.match(text, /#EXT-X-VERSION:6\n/)
  assert.deepEqual(text.match(/#EXT-X-MAP:URI="[^"]+"/g), [`#EXT-X-MAP:URI="/ipfs/${init.cid}?filename=init.mp4"`, `#EXT-X-MAP:URI="/ipfs/${next.cid}?filename=init.mp4"`])
  assert.match(text, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="\/ipfs\/bafkreibi3p[^"]+"\n#EXT-X-PROGRAM-DATE-TIME:/)
  assert.throws(() => renderMediaPlaylist(playlist, e => e.cid), /needs options\.mapUri/)
  assert.match(renderMediaPlaylist({ ...playlist, entries: [{ ...playlist.entries[0]!, map: undefined }] }, e => `${e.seq}.${segmentExtension(e)}`), /#EXT-X-VERSION:3\n[^]*\n1\.ts\n/)
})

test('an init section must be one raw block of a sane size', () => {
  assert.equal(parseAnnouncement(segment(1, { init: { cid, size: 1500 } })).ok, true)
  for (const [init, why] of [
    [{ cid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', size: 1500 }, /init\.cid: init\.cid must be a CIDv1 raw block/],
    [{ cid, size: 65 * 1024 }, /init\.size/],
    [{ cid, size: 1500, extra: 1 }, /init/]
  ] as const) {
    const result = parseAnnouncement(segment(1, { init: init as SegmentAnnouncement['init'] }))
    assert.equal(result.ok, false)
    if (!result.ok) assert.match(result.reason, why)
  }
})

test('the master playlist lists renditions best first with their attributes', () => {
  const text = renderMasterPlaylist([
    { info: rendition, uri: '360p.m3u8' },
    { info: { ...rendition, name: '720p', bandwidth: 2_800_000, width: 1280, height: 720 }, uri: '720p.m3u8' }
  ])
  const variants = text.split('\n').filter(l => l.startsWith('#EXT-X-STREAM-INF'))
  assert.equal(variants.length, 2)
  assert.match(variants[0]!, /BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=30.000/)
  assert.match(text, /720p\.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=800000/)
})

test('alternate audio renditions form an audio group the video variants name; the audio-only variant names none', () => {
  const text = renderMasterPlaylist([
    { info: rendition, uri: '360p.m3u8' },
    { info: { ...rendition, name: 'audio', bandwidth: 90_000, width: 0, height: 0, codecs: 'mp4a.40.2', frameRate: 0, audio: { role: 'main', name: 'Original' } }, uri: 'audio.m3u8' },
    { info: { ...rendition, name: 'audio-de', bandwidth: 90_000, width: 0, height: 0, codecs: 'mp4a.40.2', frameRate: 0, audio: { role: 'alternate', language: 'de', name: 'Deutsch (interpretation)' } }, uri: 'audio-de.m3u8' }
  ])
  const lines = text.split('\n')
  assert.deepEqual(lines.filter(l => l.startsWith('#EXT-X-MEDIA')), [
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Original",DEFAULT=YES,AUTOSELECT=YES',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="de",NAME="Deutsch (interpretation)",DEFAULT=NO,AUTOSELECT=YES,URI="audio-de.m3u8"'
  ])
  const variants = lines.filter(l => l.startsWith('#EXT-X-STREAM-INF'))
  assert.equal(variants.length, 2, 'the alternate is no variant')
  assert.match(variants[0]!, /CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=30.000,AUDIO="audio",NAME="360p"/)
  assert.equal(variants[1], '#EXT-X-STREAM-INF:BANDWIDTH=90000,CODECS="mp4a.40.2",NAME="audio"')
  assert.deepEqual(masterRenditions(text), ['audio-de', '360p', 'audio'])
  assert.doesNotMatch(renderMasterPlaylist([{ info: rendition, uri: '360p.m3u8' }]), /EXT-X-MEDIA|AUDIO=/, 'no group without an alternate')
})

test('subtitle renditions form a subtitle group every variant names; their segments are .vtt, in recordings too', () => {
  const subtitles = { ...rendition, name: 'subtitles-en', bandwidth: 2000, width: 0, height: 0, codecs: 'wvtt', frameRate: 0, subtitles: { language: 'en', name: 'English' } }
  const text = renderMasterPlaylist([
    { info: rendition, uri: '360p.m3u8' },
    { info: subtitles, uri: 'subtitles-en.m3u8' },
    { info: { ...rendition, name: 'audio', bandwidth: 90_000, width: 0, height: 0, codecs: 'mp4a.40.2', frameRate: 0, audio: { role: 'main', name: 'Original' } }, uri: 'audio.m3u8' }
  ])
  const lines = text.split('\n')
  assert.deepEqual(lines.filter(l => l.startsWith('#EXT-X-MEDIA')), [
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subtitles-en.m3u8"'
  ])
  const variants = lines.filter(l => l.startsWith('#EXT-X-STREAM-INF'))
  assert.equal(variants.length, 2, 'the subtitle rendition is no variant')
  for (const variant of variants) assert.match(variant, /,SUBTITLES="subs",NAME=/)
  assert.deepEqual(masterRenditions(text), ['subtitles-en', '360p', 'audio'])

  const window = new LiveWindow(5)
  window.add({ announcement: { ...segment(4), rendition: subtitles }, state: 'stored' })
  const entry = window.playlist().entries[0]!
  assert.equal(entry.webvtt, true)
  assert.equal(segmentExtension(entry), 'vtt')
  assert.match(renderMediaPlaylist(window.playlist(), e => `${e.seq}.${segmentExtension(e)}`), /#EXTINF:1\.001,\n4\.vtt\n/)
  const recorded = parseRecordingPlaylist('#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:00:00.000Z\n#EXTINF:1.000,\nsubtitles-en/4.vtt\n', 'subtitles-en', new Map([['4.vtt', entry.cid]]))
  assert.equal(recorded[0]?.webvtt, true)

  const described = (value: unknown): ReturnType<typeof parseAnnouncement> => parseAnnouncement({ ...segment(1), rendition: { ...subtitles, subtitles: value } })
  assert.equal(described({ language: 'en', name: 'English' }).ok, true)
  assert.equal(described({ language: 'English', name: 'English' }).ok, false)
  assert.equal(described({ language: 'en', name: 'a "quoted" name' }).ok, false)
})

test('an announced audio description is checked: role, language tag, name without quotes', () => {
  const audio = (value: unknown): ReturnType<typeof parseAnnouncement> => parseAnnouncement({ ...segment(1), rendition: { ...rendition, audio: value } })
  assert.equal(audio({ role: 'alternate', language: 'de', name: 'Deutsch' }).ok, true)
  for (const [value, why] of [
    [{ role: 'other', name: 'x' }, /audio\.role/],
    [{ role: 'alternate', language: 'Deutsch', name: 'x' }, /audio\.language/],
    [{ role: 'alternate', name: 'a "quoted" name' }, /audio\.name/],
    [{ role: 'main', name: 'x', extra: 1 }, /audio/]
  ] as const) {
    const result = audio(value)
    assert.equal(result.ok, false)
    if (!result.ok) assert.match(result.reason, why)
  }
})

test('a window with room takes older announcements, so a late joiner can fill in the past', () => {
  const window = new LiveWindow(5)
  for (const seq of [7, 8]) window.add(pending(seq))
  assert.equal(window.add(pending(5)), true)
  assert.equal(window.add(pending(6)), true)
  for (const seq of [5, 6, 7, 8]) window.setState(seq, 'stored')
  assert.deepEqual(window.playlist().entries.map(e => e.seq), [5, 6, 7, 8])
})

test('with keepSlidOut the caller\'s records stay, unlisted, until forgotten; a listed one cannot be forgotten', () => {
  const window = new LiveWindow<WindowRecord & { note: string }>(2, { keepSlidOut: true })
  const records = [1, 2, 3].map(seq => ({ ...pending(seq), note: `record ${seq}` }))
  for (const record of records) window.add(record)
  window.setState(2, 'stored')
  assert.equal(records[1]!.state, 'stored', 'the window keeps the record it was given, not a copy')
  for (const seq of [1, 3]) window.setState(seq, 'stored')
  assert.deepEqual(window.playlist().entries.map(e => e.seq), [2, 3])
  assert.equal(window.isListed(1), false)
  assert.equal(window.get(1)?.note, 'record 1', 'a record that slid out is still there')
  assert.equal(window.add({ ...pending(1), note: 'again' }), false, 'and is not taken again')
  window.forget(3)
  assert.equal(window.get(3)?.note, 'record 3', 'a listed record is not forgotten')
  window.forget(1)
  assert.equal(window.get(1), undefined)
  assert.deepEqual([...window.records()].map(r => r.announcement.seq).sort(), [2, 3])
})
