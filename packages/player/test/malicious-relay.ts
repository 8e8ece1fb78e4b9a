/**
 * A named fake: a malicious relay. It proxies a real relay over HTTP and lies in one of two ways,
 * which no real relay can be made to do: `tamper` flips a byte in every segment it serves (playlists
 * stay honest, so players fetch from it); `unsigned` appends to every media playlist and to every
 * rendition of its signed window (`window.json`, what the Hivecast player reads) an entry the room's
 * key never announced (in the window: the newest envelope with its payload changed to name the next
 * seq and the forged CID), whose block it serves itself — bytes that match their own CID, so only the
 * announcement check can catch them.
 */
import { randomBytes } from 'node:crypto'
import { rawCid } from '@hivecast/shared'
import { startRelayProxy } from '@hivecast/devnet'

export type Lie = 'tamper' | 'unsigned'

export interface MaliciousRelay {
  url: string
  /** Segments served with a flipped byte. */
  tampered: number
  /** Media playlists and windows served with the invented entry. */
  playlistsForged: number
  /** The CID of the invented segment, and how often anyone asked this relay for it. */
  forgedCid: string
  forgedRequests: number
  close: () => Promise<void>
}

export async function startMaliciousRelay (upstream: string, lie: Lie): Promise<MaliciousRelay> {
  const forgedBlock = new Uint8Array(randomBytes(50_000))
  const forgedCid = (await rawCid(forgedBlock)).toString()
  const relay: MaliciousRelay = { url: '', tampered: 0, playlistsForged: 0, forgedCid, forgedRequests: 0, close: async () => {} }
  const listening = await startRelayProxy(upstream, {
    intercept: (path, res) => {
      if (path !== `/ipfs/${forgedCid}`) return false
      relay.forgedRequests++
      res.end(forgedBlock)
      return true
    },
    alter: answer => {
      const ok = answer.status >= 200 && answer.status < 300
      let body = answer.body
      if (ok && lie === 'tamper' && answer.path.startsWith('/ipfs/')) {
        body = body.slice()
        body[body.length >> 1] = body[body.length >> 1]! ^ 0xff
        relay.tampered++
      }
      if (ok && lie === 'unsigned' && /^\/hls\/[^/]+\/(?!master)[^/]+\.m3u8$/.test(answer.path)) {
        const text = new TextDecoder().decode(body).replace('#EXT-X-ENDLIST\n', '')
        body = new TextEncoder().encode(`${text}#EXTINF:1.000,\n/ipfs/${forgedCid}?filename=forged.ts\n`)
        relay.playlistsForged++
      }
      if (ok && lie === 'unsigned' && /^\/rooms\/[^/]+\/window\.json$/.test(answer.path)) {
        body = new TextEncoder().encode(JSON.stringify(withForgedEntry(JSON.parse(new TextDecoder().decode(body)) as ForgeableWindow, forgedCid)))
        relay.playlistsForged++
      }
      return { ...answer, body, headers: { ...answer.headers, 'cache-control': 'no-cache' } }
    }
  })
  relay.url = listening.url
  relay.close = listening.close
  return relay
}

interface ForgeableWindow {
  renditions: Record<string, Array<{ envelope: { payload: string }, storedAt: number | null }>>
}

/** The window with, per rendition, one more entry: the newest envelope re-pointed at `cid`, its signature no longer matching. */
function withForgedEntry (window: ForgeableWindow, cid: string): ForgeableWindow {
  for (const list of Object.values(window.renditions)) {
    const newest = list.at(-1)
    if (newest === undefined) continue
    const payload = JSON.parse(newest.envelope.payload) as { seq: number }
    list.push({ envelope: { ...newest.envelope, payload: JSON.stringify({ ...payload, seq: payload.seq + 1, cid }) }, storedAt: Date.now() })
  }
  return window
}
