/**
 * index.html: every room this site streams, with its live state and latest thumbnail (read from the
 * relays' `/status` every few seconds), and from the schedule what is on now and next; each links to its
 * watch page and its recordings.
 */
import { render } from 'preact'
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import { NowAndNext, ScheduleProblem, useNow, useSchedule } from './now-playing.tsx'
import { Notice, PageLayout } from './page-layout.tsx'
import { fetchOriginStatus, fetchRelayStatus, LIVE_LABEL, roomLiveState } from './relay-client.ts'
import type { LiveState } from './relay-client.ts'
import { loadSiteConfig } from './site-config.ts'
import type { RoomEntry, SiteConfig, SiteConfigResult } from './site-config.ts'
import './site.css'

const POLL_MS = 5_000
/** Longer than the status page's: here a slow answer is still worth showing. */
const STATUS_TIMEOUT_MS = 8_000

function RoomsPage (): ComponentChildren {
  const [result, setResult] = useState<SiteConfigResult | undefined>(undefined)
  useEffect(() => { void loadSiteConfig().then(setResult) }, [])

  if (result === undefined) return <PageLayout><p class="loading">Loading rooms…</p></PageLayout>
  if (!result.ok) return <PageLayout><Notice title="This site is not configured">{result.message}</Notice></PageLayout>
  return <PageLayout><RoomList config={result.config} /></PageLayout>
}

interface RoomState {
  live: LiveState
  /** The newest thumbnail any relay holds: its URL (changing with each new picture) and time. */
  thumbnail: { url: string, at: number } | undefined
}

/** Each room's live state and thumbnail, refreshed every POLL_MS; undefined until the first round answers. */
function useRoomStates (config: SiteConfig): Record<string, RoomState> | undefined {
  const [states, setStates] = useState<Record<string, RoomState> | undefined>(undefined)
  useEffect(() => {
    let stopped = false
    let running = false
    const poll = async (): Promise<void> => {
      // One round at a time: a busy relay may take longer than POLL_MS to answer.
      if (running) return
      running = true
      const relays = await Promise.all(config.relays.map(async url => await fetchRelayStatus(url, STATUS_TIMEOUT_MS)))
      const origins = await Promise.all(config.origins.map(async o => await fetchOriginStatus(o.url, STATUS_TIMEOUT_MS)))
      running = false
      if (stopped) return
      const now = Date.now()
      setStates(Object.fromEntries(config.rooms.map(room => {
        const origin = origins.find(o => o?.room === room.slug)
        let thumbnail: RoomState['thumbnail']
        relays.forEach((relay, i) => {
          const held = relay?.rooms[room.slug]?.thumbnail
          if (held !== undefined && (thumbnail === undefined || held.at > thumbnail.at)) {
            // The relay's latest picture of the room; `at` in the query makes each new one a new URL.
            thumbnail = { url: relayUrl(config.relays[i]!, relayRoutes.thumbnail(room.slug, held.at)), at: held.at }
          }
        })
        return [room.slug, { live: roomLiveState(room.slug, relays, origin, now), thumbnail }]
      })))
    }
    void poll()
    const timer = setInterval(() => { void poll() }, POLL_MS)
    return () => { stopped = true; clearInterval(timer) }
  }, [config])
  return states
}

function RoomList (props: { config: SiteConfig }): ComponentChildren {
  const { rooms, relays, ignored } = props.config
  const states = useRoomStates(props.config)
  const schedule = useSchedule(props.config.schedule)
  const now = useNow(30_000)
  return (
    <>
      <h1>Rooms</h1>
      <p class="lede">
        {rooms.length === 0 ? 'No rooms are listed yet.' : `${rooms.length} ${rooms.length === 1 ? 'room' : 'rooms'}, carried by ${relays.length} volunteer ${relays.length === 1 ? 'relay' : 'relays'}.`}
      </p>
      <ul class="room-list">
        {rooms.map(room => {
          const state = states?.[room.slug]?.live
          return (
            <li key={room.slug} class="room-card" data-room={room.slug}>
              <Thumbnail room={room} thumbnail={states?.[room.slug]?.thumbnail} />
              <div class="room-head">
                <a class="room-title" href={`./watch.html?room=${encodeURIComponent(room.slug)}`}>{room.title}</a>
                <span class={`live-badge live-${state ?? 'checking'}`} data-state={state ?? 'checking'}>{state === undefined ? 'Checking…' : LIVE_LABEL[state]}</span>
              </div>
              <span class="room-slug">{room.slug}</span>
              <NowAndNext schedule={schedule} room={room} now={now} />
              <div class="room-links">
                <a class="room-watch" href={`./watch.html?room=${encodeURIComponent(room.slug)}`} aria-label={`Watch ${room.title}`}>Watch →</a>
                <a class="room-recordings" href={`./recordings.html?room=${encodeURIComponent(room.slug)}`} aria-label={`Recordings of ${room.title}`}>Recordings</a>
              </div>
            </li>
          )
        })}
      </ul>
      <ScheduleProblem schedule={schedule} />
      {ignored.length > 0 && <p class="config-note">config.json: {ignored.length} {ignored.length === 1 ? 'entry was' : 'entries were'} ignored ({ignored.join('; ')}).</p>}
    </>
  )
}

/** The room's latest picture, or a placeholder until the origin has published one (or when it fails to load). */
function Thumbnail (props: { room: RoomEntry, thumbnail: { url: string, at: number } | undefined }): ComponentChildren {
  const { room, thumbnail } = props
  const [failed, setFailed] = useState<string | undefined>(undefined)
  const shown = thumbnail !== undefined && failed !== thumbnail.url
  return (
    <a class="room-thumb" href={`./watch.html?room=${encodeURIComponent(room.slug)}`} tabIndex={-1} aria-hidden="true" data-thumbnail={shown ? 'shown' : 'none'}>
      {shown
        ? <img src={thumbnail.url} alt="" width={320} height={180} decoding="async" onError={() => { setFailed(thumbnail.url) }} />
        : <span class="thumb-placeholder">No picture yet</span>}
    </a>
  )
}

const root = document.getElementById('app')
if (root !== null) render(<RoomsPage />, root)
