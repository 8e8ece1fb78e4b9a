/**
 * The hls.js playlist loader (`pLoader`). Every relay serves the same room at the same paths
 * (`/hls/<room>/master.m3u8`, `/hls/<room>/<rendition>.m3u8`), so a playlist URL on one relay can be
 * asked of any other. The loader tries the preferred relay first and moves on after an error, a
 * timeout or an answer that is not a playlist; the relay that answers becomes the preferred one.
 *
 * Given the room's key (an `AnnouncementBook`), a media playlist is accepted only when a signed
 * announcement backs each entry: entries not yet in the book send the loader to the same relay's
 * `/rooms/<room>/window.json`; a relay that still lists unbacked entries is demoted and the next one
 * asked. When no relay lists only backed entries, the best answer is played without the unbacked ones.
 */
import type { HlsConfig, PlaylistLoaderConstructor, PlaylistLoaderContext } from 'hls.js'
import type { AnnouncementBook } from './announcement-book.ts'
import { keepBacked, listSegments } from './playlist-entries.ts'
import type { ListedSegment } from './playlist-entries.ts'
import { RelayLoader } from './relay-loader.ts'
import type { LoadOutcome } from './relay-loader.ts'
import type { RelayPool } from './relay-pool.ts'

/** Far above any live window playlist; bounds what a misbehaving relay can make the page hold. */
const MAX_PLAYLIST_BYTES = 1024 * 1024
/** A window.json of a few renditions of a few dozen envelopes is ~100 KB; this bounds a hostile one. */
const MAX_WINDOW_BYTES = 4 * 1024 * 1024

/** What the playlist checks found, for the stats panel. */
export interface PlaylistTrustCounters {
  /** Playlist entries dropped because no announcement signed by the room key backs them. */
  entriesRejected: number
}

/** The rendition a media playlist path names (`hls/<room>/<name>.m3u8`), or undefined for master. */
export function renditionOfPath (path: string): string | undefined {
  const match = /^hls\/[a-z0-9-]+\/([a-z0-9][a-z0-9_-]{0,31})\.m3u8$/.exec(path)
  return match === null || match[1] === 'master' ? undefined : match[1]
}

/** A `pLoader` class bound to one player's relays and, when the room key is known, its announcements. */
export function createPlaylistLoader (pool: RelayPool, book?: AnnouncementBook, counters: PlaylistTrustCounters = { entriesRejected: 0 }): PlaylistLoaderConstructor {
  return class PlaylistLoader extends RelayLoader<PlaylistLoaderContext> {
    constructor (_config: HlsConfig) {
      super()
    }

    protected async run (context: PlaylistLoaderContext): Promise<LoadOutcome> {
      const located = pool.locate(context.url)
      // A URL outside every relay (an absolute variant URL elsewhere) is fetched as it is.
      const candidates = located === undefined
        ? [{ relay: undefined, url: context.url }]
        : pool.order().map(relay => ({ relay, url: `${relay}/${located.path}` }))
      const rendition = located === undefined ? undefined : renditionOfPath(located.path)
      const failures: string[] = []
      let timeouts = 0
      let notFound = 0
      let notYet = 0
      let fallback: Extract<LoadOutcome, { kind: 'success' }> | undefined
      let fallbackDropped = 0
      for (const { relay, url } of candidates) {
        const result = await this.attempt(url, 'text', MAX_PLAYLIST_BYTES, { cache: 'no-store' })
        if (this.cancelled) return { kind: 'error', code: 0, text: 'aborted' }
        if (result.ok && result.data.replace(/^\uFEFF/, '').trimStart().startsWith('#EXTM3U')) {
          if (book === undefined || rendition === undefined || relay === undefined) {
            if (relay !== undefined) pool.servedPlaylist(relay)
            return { kind: 'success', url, data: result.data, bytes: result.data.length, firstByte: result.firstByte }
          }
          const backed = (segment: ListedSegment): boolean => segment.cid !== undefined && book.backs(rendition, segment.seq, segment.cid, segment.map)
          let windowProblem = ''
          if (listSegments(result.data, url).some(segment => !segment.gap && !backed(segment))) {
            const signed = await this.attempt(`${relay}/rooms/${book.room}/window.json`, 'text', MAX_WINDOW_BYTES, { cache: 'no-store' })
            if (this.cancelled) return { kind: 'error', code: 0, text: 'aborted' }
            if (signed.ok) await book.addWindow(parseJson(signed.data))
            else windowProblem = ` (its /rooms/${book.room}/window.json ${signed.text})`
            if (this.cancelled) return { kind: 'error', code: 0, text: 'aborted' }
          }
          const checked = keepBacked(result.data, url, backed)
          if (checked.dropped === 0) {
            pool.servedPlaylist(relay)
            return { kind: 'success', url, data: result.data, bytes: result.data.length, firstByte: result.firstByte }
          }
          // Listing segments the room's key never announced: broken or hostile; ask the others.
          pool.rejected(relay)
          counters.entriesRejected += checked.dropped
          failures.push(`${url} listed ${checked.dropped} entries not signed by the room key ${book.keys.join(' or ')}${windowProblem}`)
          const playable = listSegments(checked.text, url).length > 0
          if (playable && (fallback === undefined || checked.dropped < fallbackDropped)) {
            fallback = { kind: 'success', url, data: checked.text, bytes: checked.text.length, firstByte: result.firstByte }
            fallbackDropped = checked.dropped
          }
          continue
        }
        if (relay !== undefined) pool.failed(relay)
        if (result.ok) {
          failures.push(`${url} did not answer with an HLS playlist`)
        } else {
          if (result.timedOut) timeouts++
          if (result.status === 404) notFound++
          if (result.status === 503) notYet++
          failures.push(`${url} ${result.text}`)
        }
      }
      if (fallback !== undefined) return fallback
      const tried = failures.join('; ')
      if (failures.length > 0 && timeouts === failures.length) return { kind: 'timeout', text: tried }
      // A 404 from every relay means the room is not followed there, a 503 that it has no segment yet:
      // both mean no signal. Anything else is worth a retry.
      const code = failures.length === 0 ? 502 : notFound === failures.length ? 404 : notFound + notYet === failures.length ? 503 : 502
      return { kind: 'error', code, text: `no relay served ${context.url}: ${tried}` }
    }
  }
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
