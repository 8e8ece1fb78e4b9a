/**
 * A room's viewers as the site shows them: each relay reports the room's network-wide count (every
 * viewer token once, merged from the relays' signed counts), so the figure is the largest any
 * answering relay gives — never a sum, which would count a viewer once per relay it asked.
 */
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { fetchRelayStatus } from './relay-client.ts'
import type { RelayStatusView } from './relay-client.ts'

/** How often the watch page asks the relays. */
const POLL_MS = 10_000

/** The room's viewers from the relays' statuses; undefined when no answering relay follows it. */
export function roomViewers (statuses: ReadonlyArray<RelayStatusView | undefined>, slug: string): number | undefined {
  const counts = statuses.flatMap(status => {
    const room = status?.rooms[slug]
    return room === undefined ? [] : [room.viewers.network]
  })
  return counts.length === 0 ? undefined : Math.max(...counts)
}

/** "N watching", asked of the relays every POLL_MS; nothing until a relay answers. */
export function Watching (props: { relays: string[], slug: string }): ComponentChildren {
  const { relays, slug } = props
  const [viewers, setViewers] = useState<number | undefined>(undefined)
  useEffect(() => {
    let stopped = false
    const poll = async (): Promise<void> => {
      const statuses = await Promise.all(relays.map(async relay => await fetchRelayStatus(relay)))
      if (!stopped) setViewers(roomViewers(statuses, slug))
    }
    void poll()
    const timer = setInterval(() => { void poll() }, POLL_MS)
    return () => { stopped = true; clearInterval(timer) }
  }, [relays, slug])
  if (viewers === undefined) return null
  return <p class="watching" data-watching={viewers} aria-live="polite">{viewers} watching</p>
}
