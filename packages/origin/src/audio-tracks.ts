/**
 * Interpretation: further audio streams of the input (an interpreter's booth mixed into a second
 * channel pair of the feed) each become an AAC-only rendition, announced as an `alternate` audio
 * track with its language and name, which players list beside the program's own sound (the default).
 * Given as `--audio-track <language>:<name>:<stream>` or `audioTracks` in the rooms file; `stream`
 * counts the input's audio streams from 0, the program's own sound.
 */
import { InvalidOptionError, LANGUAGE_TAG, TRACK_NAME } from '@hivecast/shared'

export interface AudioTrack {
  /** Language tag, e.g. `de`, `en-GB`. */
  language: string
  /** Shown in players' language menus, e.g. `Deutsch (interpretation)`. */
  name: string
  /** The input's audio stream, counted from 0 (the program's own sound, which is always played). */
  stream: number
}

/** Audio streams an input may add; each is one more AAC encoder and rendition. */
export const MAX_AUDIO_TRACKS = 8
/** Interpretation is speech: the audio-only bitrate is plenty. */
export const AUDIO_TRACK_BITRATE = 64_000

/** The rendition an audio track is announced as: `audio-<language>`, e.g. `audio-de`, `audio-en-gb`. */
export function audioTrackRendition (track: AudioTrack): string {
  return `audio-${track.language.toLowerCase()}`
}

/** Checks one track; throws saying what a good one looks like. */
export function assertAudioTrack (track: AudioTrack): AudioTrack {
  const example = 'e.g. de:Deutsch (interpretation):1'
  if (!LANGUAGE_TAG.test(track.language)) throw new InvalidOptionError(`audio track language "${track.language}" is not a language tag: use e.g. de or en-GB (${example})`)
  if (!TRACK_NAME.test(track.name)) throw new InvalidOptionError(`audio track name "${track.name}" must be 1-64 characters without quotes (${example})`)
  if (!Number.isInteger(track.stream) || track.stream < 1 || track.stream > 15) {
    throw new InvalidOptionError(`audio track stream ${track.stream} must be the input's audio stream 1 to 15 (0 is the program's own sound, always played) (${example})`)
  }
  return track
}

/** Checks a room's tracks: each valid, at most MAX_AUDIO_TRACKS, no language or stream twice. */
export function assertAudioTracks (tracks: readonly AudioTrack[]): AudioTrack[] {
  if (tracks.length > MAX_AUDIO_TRACKS) throw new InvalidOptionError(`${tracks.length} audio tracks: at most ${MAX_AUDIO_TRACKS}`)
  const seen = new Set<string>()
  for (const track of tracks) {
    assertAudioTrack(track)
    const name = audioTrackRendition(track)
    if (seen.has(name)) throw new InvalidOptionError(`audio track language "${track.language}" is listed twice: give each language one track`)
    seen.add(name)
  }
  return [...tracks]
}

/** `--audio-track de:Deutsch (interpretation):1`: the name is everything between the first and the last colon. */
export function parseAudioTrack (spec: string): AudioTrack {
  const first = spec.indexOf(':')
  const last = spec.lastIndexOf(':')
  const stream = spec.slice(last + 1).trim()
  if (first < 0 || last === first || !/^\d+$/.test(stream)) {
    throw new InvalidOptionError(`--audio-track "${spec}" is not <language>:<name>:<stream>, e.g. de:Deutsch (interpretation):1`)
  }
  return assertAudioTrack({ language: spec.slice(0, first).trim(), name: spec.slice(first + 1, last).trim(), stream: Number(stream) })
}
