/**
 * Going back in the live stream and returning to it. Within what the player's playlists list, a
 * rewind is a seek. Further back, the older signed announcements are fetched from the relays
 * (playlist-history.ts), the playlists reach back that far, and hls.js is started again at the point
 * asked for: its timeline begins at the first segment it loaded, so a playlist cannot grow backwards
 * under it. From then on the playlists keep their start and grow at the live edge (a DVR window), so
 * going live again, or back within that stretch, is a seek.
 */
import type Hls from 'hls.js'
import type { LivePlaylists } from './live-playlists.ts'

/** How far back the viewer can ask for: relays keep two hours (`--rewind 120`) by default. */
export const REWIND_MAX_SECONDS = 2 * 60 * 60

export interface RewindActions {
  /** Loads the room again, starting `position` seconds into the playlists. */
  restartAt: (position: number) => void
  /** Plays, falling back to muted when the browser refuses sound. */
  play: () => void
}

export class LiveRewind {
  readonly #playlists: LivePlaylists
  readonly #video: HTMLVideoElement
  readonly #hls: () => Hls | undefined
  readonly #actions: RewindActions
  #loading = false

  constructor (playlists: LivePlaylists, video: HTMLVideoElement, hls: () => Hls | undefined, actions: RewindActions) {
    this.#playlists = playlists
    this.#video = video
    this.#hls = hls
    this.#actions = actions
  }

  /** True while older announcements are being fetched. */
  get loading (): boolean {
    return this.#loading
  }

  /** Seconds the playhead is behind the live edge (where hls.js would start a live stream now). */
  behindSeconds (): number {
    const sync = this.#hls()?.liveSyncPosition
    return typeof sync === 'number' ? Math.max(0, sync - this.#video.currentTime) : 0
  }

  /** True when the playhead is more than a few segments behind the live edge. */
  get behindLive (): boolean {
    const hls = this.#hls()
    const target = hls?.levels[hls.currentLevel]?.details?.targetduration ?? 1
    return this.behindSeconds() > Math.max(3, 2 * target)
  }

  /** The program date time on screen, ms since the epoch (the origin's clock); null before playback. */
  programTime (): number | null {
    return this.#hls()?.playingDate?.getTime() ?? null
  }

  /** Jumps to the live edge. */
  goLive (): void {
    const sync = this.#hls()?.liveSyncPosition
    if (typeof sync === 'number') this.#video.currentTime = sync
    if (this.#video.paused) this.#actions.play()
  }

  /** Goes `seconds` further back. */
  async back (seconds: number): Promise<void> {
    await this.seekBehind(this.behindSeconds() + seconds)
  }

  /** Plays from `seconds` behind the live edge (up to REWIND_MAX_SECONDS, as far as the relays hold). */
  async seekBehind (seconds: number): Promise<void> {
    const hls = this.#hls()
    const video = this.#video
    const sync = hls?.liveSyncPosition
    if (hls === undefined || typeof sync !== 'number' || this.#loading) return
    const position = sync - Math.min(REWIND_MAX_SECONDS, Math.max(0, seconds))
    const first = hls.levels[hls.currentLevel]?.details?.fragments[0]
    const start = first?.start ?? 0
    if (position >= start) {
      video.currentTime = position
      if (video.paused) this.#actions.play()
      return
    }
    const playing = hls.playingDate
    if (playing === null) return
    const target = playing.getTime() - (video.currentTime - position) * 1000
    this.#loading = true
    try {
      const from = await this.#playlists.rewindTo(target)
      if (from === undefined || from >= (first?.programDateTime ?? -Infinity)) {
        // Nothing older on any relay: the oldest segment listed is as far back as it goes.
        video.currentTime = start
        return
      }
      this.#actions.restartAt(Math.max(0, (target - from) / 1000))
    } finally {
      this.#loading = false
    }
  }
}
