/** The CC button: shows and hides the room's captions when it announces a subtitle rendition. */
import { h } from 'preact'
import type { ComponentChildren, VNode } from 'preact'

export interface CaptionToggleProps {
  offered: boolean
  on: boolean
  onToggle: (on: boolean) => void
}

export function CaptionToggle (props: CaptionToggleProps): ComponentChildren {
  if (!props.offered) return null
  const label = props.on ? 'Hide captions' : 'Show captions'
  return h('button', {
    type: 'button',
    class: props.on ? 'hc-button hc-captions hc-behind' : 'hc-button hc-captions',
    'aria-label': label,
    'aria-pressed': props.on,
    title: label,
    onClick: () => { props.onToggle(!props.on) }
  }, CC())
}

const CC = (): VNode => h('svg', { class: 'hc-icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' },
  h('path', { d: 'M19 4H5a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2zm-8 7H9.5v-.5h-2v3h2V13H11v1a1 1 0 0 1-1 1H7a1 1 0 0 1-1-1v-4a1 1 0 0 1 1-1h3a1 1 0 0 1 1 1zm7 0h-1.5v-.5h-2v3h2V13H18v1a1 1 0 0 1-1 1h-3a1 1 0 0 1-1-1v-4a1 1 0 0 1 1-1h3a1 1 0 0 1 1 1z' }))
