/**
 * embed.html?room=<slug>: only the player, filling the frame, for `<iframe>` embedding. Relays and the
 * room key come from the site's config.json, so an embedding page cannot point viewers elsewhere. Like
 * the watch page it exposes `window.hivecastPlayer`; the player's `hivecast:state` and
 * `hivecast:stats` events are also posted to the embedding page (`{ type, detail }` messages).
 */
import { mountPlayer } from '@hivecast/player'
import { render } from 'preact'
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { loadSiteConfig } from './site-config.ts'
import type { RoomEntry, SiteConfigResult } from './site-config.ts'
import './embed.css'

function EmbedPage (): ComponentChildren {
  const [result, setResult] = useState<SiteConfigResult | undefined>(undefined)
  useEffect(() => { void loadSiteConfig().then(setResult) }, [])
  const slug = new URLSearchParams(location.search).get('room') ?? ''
  if (result === undefined) return <p class="embed-message" role="status">Loading…</p>
  if (!result.ok) return <p class="embed-message" role="alert">This player is not configured: {result.message}</p>
  const room = result.config.rooms.find(entry => entry.slug === slug)
  if (room === undefined) {
    return <p class="embed-message" role="alert">{slug === '' ? 'The embed link names no room (add ?room=<name>).' : `There is no room called “${slug}” on this site.`}</p>
  }
  return <EmbeddedPlayer room={room} relays={result.config.relays} />
}

function EmbeddedPlayer (props: { room: RoomEntry, relays: string[] }): ComponentChildren {
  const stage = useRef<HTMLDivElement>(null)
  const { room, relays } = props
  useEffect(() => {
    document.title = `${room.title} · Hivecast`
    const element = stage.current
    if (element === null) return
    const forward = (event: Event): void => {
      // Only state and numbers go out; any page may embed a public stream.
      if (window.parent !== window) window.parent.postMessage({ type: event.type, detail: (event as CustomEvent).detail }, '*')
    }
    element.addEventListener('hivecast:state', forward)
    element.addEventListener('hivecast:stats', forward)
    const query = new URLSearchParams(location.search)
    const p2p = query.get('p2p') === 'off' ? 'off' : 'on'
    const latency = query.get('latency') === 'smoothest' ? 'smoothest' : 'lowest'
    const player = mountPlayer(element, { room: room.slug, relays, roomKey: room.key, p2p, latency })
    window.hivecastPlayer = player
    return () => {
      element.removeEventListener('hivecast:state', forward)
      element.removeEventListener('hivecast:stats', forward)
      player.destroy()
      if (window.hivecastPlayer === player) delete window.hivecastPlayer
    }
  }, [room, relays])
  return <div class="embed-stage" ref={stage} />
}

const root = document.getElementById('app')
if (root !== null) render(<EmbedPage />, root)
