/**
 * Attacks by a relay's playlist text on the player (room key set). The relay serves an honest signed
 * window and hostile m3u8s: a segment hidden behind a bare CR line ending (hls.js reads a CR as a line
 * end), an `#EXT-X-KEY` whose URL hls.js would fetch, an `#EXT-X-ENDLIST` that ends the live stream,
 * an injected `#EXT-X-DISCONTINUITY`, an `#EXT-X-GAP` over a signed segment, and a master playlist
 * whose variants point to another host. In every case the playlists handed to hls.js list exactly the
 * signed segments, carry none of the relay's tags or URLs, and the newest signed segment is fetched
 * and verified: the player keeps playing verified live segments.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { rawCid, renderMediaPlaylist, signAnnouncement } from '@hivecast/shared'
import type { SignedEnvelope } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import type { FragmentLoaderContext, HlsConfig, PlaylistLoaderContext } from 'hls.js'
import { runLoader } from '../../packages/player/test/loader-run.ts'
import { AnnouncementBook } from '../../packages/player/src/announcement-book.ts'
import { LIVE_MASTER, LivePlaylists } from '../../packages/player/src/live-playlists.ts'
import { createPlaylistLoader } from '../../packages/player/src/playlist-loader.ts'
import { RelayPool } from '../../packages/player/src/relay-pool.ts'
import { SegmentLedger } from '../../packages/player/src/segment-ledger.ts'
import { createSegmentLoader } from '../../packages/player/src/segment-loader.ts'
import { startRelay } from '../../packages/player/test/relay-servers.ts'
import type { TestRelay } from '../../packages/player/test/relay-servers.ts'

const RENDITION = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
const MEDIA = 'https://hivecast.invalid/live/360p.m3u8'
/** How hls.js splits a playlist into lines. */
const HLS_LINES = /\r\n|\n|\r/

describe('hostile playlist text from a relay', () => {
  const blocks = [0, 1, 2].map(i => new Uint8Array([i, 7, 7, 7]))
  const relays: TestRelay[] = []
  let dir: string
  let roomKey: string
  let cids: string[]
  let oldCid: string
  let windowJson: string
  /** The relay's honest media playlist, as its gateway writes it. */
  let honest: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivecast-hostile-'))
    const room = await loadOrCreateIdentity(dir)
    roomKey = room.id
    cids = await Promise.all(blocks.map(async block => (await rawCid(block)).toString()))
    oldCid = (await rawCid(new Uint8Array([9, 9]))).toString()
    const base = Date.now() - 10_000
    const envelopes: SignedEnvelope[] = await Promise.all(cids.map(async (cid, i) => await signAnnouncement(
      { kind: 'segment', room: 'janson', rendition: RENDITION, seq: 10 + i, cid, size: 4, duration: 2, pdt: base + i * 2000, discontinuity: false, end: false },
      room.privateKey, room.id)))
    windowJson = JSON.stringify({ room: 'janson', renditions: { '360p': envelopes.map(envelope => ({ envelope, storedAt: 1 })) } })
    honest = renderMediaPlaylist(
      { entries: cids.map((cid, i) => ({ seq: 10 + i, cid, duration: 2, pdt: base + i * 2000, discontinuity: false, gap: false })), discontinuitySequence: 0, ended: false },
      e => `/ipfs/${e.cid}?filename=${e.seq}.ts`)
  })
  after(async () => {
    await Promise.all(relays.map(async relay => { await relay.close() }))
    await rm(dir, { recursive: true, force: true })
  })

  const segmentLine = (seq: number): string => `/ipfs/${cids[seq - 10]!}?filename=${seq}.ts`
  const cases: Array<{ name: string, master?: () => string, media: () => string }> = [
    { name: 'a segment behind a bare CR', media: () => honest + `#EXTINF:2.000,\r/ipfs/${oldCid}?filename=13.ts\n` },
    { name: 'an #EXT-X-KEY whose URL hls.js would fetch', media: () => honest.replace('#EXT-X-DISCONTINUITY-SEQUENCE:0\n', '#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-KEY:METHOD=AES-128,URI="http://127.0.0.2:9/steal"\n') },
    { name: 'an #EXT-X-ENDLIST that ends the live stream', media: () => honest + '#EXT-X-ENDLIST\n' },
    { name: 'an injected #EXT-X-DISCONTINUITY', media: () => honest.replace(`#EXTINF:2.000,\n${segmentLine(11)}`, `#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n${segmentLine(11)}`) },
    { name: 'an #EXT-X-GAP over a signed segment', media: () => honest.replace(`#EXTINF:2.000,\n${segmentLine(12)}`, `#EXT-X-GAP\n#EXTINF:2.000,\n${segmentLine(12)}`) },
    {
      name: 'a master playlist whose variants point to another host',
      master: () => '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nhttp://127.0.0.2:9/hls/janson/360p.m3u8\n',
      media: () => honest
    }
  ]

  for (const attack of cases) {
    it(`${attack.name}: hls.js gets only signed entries and the newest signed segment plays`, async () => {
      const master = attack.master?.() ?? '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p.m3u8\n'
      const relay = await startRelay({
        files: new Map<string, string | Uint8Array>([
          ['/hls/janson/master.m3u8', master],
          ['/hls/janson/360p.m3u8', attack.media()],
          ['/rooms/janson/window.json', windowJson],
          ...blocks.map((block, i): [string, Uint8Array] => [`/ipfs/${cids[i]!}`, block])
        ])
      })
      relays.push(relay)
      const pool = new RelayPool({ relays: [relay.url] })
      const source = new LivePlaylists(pool, new AnnouncementBook('janson', [roomKey]), { entriesRejected: 0 })
      const Playlist = createPlaylistLoader(source)
      const playlist = async (url: string, type: string): Promise<string> => {
        const result = await runLoader(new Playlist({} as HlsConfig), { url, responseType: 'text', type } as unknown as PlaylistLoaderContext)
        assert.ok(result.ok, `the ${type} playlist failed: ${result.ok ? '' : result.text}`)
        return String(result.data)
      }

      const variants = (await playlist(LIVE_MASTER, 'manifest')).split(HLS_LINES).filter(line => line !== '' && !line.startsWith('#'))
      assert.deepEqual(variants, [MEDIA], 'the variants are the player\'s own names')
      const media = await playlist(MEDIA, 'level')
      const lines = media.split(HLS_LINES)
      assert.deepEqual(lines.filter(line => line !== '' && !line.startsWith('#')), [10, 11, 12].map(seq => `https://hivecast.invalid/live/360p/${seq}.ts`))
      for (const tag of ['#EXT-X-KEY', '#EXT-X-ENDLIST', '#EXT-X-DISCONTINUITY\n', '#EXT-X-GAP']) assert.ok(!`${lines.join('\n')}\n`.includes(tag), `${tag.trim()} reached hls.js:\n${media}`)
      assert.ok(!media.includes(oldCid) && !media.includes('127.0.0.2'), media)
      assert.deepEqual(relay.requests.filter(path => path.endsWith('.m3u8')), [], 'the relay\'s playlist text is never even read')

      const Segment = createSegmentLoader(pool, new SegmentLedger(), source)
      const newest = await runLoader(new Segment({} as HlsConfig), { url: 'https://hivecast.invalid/live/360p/12.ts', responseType: 'arraybuffer', type: 'media-fragment', frag: { sn: 12 }, part: null } as unknown as FragmentLoaderContext)
      assert.ok(newest.ok, newest.ok ? '' : newest.text)
      assert.deepEqual(new Uint8Array(newest.data as ArrayBuffer), blocks[2])
    })
  }
})
