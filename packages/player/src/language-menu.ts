/**
 * The sound controls: a language menu (the program's own sound or an interpretation) when the room
 * announces one, and an "Audio only" toggle when it announces an audio-only rendition. Audio only
 * shows the room's thumbnail where the picture was (`AudioOnlyPicture`).
 */
import { h } from 'preact'
import type { ComponentChildren } from 'preact'
import type { AudioChoice, AudioOption } from './audio-tracks.ts'

export interface LanguageMenuProps {
  options: AudioOption[]
  /** The language in force (null: the program's sound). */
  language: string | null
  audioOnly: boolean
  audioOnlyOffered: boolean
  onChoose: (choice: AudioChoice) => void
}

export function LanguageMenu (props: LanguageMenuProps): ComponentChildren {
  const { options, language, audioOnly } = props
  const chooseLanguage = (event: Event): void => {
    const value = (event.currentTarget as HTMLSelectElement).value
    props.onChoose({ language: value === '' ? null : value, audioOnly })
  }
  return [
    options.length > 1 && h('label', { class: 'hc-quality hc-language' },
      h('span', { class: 'hc-visually-hidden' }, 'Language'),
      h('select', { class: 'hc-select', value: language ?? '', onChange: chooseLanguage, 'aria-label': 'Language' },
        options.map(option => h('option', { key: option.language ?? '', value: option.language ?? '', lang: option.language ?? undefined }, option.label)))),
    props.audioOnlyOffered && h('button', {
      type: 'button',
      class: audioOnly ? 'hc-button hc-wide hc-audio-only hc-behind' : 'hc-button hc-wide hc-audio-only',
      'aria-pressed': audioOnly,
      title: audioOnly ? 'Show the picture again' : 'Sound only: for a weak connection',
      onClick: () => { props.onChoose({ language, audioOnly: !audioOnly }) }
    }, 'Audio only')
  ]
}

/** The room's latest thumbnail over the video while it plays audio only. */
export function AudioOnlyPicture (props: { src: string | undefined, room: string }): ComponentChildren {
  return h('div', { class: 'hc-audio-picture' },
    props.src === undefined ? null : h('img', { class: 'hc-thumbnail', src: props.src, alt: `Latest picture of room ${props.room} (playing audio only)` }),
    h('p', { class: 'hc-audio-label' }, 'Audio only'))
}
