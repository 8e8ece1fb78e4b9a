/**
 * The hls.js playlist loader (`pLoader`). hls.js asks for the names the player wrote
 * (`verified-names.ts`); a `PlaylistSource` answers with a playlist it wrote itself from verified data:
 * the signed live window (`live-playlists.ts`) or a recording checked block by block from its signed
 * CID (`recording-playlists.ts`). No text a relay sent reaches hls.js.
 */
import type { HlsConfig, PlaylistLoaderConstructor, PlaylistLoaderContext } from 'hls.js'
import { RelayLoader } from './relay-loader.ts'
import type { AttemptResult, LoadOutcome } from './relay-loader.ts'

/** One bounded GET against one relay, cancelled with the hls.js load it serves. */
export interface RelayFetch {
  text: (url: string, maxBytes: number) => Promise<AttemptResult<string>>
  bytes: (url: string, maxBytes: number) => Promise<AttemptResult<ArrayBuffer>>
  /** True once hls.js no longer wants the load: stop asking relays. */
  readonly cancelled: boolean
}

/** The CID behind a segment or init-section name, or why the player will not fetch it. */
export type SegmentLookup = { cid: string } | { refused: string }

export interface PlaylistSource {
  /** The playlist hls.js asked for by name, written from verified data only. */
  playlist: (url: string, relays: RelayFetch) => Promise<LoadOutcome>
  /** What a segment name in those playlists stands for. */
  segment: (url: string) => SegmentLookup
}

/** What the playlist checks found, for the stats panel. */
export interface PlaylistTrustCounters {
  /** Envelopes of relays' windows not signed by the room key, and recording blocks not matching their CID. */
  entriesRejected: number
}

export const ABORTED: LoadOutcome = { kind: 'error', code: 0, text: 'aborted' }

/** A `pLoader` class answering from `source` (hls.js constructs loaders itself, with only its config). */
export function createPlaylistLoader (source: PlaylistSource): PlaylistLoaderConstructor {
  return class PlaylistLoader extends RelayLoader<PlaylistLoaderContext> {
    constructor (_config: HlsConfig) {
      super()
    }

    protected async run (context: PlaylistLoaderContext): Promise<LoadOutcome> {
      const cancelled = (): boolean => this.cancelled
      const relays: RelayFetch = {
        text: async (url, maxBytes) => await this.attempt(url, 'text', maxBytes, { cache: 'no-store' }),
        bytes: async (url, maxBytes) => await this.attempt(url, 'arraybuffer', maxBytes, { headers: { accept: 'application/vnd.ipld.raw' } }),
        get cancelled () { return cancelled() }
      }
      return await source.playlist(context.url, relays)
    }
  }
}
