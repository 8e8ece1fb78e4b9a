/**
 * Attack: a relay answers the player's request for its signed window (what the player writes its
 * playlists from) with an endless body and no Content-Length. The player must stop reading once the
 * body passes its bound, not hold the whole answer before checking.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { HlsConfig, LoaderCallbacks, PlaylistLoaderContext } from 'hls.js'
import { LOAD_CONFIG } from '../../packages/player/test/loader-run.ts'
import { AnnouncementBook } from '../../packages/player/src/announcement-book.ts'
import { LIVE_MASTER, LivePlaylists } from '../../packages/player/src/live-playlists.ts'
import { createPlaylistLoader } from '../../packages/player/src/playlist-loader.ts'
import { RelayPool } from '../../packages/player/src/relay-pool.ts'

const CHUNK = 64 * 1024
/** 16 MB in all: far past the player's 4 MB window bound, sent over ~3 s. */
const CHUNKS = 256

describe('relay sending an unbounded playlist body', () => {
  let sent = 0
  let finished: Promise<number>
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'access-control-allow-origin': '*' })
    finished = new Promise(resolve => {
      let count = 0
      const chunk = Buffer.alloc(CHUNK, 0x23)
      const timer = setInterval(() => {
        if (count++ >= CHUNKS || response.destroyed) {
          clearInterval(timer)
          response.end()
          resolve(sent)
          return
        }
        response.write(chunk)
        sent += CHUNK
      }, 12)
    })
  })
  let url: string

  before(async () => {
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => { await new Promise(resolve => server.close(resolve)) })

  it('gives up once the body passes the bound, without reading the rest', async () => {
    const pool = new RelayPool({ relays: [url] })
    const Loader = createPlaylistLoader(new LivePlaylists(pool, new AnnouncementBook('room', []), { entriesRejected: 0 }))
    const loader = new Loader({} as HlsConfig)
    const context = { url: LIVE_MASTER, responseType: 'text', type: 'manifest' } as unknown as PlaylistLoaderContext
    const outcome = await new Promise<string>(resolve => {
      const callbacks: LoaderCallbacks<PlaylistLoaderContext> = {
        onSuccess: () => { resolve('success') },
        onError: (error) => { resolve(`error: ${error.text}`) },
        onTimeout: () => { resolve('timeout') }
      }
      loader.load(context, LOAD_CONFIG, callbacks)
    })
    const total = await finished
    // The server stops writing once the player hangs up; a few chunks may be in flight.
    assert.ok(total < 6 * 1024 * 1024, `the relay got to send ${total} bytes before the player hung up`)
    assert.match(outcome, /^error: .*more than the 4194304 bytes allowed/)
  })
})
