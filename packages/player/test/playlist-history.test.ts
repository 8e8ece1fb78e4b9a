/**
 * Rewind in the player's own playlists, against a relay stand-in on 127.0.0.1 that answers
 * `window.json` and its history pages (`?rendition=&before=&limit=`) from envelopes really signed by
 * the room key: no history is asked for while the viewer stays live; a rewind fetches pages, verifies
 * them and lists the older segments; the playlist keeps its start as the window slides on; a relay
 * that answers history with the plain window (an older relay) adds nothing.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { listenOnLoopback } from '@hivecast/devnet'
import { rawCid, signAnnouncement } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import type { SignedEnvelope } from '@hivecast/shared'
import type { HlsConfig, PlaylistLoaderContext } from 'hls.js'
import { runLoader } from './loader-run.ts'
import { AnnouncementBook } from '../src/announcement-book.ts'
import { LIVE_MASTER, LivePlaylists } from '../src/live-playlists.ts'
import { createPlaylistLoader } from '../src/playlist-loader.ts'
import { RelayPool } from '../src/relay-pool.ts'

const RENDITION = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
const MEDIA = 'https://hivecast.invalid/live/360p.m3u8'
const WINDOW_LENGTH = 10
/** Seq 0 began this long ago: 60 one-second segments, the newest just now. */
const PDT_BASE = Date.now() - 60_000

let dir: string
let roomKey: string
/** Signed envelopes by seq. */
const envelopes: SignedEnvelope[] = []
let sign: (seq: number) => Promise<SignedEnvelope>
/** The newest seq the stand-in lists; its window is the WINDOW_LENGTH up to it. */
let newest = 39
let answersHistory = true
/** A seq whose envelope the stand-in's history pages forge (payload changed after signing). */
let forgedSeq: number | undefined
const requests: string[] = []
let relayUrl: string
let close: () => Promise<void>

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hivecast-player-history-'))
  const room = await loadOrCreateIdentity(dir)
  roomKey = room.id
  sign = async seq => {
    const cid = (await rawCid(new Uint8Array([seq & 0xff, seq >> 8, 7]))).toString()
    return await signAnnouncement({ kind: 'segment', room: 'janson', rendition: RENDITION, seq, cid, size: 1000, duration: 1, pdt: PDT_BASE + seq * 1000, discontinuity: false, end: false }, room.privateKey, room.id)
  }
  for (let seq = 0; seq < 60; seq++) envelopes.push(await sign(seq))
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://relay')
    requests.push(`${url.pathname}${url.search}`)
    res.setHeader('access-control-allow-origin', '*')
    const entries = (from: number, to: number): Array<{ envelope: SignedEnvelope, storedAt: number }> =>
      envelopes.slice(Math.max(0, from), to + 1).map(envelope => ({ envelope, storedAt: 1 }))
    const beforeSeq = url.searchParams.get('before')
    if (beforeSeq !== null && answersHistory) {
      const limit = Number(url.searchParams.get('limit'))
      const below = Number(beforeSeq)
      const page = entries(below - limit, below - 1).map(entry => {
        const seq = (JSON.parse(entry.envelope.payload) as { seq: number }).seq
        return seq === forgedSeq ? { ...entry, envelope: { ...entry.envelope, payload: entry.envelope.payload.replace('"duration":1', '"duration":9') } } : entry
      })
      res.end(JSON.stringify({ room: 'janson', renditions: { '360p': page }, more: below - limit > 0 }))
      return
    }
    res.end(JSON.stringify({ room: 'janson', renditions: { '360p': entries(newest - WINDOW_LENGTH + 1, newest) } }))
  })
  const listening = await listenOnLoopback(server)
  relayUrl = listening.url
  close = listening.close
})

after(async () => {
  await close()
  await rm(dir, { recursive: true, force: true })
})

async function media (source: LivePlaylists): Promise<number[]> {
  const Playlist = createPlaylistLoader(source)
  const context = { url: MEDIA, responseType: 'text', type: 'level', level: 0, id: 0, deliveryDirectives: null, levelOrTrack: null } as unknown as PlaylistLoaderContext
  const result = await runLoader(new Playlist({} as HlsConfig), context)
  assert.ok(result.ok, JSON.stringify(result))
  return String(result.data).split('\n').filter(line => line.startsWith('https://')).map(line => Number(line.slice(line.lastIndexOf('/') + 1, -'.ts'.length)))
}

function live (book = new AnnouncementBook('janson', [roomKey])): LivePlaylists {
  return new LivePlaylists(new RelayPool({ relays: [relayUrl] }), book, { entriesRejected: 0 })
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

test('a rewind lists the verified history from where the viewer went to the live edge, and keeps it as the window slides', async () => {
  newest = 39
  answersHistory = true
  const source = live()
  const Playlist = createPlaylistLoader(source)
  assert.ok((await runLoader(new Playlist({} as HlsConfig), { url: LIVE_MASTER, responseType: 'text', type: 'manifest' } as unknown as PlaylistLoaderContext)).ok)
  assert.deepEqual(await media(source), range(30, 39))
  assert.equal(requests.filter(r => r.includes('before=')).length, 0, 'no history while live')

  // Back to seq 25's program time: pages below the window's oldest seq, two minutes' margin (all 30 held).
  const from = await source.rewindTo(PDT_BASE + 25_000)
  assert.equal(from, PDT_BASE, 'the playlist reaches back to the oldest segment the relay holds')
  const asked = requests.filter(r => r.includes('before='))
  assert.deepEqual(asked, ['/rooms/janson/window.json?rendition=360p&before=30&limit=125'])
  assert.deepEqual(await media(source), range(0, 39))

  // The window slides past what it listed at the rewind: the playlist keeps its start.
  for (newest = 45; newest < 60; newest += 5) assert.deepEqual(await media(source), range(0, newest))
})

test('a relay that answers a history request with its plain window adds nothing to the playlist', async () => {
  newest = 39
  answersHistory = false
  const source = live()
  const Playlist = createPlaylistLoader(source)
  assert.ok((await runLoader(new Playlist({} as HlsConfig), { url: LIVE_MASTER, responseType: 'text', type: 'manifest' } as unknown as PlaylistLoaderContext)).ok)
  assert.equal(await source.rewindTo(PDT_BASE + 25_000), PDT_BASE + 30_000, 'no further back than the window')
  assert.deepEqual(await media(source), range(30, 39))
})

test('a history entry not signed as it reads is refused, and the playlist reaches back only to the entry after it', async () => {
  newest = 39
  answersHistory = true
  forgedSeq = 20
  const book = new AnnouncementBook('janson', [roomKey])
  const source = live(book)
  const Playlist = createPlaylistLoader(source)
  assert.ok((await runLoader(new Playlist({} as HlsConfig), { url: LIVE_MASTER, responseType: 'text', type: 'manifest' } as unknown as PlaylistLoaderContext)).ok)
  assert.equal(await source.rewindTo(PDT_BASE + 10_000), PDT_BASE + 21_000)
  assert.equal(book.refused, 1)
  assert.equal(book.entry('360p', 20), undefined)
  assert.deepEqual(await media(source), range(21, 39), 'a playlist cannot skip the refused seq')
  forgedSeq = undefined
})
