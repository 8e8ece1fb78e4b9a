/**
 * watch.html?room=<slug>: the player for one room, with its title, key, relays and what each relay
 * delivered, and from the schedule the talk on now and the next one. The player's handle is exposed as `window.hivecastPlayer`, a debugging and test aid:
 * `window.hivecastPlayer.stats()` returns the `PlayerStats` of the running player.
 */
import { mountPlayer } from '@hivecast/player'
import type { PlayerStats } from '@hivecast/player'
import { render } from 'preact'
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { EmbedSnippets } from './embed-snippets.tsx'
import { NowAndNext, ScheduleProblem, useNow, useSchedule } from './now-playing.tsx'
import { Notice, PageLayout } from './page-layout.tsx'
import { formatBytes } from './relay-client.ts'
import { Watching } from './room-viewers.tsx'
import { loadSiteConfig } from './site-config.ts'
import type { RoomEntry, SiteConfigResult } from './site-config.ts'
import './site.css'

function WatchPage (): ComponentChildren {
  const [result, setResult] = useState<SiteConfigResult | undefined>(undefined)
  useEffect(() => { void loadSiteConfig().then(setResult) }, [])
  const slug = new URLSearchParams(location.search).get('room') ?? ''

  if (result === undefined) return <PageLayout><p class="loading">Loading…</p></PageLayout>
  if (!result.ok) return <PageLayout><Notice title="This site is not configured">{result.message}</Notice></PageLayout>
  const room = result.config.rooms.find(entry => entry.slug === slug)
  if (room === undefined) {
    return (
      <PageLayout>
        <Notice title="Room not found">
          {slug === '' ? 'This link names no room.' : `There is no room called “${slug}” on this site.`} Pick one from the <a href="./index.html">rooms list</a>.
        </Notice>
      </PageLayout>
    )
  }
  return <PageLayout><RoomView room={room} relays={result.config.relays} schedule={result.config.schedule} /></PageLayout>
}

function RoomView (props: { room: RoomEntry, relays: string[], schedule: string | undefined }): ComponentChildren {
  const { room, relays } = props
  const schedule = useSchedule(props.schedule)
  const now = useNow(30_000)
  const [stats, setStats] = useState<PlayerStats | undefined>(undefined)
  const stage = useRef<HTMLDivElement>(null)
  useEffect(() => {
    document.title = `${room.title} · Hivecast`
    const element = stage.current
    if (element === null) return
    const update = (event: Event): void => { setStats((event as CustomEvent<PlayerStats>).detail) }
    element.addEventListener('hivecast:stats', update)
    // mountPlayer rather than <Player>: its handle's destroy() removes the player, as a test expects.
    // `?p2p=off` keeps this viewer off the peer-to-peer swarm (relays only), and `?latency=smoothest`
    // plays whole segments further from the edge, as the embed attributes do.
    const query = new URLSearchParams(location.search)
    const p2p = query.get('p2p') === 'off' ? 'off' : 'on'
    const latency = query.get('latency') === 'smoothest' ? 'smoothest' : 'lowest'
    const player = mountPlayer(element, { room: room.slug, relays, roomKey: room.key, p2p, latency })
    window.hivecastPlayer = player
    return () => {
      element.removeEventListener('hivecast:stats', update)
      player.destroy()
      if (window.hivecastPlayer === player) delete window.hivecastPlayer
    }
  }, [room, relays])
  const total = Object.values(stats?.bytesBySource ?? {}).reduce((sum, bytes) => sum + bytes, 0)
  // Every source that is not one of the relays is a fellow viewer (peer-to-peer).
  const fromViewers = Object.entries(stats?.bytesBySource ?? {}).filter(([source]) => !relays.includes(source)).reduce((sum, [, bytes]) => sum + bytes, 0)

  return (
    <article class="watch">
      <h1>{room.title}</h1>
      <Watching relays={relays} slug={room.slug} />
      <div class="stage" ref={stage} />
      <NowAndNext schedule={schedule} room={room} now={now} />
      <ScheduleProblem schedule={schedule} />
      <p class="watch-links"><a href={`./recordings.html?room=${encodeURIComponent(room.slug)}`}>Recorded talks of this room →</a></p>
      <section class="details" aria-label="Stream details">
        <dl>
          <dt>Room</dt><dd>{room.slug}</dd>
          <dt>Room key</dt><dd><code class="key">{room.key}</code></dd>
          <dt>Segments</dt>
          <dd>{stats?.segmentsVerified ?? 0} verified · {stats?.segmentsRejected ?? 0} rejected</dd>
        </dl>
        <h2>Relays</h2>
        <table class="relays">
          <thead><tr><th scope="col">Relay</th><th scope="col">Delivered</th><th scope="col">Share</th></tr></thead>
          <tbody>
            {relays.map(relay => {
              const bytes = stats?.bytesBySource[relay] ?? 0
              return (
                <tr key={relay}>
                  <td><code>{relay}</code></td>
                  <td>{formatBytes(bytes)}</td>
                  <td>{total === 0 ? '–' : `${Math.round(bytes * 100 / total)} %`}</td>
                </tr>
              )
            })}
            <tr class="from-viewers">
              <td>Other viewers (peer-to-peer)</td>
              <td>{formatBytes(fromViewers)}</td>
              <td>{total === 0 ? '–' : `${Math.round(fromViewers * 100 / total)} %`}</td>
            </tr>
          </tbody>
        </table>
      </section>
      <EmbedSnippets room={room} relays={relays} />
    </article>
  )
}

const root = document.getElementById('app')
if (root !== null) render(<WatchPage />, root)
