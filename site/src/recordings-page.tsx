/**
 * recordings.html (`?room=<slug>` shows one room): per room, the recorded sessions the relays list
 * (signed by the room key, checked here), each cut into the talks the schedule puts in it. Every talk has
 * its CID, a Play button (the player in recording mode: every segment checked against its CID), its
 * duration, and how to keep it: `ipfs pin add <cid>` and the relay URLs. Refreshed every few seconds,
 * since a live session's recording grows. The player's handle is `window.hivecastPlayer` (test aid).
 */
import { mountPlayer } from '@hivecast/player'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import type { RecordingSelection } from '@hivecast/player'
import { render } from 'preact'
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { Snippet } from './embed-snippets.tsx'
import { ScheduleProblem, useSchedule } from './now-playing.tsx'
import { Notice, PageLayout } from './page-layout.tsx'
import { formatDuration, loadRoomRecordings, talksInSession } from './recordings.ts'
import { fetchRelayStatus } from './relay-client.ts'
import type { RoomRecordings, SessionRecording } from './recordings.ts'
import { formatTime, streamingLabel, talksOfRoom } from './schedule.ts'
import type { ScheduleResult, Talk } from './schedule.ts'
import { loadSiteConfig } from './site-config.ts'
import type { RoomEntry, SiteConfig, SiteConfigResult } from './site-config.ts'
import './site.css'

const POLL_MS = 10_000
const STATUS_TIMEOUT_MS = 8_000

/** What the player plays: a whole session or one talk of it. */
interface Selection {
  /** Session and talk: stays the same while a growing session is re-announced under new CIDs. */
  key: string
  room: RoomEntry
  session: SessionRecording
  title: string
  recording: RecordingSelection
}

function RecordingsPage (): ComponentChildren {
  const [result, setResult] = useState<SiteConfigResult | undefined>(undefined)
  useEffect(() => { void loadSiteConfig().then(setResult) }, [])
  if (result === undefined) return <PageLayout><p class="loading">Loading recordings…</p></PageLayout>
  if (!result.ok) return <PageLayout><Notice title="This site is not configured">{result.message}</Notice></PageLayout>
  return <PageLayout><Recordings config={result.config} /></PageLayout>
}

/** Every shown room's recordings, refreshed every POLL_MS; a room is undefined until its first answer. */
function useRecordings (rooms: RoomEntry[], relays: string[]): Record<string, RoomRecordings | undefined> {
  const [byRoom, setByRoom] = useState<Record<string, RoomRecordings | undefined>>({})
  useEffect(() => {
    let stopped = false
    let running = false
    const poll = async (): Promise<void> => {
      if (running) return
      running = true
      const statuses = await Promise.all(relays.map(async relay => await fetchRelayStatus(relay, STATUS_TIMEOUT_MS)))
      const loaded = await Promise.all(rooms.map(async room => {
        const following = relays.filter((_, i) => statuses[i]?.rooms[room.slug] !== undefined)
        return [room.slug, await loadRoomRecordings(room, relays, following)] as const
      }))
      running = false
      if (!stopped) setByRoom(Object.fromEntries(loaded))
    }
    void poll()
    const timer = setInterval(() => { void poll() }, POLL_MS)
    return () => { stopped = true; clearInterval(timer) }
  }, [rooms, relays])
  return byRoom
}

function Recordings (props: { config: SiteConfig }): ComponentChildren {
  const { config } = props
  const only = new URLSearchParams(location.search).get('room')
  const [rooms] = useState(() => only === null ? config.rooms : config.rooms.filter(room => room.slug === only))
  const recordings = useRecordings(rooms, config.relays)
  const schedule = useSchedule(config.schedule)
  const [selection, setSelection] = useState<Selection | undefined>(undefined)

  return (
    <>
      <h1>Recordings</h1>
      <p class="lede">
        Every recorded talk, cut from its room's session by the schedule. A recording is an IPFS directory named by its content
        address (CID): play it here, or pin it on your own IPFS node to keep it available.
      </p>
      {only !== null && (
        <p class="filter-note">
          {rooms.length === 0 ? `There is no room called “${only}” on this site.` : `Showing ${rooms[0]!.title} only.`} <a href="./recordings.html">All rooms</a>
        </p>
      )}
      {selection !== undefined && <RecordingStage selection={selection} relays={config.relays} onClose={() => { setSelection(undefined) }} />}
      {rooms.map(room => (
        <RoomRecordingsView key={room.slug} room={room} recordings={recordings[room.slug]} schedule={schedule} relays={config.relays} onPlay={setSelection} playing={selection} />
      ))}
      <ScheduleProblem schedule={schedule} />
      <p class="fine">
        Only relays started with <code>--archive</code> keep and serve recordings. The list is checked against each room's key,
        so a relay cannot add or change one. A session still on air is recorded again every few minutes under a new CID;
        its final CID comes when the session ends.
      </p>
    </>
  )
}

/** The player in recording mode, above the list. */
function RecordingStage (props: { selection: Selection, relays: string[], onClose: () => void }): ComponentChildren {
  const { selection, relays } = props
  const stage = useRef<HTMLDivElement>(null)
  const heading = useRef<HTMLHeadingElement>(null)
  const { cid, from, to } = selection.recording
  useEffect(() => {
    const element = stage.current
    if (element === null) return
    // Relays that pinned it first: the others answer 404 until they have it.
    const ordered = [...selection.session.pinnedOn, ...relays.filter(relay => !selection.session.pinnedOn.includes(relay))]
    const player = mountPlayer(element, { room: selection.room.slug, relays: ordered, roomKey: selection.room.key, recording: { cid, from, to } })
    window.hivecastPlayer = player
    heading.current?.scrollIntoView({ block: 'start', behavior: 'smooth' })
    return () => {
      player.destroy()
      if (window.hivecastPlayer === player) delete window.hivecastPlayer
    }
  }, [selection.room, cid, from, to])
  return (
    <section class="rec-stage" aria-labelledby="rec-stage-title" data-cid={cid}>
      <div class="rec-stage-head">
        <h2 id="rec-stage-title" ref={heading} tabIndex={-1}>{selection.title}</h2>
        <button type="button" class="copy" onClick={props.onClose}>Close player</button>
      </div>
      <p class="talk-meta">{selection.room.title} · <code class="cid">{cid}</code></p>
      <div class="stage" ref={stage} />
    </section>
  )
}

function RoomRecordingsView (props: {
  room: RoomEntry
  recordings: RoomRecordings | undefined
  schedule: ScheduleResult | undefined
  relays: string[]
  playing: Selection | undefined
  onPlay: (selection: Selection) => void
}): ComponentChildren {
  const { room, recordings, schedule } = props
  const talks = schedule?.ok === true ? talksOfRoom(schedule.schedule, room) : []
  const sessions = [...recordings?.sessions ?? []].reverse()
  return (
    <section class="rec-room" data-room={room.slug} aria-labelledby={`rec-${room.slug}`}>
      <div class="rec-room-head">
        <h2 id={`rec-${room.slug}`}>{room.title}</h2>
        <a href={`./watch.html?room=${encodeURIComponent(room.slug)}`}>Watch live →</a>
      </div>
      {recordings === undefined && <p class="loading">Asking the relays…</p>}
      {recordings !== undefined && recordings.answered === 0 && <p class="muted">No relay that carries this room answered; trying again every {POLL_MS / 1000} s.</p>}
      {recordings !== undefined && recordings.answered > 0 && sessions.length === 0 && <p class="muted">Nothing recorded yet. A live session appears here a few minutes after it starts.</p>}
      {sessions.map(session => <SessionView key={session.session} {...props} session={session} talks={talks} />)}
      {recordings !== undefined && recordings.refused > 0 && (
        <p class="config-note">{recordings.refused} {recordings.refused === 1 ? 'entry was' : 'entries were'} not shown: not signed by this room's key.</p>
      )}
    </section>
  )
}

function SessionView (props: { room: RoomEntry, session: SessionRecording, talks: Talk[], relays: string[], playing: Selection | undefined, onPlay: (selection: Selection) => void }): ComponentChildren {
  const { room, session, relays } = props
  const cut = talksInSession(session, props.talks)
  const when = new Date(session.started).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })
  const gatewayRelay = session.pinnedOn[0] ?? relays[0]!
  return (
    <article class="session" data-session={session.session} data-cid={session.cid}>
      <header class="session-head">
        <h3>Session of {when}</h3>
        <span class={`tag ${session.final ? 'tag-final' : 'tag-growing'}`}>{session.final ? 'Complete' : 'Recording in progress'}</span>
      </header>
      <p class="talk-meta">
        {formatTime(session.started)}–{formatTime(session.ended)} · {formatDuration(session.duration * 1000)} · {session.segments} segments ·
        pinned on {session.pinnedOn.length} of {relays.length} {relays.length === 1 ? 'relay' : 'relays'}
      </p>
      <ul class="rec-list">
        {cut.talks.map(item => (
          <RecordingItem
            key={`${item.talk.start}-${item.talk.title}`}
            kind="talk"
            itemKey={String(item.talk.start)}
            title={item.talk.title}
            meta={`${formatTime(item.from)}–${formatTime(item.to)}${item.talk.persons.length > 0 ? ` · ${item.talk.persons.join(', ')}` : ''} · ${streamingLabel(item.talk)}`}
            duration={item.to - item.from}
            partial={item.partial ? (session.final ? 'The session covers only part of this talk.' : 'Still being recorded.') : undefined}
            room={room}
            session={session}
            recording={{ cid: session.cid, from: item.from, to: item.to }}
            gatewayRelay={gatewayRelay}
            relays={relays}
            playing={props.playing}
            onPlay={props.onPlay}
          />
        ))}
        <RecordingItem
          kind="session"
          itemKey="session"
          title={cut.talks.length === 0 ? 'The whole session' : 'The whole session (every talk)'}
          meta={cut.talks.length === 0 ? 'No talk of the schedule falls in this session.' : `${cut.talks.length} ${cut.talks.length === 1 ? 'talk' : 'talks'}`}
          duration={session.duration * 1000}
          partial={undefined}
          room={room}
          session={session}
          recording={{ cid: session.cid }}
          gatewayRelay={gatewayRelay}
          relays={relays}
          playing={props.playing}
          onPlay={props.onPlay}
        />
      </ul>
      {cut.skipped > 0 && <p class="fine">{cut.skipped} {cut.skipped === 1 ? 'talk' : 'talks'} in this session {cut.skipped === 1 ? 'is' : 'are'} not listed: the schedule marks {cut.skipped === 1 ? 'it' : 'them'} as not recorded.</p>}
    </article>
  )
}

function RecordingItem (props: {
  kind: 'talk' | 'session'
  /** Tells the talks of one session apart. */
  itemKey: string
  title: string
  meta: string
  duration: number
  partial: string | undefined
  room: RoomEntry
  session: SessionRecording
  recording: RecordingSelection
  gatewayRelay: string
  relays: string[]
  playing: Selection | undefined
  onPlay: (selection: Selection) => void
}): ComponentChildren {
  const { title, recording, room, session, gatewayRelay, playing } = props
  const key = `${session.session}/${props.kind === 'talk' ? props.itemKey : 'session'}`
  const isPlaying = playing?.key === key
  // The relay's own VOD playlist of the recording, for other HLS players (this page's player verifies blocks itself).
  const hls = relayUrl(gatewayRelay, relayRoutes.recordingMaster(recording.cid, recording))
  // Until a relay has pinned this CID, every relay would answer 404.
  const playable = session.pinnedOn.length > 0
  return (
    <li class={`rec-item rec-${props.kind}`} data-cid={recording.cid} data-from={recording.from} data-to={recording.to}>
      <div class="rec-main">
        <span class="talk-title">{title}</span>
        <span class="talk-meta">{props.meta} · <strong>{formatDuration(props.duration)}</strong></span>
        {props.partial !== undefined && <span class="talk-meta">{props.partial}</span>}
        {!playable && <span class="talk-meta">The relays are still fetching this recording; it plays in a moment.</span>}
        <code class="cid" title="Content address (CID) of the session's recording">{recording.cid}</code>
      </div>
      <button
        type="button"
        class="play-button"
        aria-pressed={isPlaying}
        aria-label={`Play ${title}`}
        disabled={!playable}
        onClick={() => { props.onPlay({ key, room, session, title, recording }) }}
      >{isPlaying ? 'Playing' : 'Play'}
      </button>
      <details class="pin">
        <summary>Pin this</summary>
        <Snippet label="Keep it on your IPFS node (the whole session's directory)" code={`ipfs pin add ${recording.cid}`} />
        <Snippet label="Play it in any HLS player (VLC, ffplay) from a relay" code={hls} />
        <Snippet label="The files on a relay's trustless gateway" code={relayUrl(gatewayRelay, relayRoutes.recordingFile(recording.cid, ['index.m3u8']))} />
        <Snippet label="Embed it in a page (the player element)" code={recordingElement(room, props.relays, recording)} />
      </details>
    </li>
  )
}

/** The `<hivecast-player>` snippet that plays this recording (or this talk of it) on another page. */
function recordingElement (room: RoomEntry, relays: string[], recording: RecordingSelection): string {
  const cut = `${recording.from === undefined ? '' : ` from="${recording.from}"`}${recording.to === undefined ? '' : ` to="${recording.to}"`}`
  return `<script type="module" src="${new URL('hivecast-player.js', location.href).href}"></script>\n<hivecast-player room="${room.slug}" key="${room.key}" relays="${relays.join(' ')}" recording="${recording.cid}"${cut}></hivecast-player>`
}

const root = document.getElementById('app')
if (root !== null) render(<RecordingsPage />, root)
