/**
 * The viewer's sound: the program's own (the default) or an interpretation, with the picture or
 * audio only. The choice is kept in localStorage, so the next room and the next visit start with it.
 * It shapes the live master playlist the player writes from the signed rendition descriptions: with
 * the picture, the video variants and their audio group (hls.js then switches the track in place);
 * audio only, the one AAC rendition of the chosen language as the only variant (a switch loads the room
 * again). The audio-only variant is left out beside video: hls.js drops audio-only levels there anyway.
 */
import type Hls from 'hls.js'
import { LANGUAGE_TAG } from '@hivecast/shared'
import type { RenditionInfo } from '@hivecast/shared'

export interface AudioChoice {
  /** An interpretation's language tag; null for the program's own sound. */
  language: string | null
  audioOnly: boolean
}

/** One entry of the language menu; `language` null is the program's own sound. */
export interface AudioOption {
  language: string | null
  label: string
}

export type MasterRendition = { info: RenditionInfo, uri: string }

export const AUDIO_CHOICE_KEY = 'hivecast:audio'
const ORIGINAL: AudioChoice = { language: null, audioOnly: false }

/** The stored choice, or the program's sound with the picture when there is none (or it is not one). */
export function loadAudioChoice (storage: Storage | undefined = localStorageOrNone()): AudioChoice {
  try {
    const value = JSON.parse(storage?.getItem(AUDIO_CHOICE_KEY) ?? 'null') as unknown
    if (typeof value !== 'object' || value === null) return ORIGINAL
    const { language, audioOnly } = value as Record<string, unknown>
    const tag = typeof language === 'string' && LANGUAGE_TAG.test(language) ? language : null
    return { language: tag, audioOnly: audioOnly === true }
  } catch {
    return ORIGINAL
  }
}

/** localStorage, or undefined where a page may not use it (sandboxed embeds, privacy modes). */
export function localStorageOrNone (): Storage | undefined {
  try {
    return globalThis.localStorage
  } catch {
    return undefined
  }
}

export class AudioTracks {
  readonly #storage: Storage | undefined
  #choice: AudioChoice
  /** The renditions of the last live master: what the room offers. */
  #offered: readonly RenditionInfo[] = []

  constructor (storage: Storage | undefined = localStorageOrNone()) {
    this.#storage = storage
    this.#choice = loadAudioChoice(storage)
  }

  get choice (): AudioChoice {
    return this.#choice
  }

  /** The program's sound, then each interpretation the room announces, in its order. */
  options (): AudioOption[] {
    const main = this.#offered.find(info => info.audio?.role === 'main')?.audio
    const alternates = this.#offered.flatMap(info => info.audio?.role === 'alternate' && info.audio.language !== undefined ? [{ language: info.audio.language, label: info.audio.name }] : [])
    return alternates.length === 0 ? [] : [{ language: null, label: main?.name ?? 'Original' }, ...alternates]
  }

  /** True when the room announces a rendition that plays without the picture. */
  get audioOnlyOffered (): boolean {
    return this.#offered.some(info => info.audio !== undefined)
  }

  /** The language in force: the chosen one when the room has it, else the program's. */
  get language (): string | null {
    const { language } = this.#choice
    return language !== null && this.#alternate(language) !== undefined ? language : null
  }

  /** True when the player plays no picture now (chosen, and the room has a rendition for it). */
  get audioOnly (): boolean {
    return this.#choice.audioOnly && this.audioOnlyOffered
  }

  /** Keeps `choice`; true when the live master changes with it (the room must be loaded again). */
  choose (choice: AudioChoice): boolean {
    const before = this.audioOnly ? this.#audioOnlyRendition()?.info.name : undefined
    this.#choice = choice
    try {
      this.#storage?.setItem(AUDIO_CHOICE_KEY, JSON.stringify(choice))
    } catch {}
    const after = this.audioOnly ? this.#audioOnlyRendition()?.info.name : undefined
    return before !== after
  }

  /** The renditions the live master lists for the choice (given all the signed window offers). */
  readonly shapeMaster = (renditions: readonly MasterRendition[]): MasterRendition[] => {
    this.#offered = renditions.map(r => r.info)
    if (this.audioOnly) {
      const only = this.#audioOnlyRendition(renditions)
      // Played as the variant it is now: the program's sound in its place.
      if (only !== undefined) return [{ info: { ...only.info, audio: { ...only.info.audio!, role: 'main' } }, uri: only.uri }]
    }
    return renditions.filter(r => r.info.audio?.role !== 'main')
  }

  /** Selects the chosen language among hls.js's audio tracks (with the picture); the default track for the program's sound. */
  apply (hls: Hls): void {
    const tracks = hls.audioTracks
    if (tracks.length === 0) return
    const language = this.language
    const index = language === null ? tracks.findIndex(t => t.default) : tracks.findIndex(t => t.lang === language)
    if (index >= 0 && hls.audioTrack !== index) hls.audioTrack = index
  }

  #alternate (language: string): RenditionInfo | undefined {
    return this.#offered.find(info => info.audio?.role === 'alternate' && info.audio.language === language)
  }

  #audioOnlyRendition (renditions: readonly MasterRendition[] = this.#offered.map(info => ({ info, uri: '' }))): MasterRendition | undefined {
    const language = this.language
    return renditions.find(r => language === null ? r.info.audio?.role === 'main' : r.info.audio?.role === 'alternate' && r.info.audio.language === language) ??
      renditions.find(r => r.info.audio?.role === 'main')
  }
}
