/**
 * The rewind controls of a live room: "−30 s", a bar from two hours behind live to the live edge, and
 * the program time on screen. The live button beside them (player.ts) returns to the edge in one
 * click. Re-rendered with the player's once-a-second tick; positions come from `LiveRewind`.
 */
import { h } from 'preact'
import type { ComponentChildren } from 'preact'
import { REWIND_MAX_SECONDS } from './live-rewind.ts'
import type { LiveRewind } from './live-rewind.ts'

const BACK_SECONDS = 30

/** `1:05:03` or `4:07` behind live. */
function formatBehind (seconds: number): string {
  const whole = Math.round(seconds)
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const s = String(whole % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

export function RewindControl (props: { rewind: LiveRewind }): ComponentChildren {
  const { rewind } = props
  const behind = rewind.behindSeconds()
  const time = rewind.programTime()
  return h('span', { class: 'hc-rewind' },
    h('button', {
      type: 'button',
      class: 'hc-button hc-back',
      disabled: rewind.loading,
      'aria-label': `Back ${BACK_SECONDS} seconds`,
      title: `Back ${BACK_SECONDS} seconds`,
      onClick: () => { void rewind.back(BACK_SECONDS) }
    }, `−${BACK_SECONDS} s`),
    h('input', {
      type: 'range',
      class: 'hc-seek',
      min: -REWIND_MAX_SECONDS,
      max: 0,
      step: 1,
      value: -Math.round(behind),
      disabled: rewind.loading,
      'aria-label': 'Position behind live',
      'aria-valuetext': `${formatBehind(behind)} behind live`,
      onChange: (event: Event) => { void rewind.seekBehind(-Number((event.currentTarget as HTMLInputElement).value)) }
    }),
    h('time', {
      class: 'hc-program-time',
      'data-ms': time ?? '',
      dateTime: time === null ? undefined : new Date(time).toISOString(),
      title: 'Program time of the picture on screen'
    }, rewind.loading ? 'Rewinding…' : time === null ? '' : new Date(time).toLocaleTimeString())
  )
}
