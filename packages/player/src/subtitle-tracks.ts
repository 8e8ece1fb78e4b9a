/**
 * The viewer's captions: on or off, kept in localStorage (like the sound, audio-tracks.ts), so the
 * next room and the next visit start the same way. hls.js (full build) loads the room's subtitle
 * rendition, WebVTT segments checked against their signed CIDs by the segment loader like media, and
 * renders its cues natively into a TextTrack of the video; the first subtitle track is always
 * selected, so its cues are loaded, and captions off only hides them (`subtitleDisplay`), so turning
 * them on shows the current cue at once.
 */
import Hls from 'hls.js'
import { localStorageOrNone } from './audio-tracks.ts'

export const CAPTIONS_KEY = 'hivecast:captions'

export class SubtitleTracks {
  readonly #storage: Storage | undefined
  #on: boolean
  #hls: Hls | undefined

  constructor (storage: Storage | undefined = localStorageOrNone()) {
    this.#storage = storage
    let stored: string | null = null
    try {
      stored = storage?.getItem(CAPTIONS_KEY) ?? null
    } catch {}
    this.#on = stored === 'on'
  }

  /** True while captions are shown (chosen; the room may have none). */
  get on (): boolean {
    return this.#on
  }

  /** True when the room's master lists a subtitle rendition. */
  get offered (): boolean {
    return (this.#hls?.subtitleTracks.length ?? 0) > 0
  }

  /** Follows `hls`'s subtitle tracks from now on (one per playback session). */
  attach (hls: Hls): void {
    this.#hls = hls
    // hls.js knows the tracks from the manifest (it announces no update for the first ones) and makes
    // the TextTrack only after it switched to one: applied at each, and again at every playlist load
    // (cheap: the setters change nothing once the track and mode are right).
    const events = [Hls.Events.MANIFEST_PARSED, Hls.Events.SUBTITLE_TRACKS_UPDATED, Hls.Events.LEVEL_LOADED, Hls.Events.SUBTITLE_TRACK_LOADED] as const
    for (const event of events) hls.on(event, () => { this.#apply() })
  }

  /** Shows or hides captions and keeps the choice. */
  choose (on: boolean): void {
    this.#on = on
    try {
      this.#storage?.setItem(CAPTIONS_KEY, on ? 'on' : 'off')
    } catch {}
    this.#apply()
  }

  #apply (): void {
    const hls = this.#hls
    if (hls === undefined || hls.subtitleTracks.length === 0) return
    // Display first: selecting the track then opens it shown or hidden, never both in turn.
    hls.subtitleDisplay = this.#on
    if (hls.subtitleTrack < 0) hls.subtitleTrack = 0
  }
}
