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
/**
 * A viewer following live who fell this many target durations behind the live edge (at least
 * CATCH_UP_MIN_SECONDS) without asking to is played a little faster until back within one target
 * duration of it: after a slow start or a stall, hls.js plays on from where it was and would stay
 * that far behind for good (the lab's viewers, started while relays caught up, watched 25-30 s behind).
 * Faster, not a jump: a seek lands where nothing is buffered, and every jump was a stall (the lab's
 * viewers stalled 13-24 times a minute when taken back by seeking).
 */
const CATCH_UP_TARGET_DURATIONS = 3
const CATCH_UP_MIN_SECONDS = 3
/** Wins back 10 s in under a minute; speech stays easy to follow (browsers keep the pitch). */
const CATCH_UP_RATE = 1.2
/**
 * Catching up pauses below this much buffer: playing faster must not run the buffer dry, and a viewer
 * far behind with little buffered is behind because segments come slowly, which speed does not mend
 * (the lab's viewers, 25 s behind with 2 s buffered, sped up and slowed down 27 times in a minute).
 */
const CATCH_UP_MIN_BUFFER_SECONDS = 4

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
  /** False once the viewer went back or paused, until they go live again: then being behind is their choice. */
  #following = true
  #catchingUp = false
  /** Times playback was sped up to get back near the live edge. */
  catchUps = 0

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

  /** The viewer paused: when they play again it is from where they were, not from live. */
  paused (): void {
    this.#following = false
  }

  /**
   * Called about once a second with the seconds buffered ahead: plays a viewer following live at
   * CATCH_UP_RATE while playback is far behind the live edge, and at normal speed otherwise.
   */
  keepLive (bufferAhead: number): void {
    const hls = this.#hls()
    let catchUp = false
    if (this.#following && !this.#loading && !this.#video.paused && hls !== undefined && bufferAhead >= CATCH_UP_MIN_BUFFER_SECONDS) {
      const target = hls.levels[hls.currentLevel]?.details?.targetduration ?? 1
      const behind = this.behindSeconds()
      catchUp = this.#catchingUp ? behind > target : behind > Math.max(CATCH_UP_MIN_SECONDS, CATCH_UP_TARGET_DURATIONS * target)
    }
    if (catchUp && !this.#catchingUp) this.catchUps++
    // Only a rate this set is set back: nothing else changes it, but a page might.
    if (catchUp !== this.#catchingUp) this.#video.playbackRate = catchUp ? CATCH_UP_RATE : 1
    this.#catchingUp = catchUp
  }

  /** Jumps to the live edge. */
  goLive (): void {
    this.#following = true
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
    this.#following = false
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
