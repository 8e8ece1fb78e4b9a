/**
 * The `Player` Preact component: a video, the player's state in words, and labelled controls
 * (play/pause, unmute, live edge with the latency behind live, latency mode, quality, stats,
 * fullscreen, retry).
 * Written with `h()` rather than JSX so the package typechecks and loads with the repository's plain
 * TypeScript settings.
 */
import { h } from 'preact'
import type { ComponentChildren, VNode } from 'preact'
import { useEffect, useId, useRef, useState } from 'preact/hooks'
import { emptyStats, PlayerSession } from './player-session.ts'
import type { PlayerOptions } from './player-options.ts'
import type { PlayerHandle, PlayerView, QualityOption } from './player-session.ts'
import type { PlayerStats } from './segment-ledger.ts'
import { formatLatency, StatsPanel } from './stats-panel.ts'
import { AudioOnlyPicture, LanguageMenu } from './language-menu.ts'
import { CaptionToggle } from './caption-toggle.ts'
import type { AudioChoice, AudioOption } from './audio-tracks.ts'
import { RewindControl } from './rewind-control.ts'
import './player.css'

export interface PlayerProps extends PlayerOptions {
  /** Receives the handle once the player runs, and `null` when it is removed. */
  onHandle?: (handle: PlayerHandle | null) => void
}

const STATE_LABEL: Record<PlayerView['state'], string> = {
  connecting: 'Connecting',
  live: 'Live',
  buffering: 'Buffering',
  paused: 'Paused',
  'no-signal': 'Waiting for signal',
  ended: 'Ended',
  offline: 'Offline',
  error: 'Cannot play'
}

export function Player (props: PlayerProps): ComponentChildren {
  const rootRef = useRef<HTMLDivElement>(null)
  const videoRef = useRef<HTMLVideoElement>(null)
  const sessionRef = useRef<PlayerSession | null>(null)
  const [view, setView] = useState<PlayerView>({ state: 'connecting', message: `Connecting to ${props.room}…`, retry: false })
  const [paused, setPaused] = useState(true)
  const [muted, setMuted] = useState(props.muted ?? true)
  const [stats, setStats] = useState<PlayerStats>(emptyStats)
  const [qualities, setQualities] = useState<QualityOption[]>([])
  const [quality, setQuality] = useState(-1)
  const [behindLive, setBehindLive] = useState(false)
  const [showStats, setShowStats] = useState(false)
  const [sound, setSound] = useState<{ options: AudioOption[], language: string | null, audioOnly: boolean, offered: boolean }>({ options: [], language: null, audioOnly: false, offered: false })
  const [thumbnail, setThumbnail] = useState<string | undefined>(undefined)
  const [captions, setCaptions] = useState({ offered: false, on: false })
  // The viewer's choice restarts the session (hls.js takes its low-latency mode at creation).
  const [latency, setLatency] = useState(props.latency ?? 'lowest')
  const [latencyOffered, setLatencyOffered] = useState(false)
  const statsId = useId()
  const { room, roomKey, autoplay, onHandle, recording, p2p } = props
  const relays = props.relays.join('\n')
  // The session restarts only when what it plays changes, so the recording goes into the deps as text.
  const recordingKey = recording === undefined ? '' : `${recording.cid} ${recording.from ?? ''} ${recording.to ?? ''}`

  useEffect(() => {
    const root = rootRef.current
    const video = videoRef.current
    if (root === null || video === null) return
    const session = new PlayerSession(video, root, { room, relays: relays.split('\n'), roomKey, autoplay, muted: props.muted, recording, p2p, latency }, setView)
    sessionRef.current = session
    setView(session.view)
    const sync = (): void => {
      setPaused(video.paused)
      setMuted(video.muted)
    }
    const events = ['play', 'pause', 'volumechange', 'playing'] as const
    for (const name of events) video.addEventListener(name, sync)
    // Latency, buffer and the rendition change by the second, not on events the UI sees.
    const ticker = setInterval(() => {
      setStats(session.stats())
      setQualities(session.qualities())
      setQuality(session.quality)
      setBehindLive(session.rewind?.behindLive ?? false)
      setLatencyOffered(session.lowLatencyOffered)
      const { audio } = session
      setCaptions({ offered: session.captions.offered, on: session.captions.on })
      setSound({ options: audio.options(), language: audio.language, audioOnly: audio.audioOnly, offered: audio.audioOnlyOffered })
      // A new thumbnail every 10 s at most (the origin takes one every 10 s by default).
      setThumbnail(audio.audioOnly ? session.thumbnailUrl(Math.floor(Date.now() / 10_000) * 10_000) : undefined)
    }, 1000)
    onHandle?.({ stats: () => session.stats(), destroy: () => { session.destroy() } })
    return () => {
      clearInterval(ticker)
      for (const name of events) video.removeEventListener(name, sync)
      session.destroy()
      sessionRef.current = null
      onHandle?.(null)
    }
    // The session is rebuilt only when what it plays changes, not on every render.
  }, [room, relays, roomKey, autoplay, recordingKey, p2p, latency])

  const togglePlay = (): void => {
    const video = videoRef.current
    if (video === null) return
    if (video.paused) sessionRef.current?.play()
    else video.pause()
  }
  const toggleMute = (): void => {
    const video = videoRef.current
    if (video !== null) video.muted = !video.muted
  }
  const toggleFullscreen = (): void => {
    const root = rootRef.current
    if (root === null) return
    if (document.fullscreenElement !== null) void document.exitFullscreen()
    else root.requestFullscreen().catch(() => {})
  }

  const chooseQuality = (event: Event): void => {
    const index = Number((event.currentTarget as HTMLSelectElement).value)
    sessionRef.current?.setQuality(index)
    setQuality(index)
  }
  const chooseSound = (choice: AudioChoice): void => {
    const session = sessionRef.current
    if (session === null) return
    session.setAudio(choice)
    setSound({ options: session.audio.options(), language: session.audio.language, audioOnly: session.audio.audioOnly, offered: session.audio.audioOnlyOffered })
  }
  const toggleCaptions = (on: boolean): void => {
    const session = sessionRef.current
    if (session === null) return
    session.captions.choose(on)
    setCaptions({ offered: session.captions.offered, on })
  }
  const goLive = (): void => {
    sessionRef.current?.rewind?.goLive()
    setBehindLive(false)
  }

  const showOverlay = view.state !== 'live' && view.state !== 'paused'
  const playing = recording === undefined && (view.state === 'live' || view.state === 'paused' || view.state === 'buffering')
  return h('div', { class: 'hc-player', 'data-state': view.state, ref: rootRef },
    h('video', {
      class: 'hc-video',
      ref: videoRef,
      playsInline: true,
      muted,
      'aria-label': recording === undefined ? `Live video of room ${room}` : `Recording of room ${room}`,
      onClick: togglePlay
    }),
    recording === undefined && sound.audioOnly && h(AudioOnlyPicture, { src: thumbnail, room }),
    showOverlay && h('div', { class: 'hc-overlay' },
      view.state === 'connecting' || view.state === 'buffering' ? h('span', { class: 'hc-spinner', 'aria-hidden': 'true' }) : null,
      h('p', { class: 'hc-message' }, view.message),
      view.retry && h('button', { type: 'button', class: 'hc-button hc-retry', onClick: () => sessionRef.current?.retry() }, 'Retry now')
    ),
    h('div', { class: 'hc-controls' },
      h(ControlButton, { label: paused ? 'Play' : 'Pause', onClick: togglePlay, disabled: view.state === 'error', icon: paused ? PLAY() : PAUSE() }),
      h(ControlButton, { label: muted ? 'Unmute' : 'Mute', onClick: toggleMute, wide: muted, icon: muted ? SOUND_OFF() : SOUND_ON() }),
      h('span', { class: 'hc-state', role: 'status', 'aria-live': 'polite' },
        h('span', { class: 'hc-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'hc-visually-hidden' }, 'Player state: '),
        recording !== undefined && view.state === 'live' ? 'Playing' : STATE_LABEL[view.state]),
      playing && h('button', {
        type: 'button',
        class: behindLive ? 'hc-button hc-live hc-behind' : 'hc-button hc-live',
        onClick: goLive,
        disabled: !behindLive,
        title: 'Latency: how far the picture on screen is behind the room',
        'aria-label': behindLive ? `Go to live; now ${formatLatency(stats.latencyMs)} behind live` : `At the live edge, ${formatLatency(stats.latencyMs)} behind live`
      }, behindLive ? 'Go live' : null, h('span', { class: 'hc-latency', 'aria-hidden': 'true' }, `${behindLive ? ' · ' : ''}${formatLatency(stats.latencyMs)}`, h('span', { class: 'hc-latency-word' }, ' behind'))),
      playing && sessionRef.current?.rewind !== undefined && h(RewindControl, { rewind: sessionRef.current.rewind }),
      h('span', { class: 'hc-spacer' }),
      recording === undefined && h(LanguageMenu, { options: sound.options, language: sound.language, audioOnly: sound.audioOnly, audioOnlyOffered: sound.offered, onChoose: chooseSound }),
      h(CaptionToggle, { offered: captions.offered, on: captions.on, onToggle: toggleCaptions }),
      recording === undefined && latencyOffered && h('label', { class: 'hc-quality' },
        h('span', { class: 'hc-visually-hidden' }, 'Latency'),
        h('select', { class: 'hc-select', value: latency, onChange: (event: Event) => { setLatency((event.currentTarget as HTMLSelectElement).value === 'smoothest' ? 'smoothest' : 'lowest') }, 'aria-label': 'Latency', title: 'Lowest latency plays parts of segments near the live edge; smoothest plays whole segments further behind' },
          h('option', { value: 'lowest' }, 'Lowest latency'),
          h('option', { value: 'smoothest' }, 'Smoothest'))),
      qualities.length > 1 && h('label', { class: 'hc-quality' },
        h('span', { class: 'hc-visually-hidden' }, 'Quality'),
        h('select', { class: 'hc-select', value: String(quality), onChange: chooseQuality, 'aria-label': 'Quality' },
          h('option', { value: '-1' }, stats.auto && stats.rendition !== null ? `Auto (${stats.rendition})` : 'Auto'),
          qualities.map(option => h('option', { key: option.index, value: String(option.index) }, option.label)))),
      h(ControlButton, { label: showStats ? 'Hide stats' : 'Show stats', onClick: () => { setShowStats(!showStats) }, pressed: showStats, controls: statsId, icon: STATS() }),
      h(ControlButton, { label: 'Fullscreen', onClick: toggleFullscreen, icon: FULLSCREEN() })
    ),
    showStats && h(StatsPanel, { stats, id: statsId })
  )
}

interface ControlButtonProps {
  label: string
  onClick: () => void
  disabled?: boolean
  /** Shows the label next to the icon (used for Unmute, the one action most viewers need). */
  wide?: boolean
  /** For toggles: whether the thing is on (`aria-pressed`). */
  pressed?: boolean
  /** Id of the element the button shows or hides. */
  controls?: string
  icon: ComponentChildren
}

function ControlButton (props: ControlButtonProps): ComponentChildren {
  return h('button', {
    type: 'button',
    class: props.wide === true ? 'hc-button hc-wide' : 'hc-button',
    'aria-label': props.label,
    title: props.label,
    disabled: props.disabled,
    'aria-pressed': props.pressed,
    'aria-controls': props.controls,
    onClick: props.onClick
  }, props.icon, props.wide === true ? h('span', { 'aria-hidden': 'true' }, props.label) : null)
}

function icon (path: string): VNode {
  return h('svg', { class: 'hc-icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' }, h('path', { d: path }))
}

const PLAY = (): VNode => icon('M8 5v14l11-7z')
const PAUSE = (): VNode => icon('M6 5h4v14H6zm8 0h4v14h-4z')
const SOUND_ON = (): VNode => icon('M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z')
const SOUND_OFF = (): VNode => icon('M3 9v6h4l5 5V4L7 9H3zm13.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4z')
const STATS = (): VNode => icon('M4 19h4v-8H4zm6 0h4V5h-4zm6 0h4v-12h-4z')
const FULLSCREEN = (): VNode => icon('M4 4h6v2H6v4H4zm10 0h6v6h-2V6h-4zM4 14h2v4h4v2H4zm14 0h2v6h-6v-2h4z')
