/**
 * Attack: a relay lists the signed (seq, CID) pairs but alters a segment's `#EXTINF` duration, which
 * would shift hls.js's timeline. The player writes its playlists from the signed window, so hls.js
 * gets the signed duration whatever the relay's playlist says.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, it } from 'node:test'
import { rawCid, renderMediaPlaylist, signAnnouncement } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import type { HlsConfig, LoaderCallbacks, PlaylistLoaderContext } from 'hls.js'
import { LOAD_CONFIG } from '../../packages/player/test/loader-run.ts'
import { AnnouncementBook } from '../../packages/player/src/announcement-book.ts'
import { LivePlaylists } from '../../packages/player/src/live-playlists.ts'
import { createPlaylistLoader } from '../../packages/player/src/playlist-loader.ts'
import { RelayPool } from '../../packages/player/src/relay-pool.ts'
import { startRelay } from '../../packages/player/test/relay-servers.ts'
import type { TestRelay } from '../../packages/player/test/relay-servers.ts'

const RENDITION = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
const dirs: string[] = []
const relays: TestRelay[] = []
after(async () => {
  await Promise.all(relays.map(async relay => { await relay.close() }))
  await Promise.all(dirs.map(async dir => { await rm(dir, { recursive: true, force: true }) }))
})

it('an entry listed with another duration than signed is not handed to hls.js as listed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-duration-'))
  dirs.push(dir)
  const room = await loadOrCreateIdentity(dir)
  const base = Date.now() - 10_000
  const cids = await Promise.all([0, 1, 2].map(async i => (await rawCid(new Uint8Array([i, 4]))).toString()))
  const signed = await Promise.all(cids.map(async (cid, i) => await signAnnouncement(
    { kind: 'segment', room: 'janson', rendition: RENDITION, seq: 10 + i, cid, size: 2, duration: 2, pdt: base + i * 2000, discontinuity: false, end: false },
    room.privateKey, room.id)))
  const listed = renderMediaPlaylist(
    { entries: cids.map((cid, i) => ({ seq: 10 + i, cid, duration: i === 1 ? 9 : 2, pdt: base + i * 2000, discontinuity: false, gap: false })), discontinuitySequence: 0, ended: false },
    e => `/ipfs/${e.cid}?filename=${e.seq}.ts`)
  const windowJson = JSON.stringify({ room: 'janson', renditions: { '360p': signed.map(envelope => ({ envelope, storedAt: 1 })) } })
  const path = '/hls/janson/360p.m3u8'
  const relay = await startRelay({ files: new Map([[path, listed], ['/rooms/janson/window.json', windowJson]]) })
  relays.push(relay)
  const pool = new RelayPool({ relays: [relay.url] })
  const Playlist = createPlaylistLoader(new LivePlaylists(pool, new AnnouncementBook('janson', [room.id]), { entriesRejected: 0 }))
  const handed = await new Promise<string>(resolve => {
    const callbacks: LoaderCallbacks<PlaylistLoaderContext> = {
      onSuccess: (response) => { resolve(String(response.data)) },
      onError: (error) => { resolve(`error: ${error.text}`) },
      onTimeout: () => { resolve('timeout') }
    }
    new Playlist({} as HlsConfig).load({ url: 'https://hivecast.invalid/live/360p.m3u8', responseType: 'text', type: 'level' } as unknown as PlaylistLoaderContext, LOAD_CONFIG, callbacks)
  })
  assert.ok(!handed.includes('#EXTINF:9.000'), `hls.js got the altered duration:\n${handed}`)
  assert.equal(handed.split('\n').filter(line => line === '#EXTINF:2.000,').length, 3, `every entry plays with its signed duration:\n${handed}`)
  assert.ok(handed.includes('https://hivecast.invalid/live/360p/11.ts'), `the signed entries still play:\n${handed}`)
})
