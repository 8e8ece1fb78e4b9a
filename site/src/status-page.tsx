/**
 * status.html: the network right now, refreshed every few seconds. Relays come from every known relay's
 * `/directory.json` (records checked against their relay's signature) plus the relays config.json names;
 * each relay's own `/status` gives bytes served and per-room segments; each room's origin (config.json
 * `origins`) gives its health. Charts keep the last minutes in the page's memory.
 */
import { render } from 'preact'
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import type { DirectoryRecord } from '@hivecast/shared'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import { Notice, PageLayout } from './page-layout.tsx'
import { fetchJson, fetchOriginStatus, fetchRelayStatus, formatBytes, LIVE_WITHIN_MS, parseDirectory } from './relay-client.ts'
import type { OriginStatusView, RelayStatusView } from './relay-client.ts'
import { roomViewers } from './room-viewers.tsx'
import { loadSiteConfig } from './site-config.ts'
import type { SiteConfig, SiteConfigResult } from './site-config.ts'
import { Sparkline } from './sparkline.tsx'
import type { Sample } from './sparkline.tsx'
import './site.css'

const POLL_MS = 3_000
const HISTORY_MS = 5 * 60_000

interface RelayRow {
  url: string
  /** From the directory, when a relay lists it. */
  record: DirectoryRecord | undefined
  /** From the relay itself; undefined when it does not answer. */
  status: RelayStatusView | undefined
}

interface Snapshot {
  at: number
  relays: RelayRow[]
  origins: Array<{ room: string, url: string, status: OriginStatusView | undefined }>
}

function StatusPage (): ComponentChildren {
  const [result, setResult] = useState<SiteConfigResult | undefined>(undefined)
  useEffect(() => { void loadSiteConfig().then(setResult) }, [])
  if (result === undefined) return <PageLayout><p class="loading">Loading…</p></PageLayout>
  if (!result.ok) return <PageLayout><Notice title="This site is not configured">{result.message}</Notice></PageLayout>
  return <PageLayout><NetworkStatus config={result.config} /></PageLayout>
}

function normalise (url: string): string {
  return url.replace(/\/+$/, '')
}

async function takeSnapshot (config: SiteConfig, known: Set<string>): Promise<Snapshot> {
  const at = Date.now()
  const records = new Map<string, DirectoryRecord>()
  const directories = await Promise.all([...known].map(async url => await parseDirectory(await fetchJson(relayUrl(url, relayRoutes.directory())))))
  for (const record of directories.flat()) {
    const url = normalise(record.url)
    const seen = records.get(url)
    if (seen === undefined || seen.timestamp < record.timestamp) records.set(url, record)
  }
  // Relays the directory names are polled from now on, as long as the page is open.
  for (const url of records.keys()) known.add(url)
  const urls = [...new Set([...config.relays, ...records.keys()])]
  const statuses = await Promise.all(urls.map(async url => await fetchRelayStatus(url)))
  const origins = await Promise.all(config.origins.map(async origin => ({ ...origin, status: await fetchOriginStatus(origin.url) })))
  return { at, relays: urls.map((url, i) => ({ url, record: records.get(url), status: statuses[i] })), origins }
}

function NetworkStatus (props: { config: SiteConfig }): ComponentChildren {
  const { config } = props
  const [snapshot, setSnapshot] = useState<Snapshot | undefined>(undefined)
  const [history, setHistory] = useState<{ bytes: Sample[], viewers: Sample[] }>({ bytes: [], viewers: [] })
  useEffect(() => {
    let stopped = false
    let running = false
    const known = new Set(config.relays)
    const poll = async (): Promise<void> => {
      if (running) return
      running = true
      const next = await takeSnapshot(config, known)
      running = false
      if (stopped) return
      setSnapshot(next)
      const live = next.relays.filter(r => r.record !== undefined)
      setHistory(h => {
        const cutoff = next.at - HISTORY_MS
        return {
          bytes: [...h.bytes.filter(s => s.at >= cutoff), { at: next.at, value: live.reduce((sum, r) => sum + (r.record?.load.bytesPerSecond ?? 0), 0) }],
          viewers: [...h.viewers.filter(s => s.at >= cutoff), { at: next.at, value: config.rooms.reduce((sum, room) => sum + (roomViewers(next.relays.map(r => r.status), room.slug) ?? 0), 0) }]
        }
      })
    }
    void poll()
    const timer = setInterval(() => { void poll() }, POLL_MS)
    return () => { stopped = true; clearInterval(timer) }
  }, [config])

  if (snapshot === undefined) return <><h1>Network status</h1><p class="loading">Asking the relays…</p></>
  const answering = snapshot.relays.filter(r => r.status !== undefined)
  const totalServed = answering.reduce((sum, r) => sum + (r.status?.bytesServed ?? 0), 0)
  // What the swarm's viewers report receiving (each reports to the relays it is linked to, so the
  // sums count a viewer more than once; the share between relays and peers is what they tell).
  const received = answering.flatMap(r => Object.values(r.status?.swarmReceived ?? {}))
  const fromPeers = received.reduce((sum, r) => sum + r.peers, 0)
  const fromRelays = received.reduce((sum, r) => sum + r.relays, 0)
  const peerShare = fromPeers + fromRelays > 0 ? fromPeers / (fromPeers + fromRelays) : undefined
  return (
    <>
      <h1>Network status</h1>
      <p class="lede" aria-live="polite">
        {answering.length} of {snapshot.relays.length} {snapshot.relays.length === 1 ? 'relay' : 'relays'} answering ·
        updated <time dateTime={new Date(snapshot.at).toISOString()}>{new Date(snapshot.at).toLocaleTimeString()}</time>, every {POLL_MS / 1000} s
      </p>
      <div class="spark-row">
        <Sparkline samples={history.bytes} spanMs={HISTORY_MS} label="Relays serving" format={value => `${formatBytes(value)}/s`} />
        <Sparkline samples={history.viewers} spanMs={HISTORY_MS} label="Viewers" format={value => String(Math.round(value))} />
      </div>

      <h2>Who delivers the video</h2>
      <div class="spark share" data-share="relays">
        <p class="talk-meta">
          <strong>Relays (HTTP): {formatBytes(totalServed)}</strong> served by the {answering.length} answering {answering.length === 1 ? 'relay' : 'relays'} since they started.
          {' '}
          {peerShare === undefined
            ? <><strong>Viewers to each other (peer-to-peer): nothing reported yet.</strong> Viewers in the peer-to-peer swarm report what they received when they ask a relay for fellow viewers.</>
            : <span data-peer-share={peerShare.toFixed(3)}><strong>Viewers to each other (peer-to-peer): {Math.round(peerShare * 100)} %</strong> of the segment bytes the swarm's viewers received came from fellow viewers ({formatBytes(fromPeers)} of {formatBytes(fromPeers + fromRelays)}, as they report it).</span>}
          {' '}The relay share below is of relay bytes only.
        </p>
      </div>

      <h2>Rooms</h2>
      <div class="table-wrap">
        <table class="status-table origins">
          <thead><tr><th scope="col">Room</th><th scope="col">Origin</th><th scope="col">Input</th><th scope="col">Segments</th><th scope="col">Relays live</th><th scope="col">Viewers</th><th scope="col">Sharing peer-to-peer</th></tr></thead>
          <tbody>
            {config.rooms.map(room => {
              const origin = snapshot.origins.find(o => o.room === room.slug)
              const health = originHealth(origin)
              const relaysLive = answering.filter(r => snapshot.at - (r.status?.rooms[room.slug]?.storedAt ?? 0) < LIVE_WITHIN_MS).length
              const viewers = roomViewers(answering.map(r => r.status), room.slug)
              const sharing = answering.reduce((sum, r) => sum + (r.status?.swarmViewers[room.slug] ?? 0), 0)
              return (
                <tr key={room.slug} data-room={room.slug}>
                  <th scope="row">{room.title}</th>
                  <td><span class={`dot dot-${health.tone}`} aria-hidden="true" />{health.text}</td>
                  <td>{origin?.status?.input ?? '–'}</td>
                  <td>{origin?.status?.segmentsPublished ?? '–'}</td>
                  <td>{relaysLive}</td>
                  <td data-viewers={viewers ?? ''}>{viewers ?? '–'}</td>
                  <td>{sharing}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>

      <h2>Relays</h2>
      <div class="table-wrap">
        <table class="status-table relay-table">
          <thead><tr><th scope="col">Relay</th><th scope="col">State</th><th scope="col">Rooms</th><th scope="col">Viewers</th><th scope="col">Load</th><th scope="col">Served</th><th scope="col">Share</th></tr></thead>
          <tbody>
            {snapshot.relays.map(row => {
              const state = relayState(row)
              const served = row.status?.bytesServed
              return (
                <tr key={row.url} data-relay={row.url} data-state={state.key}>
                  <th scope="row"><code>{row.url}</code>{row.record?.origin === true && <span class="tag">origin-linked</span>}</th>
                  <td><span class={`dot dot-${state.tone}`} aria-hidden="true" />{state.text}</td>
                  <td>{row.record?.rooms.join(', ') ?? (row.status === undefined ? '–' : Object.keys(row.status.rooms).join(', '))}</td>
                  <td>{row.status === undefined ? '–' : Object.values(row.status.rooms).reduce((sum, r) => sum + r.viewers.local, 0)}</td>
                  <td>{row.record === undefined ? '–' : `${formatBytes(row.record.load.bytesPerSecond)}/s · ${row.record.load.requestsPerSecond} req/s`}</td>
                  <td>{served === undefined ? '–' : formatBytes(served)}</td>
                  <td>{served === undefined || totalServed === 0 ? '–' : `${Math.round(served * 100 / totalServed)} %`}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
      <p class="fine">
        Viewers: each player sends a random token per page session, so a viewer counts once in a room however many
        relays it asks; a relay's column counts the tokens it saw itself. Share: each relay's part of all bytes the answering relays have served since they started. Relays publish a signed
        record every 5 s; one silent for 15 s leaves the directory. Want to help? <a href="./relay.html">Run a relay</a>.
      </p>
    </>
  )
}

function relayState (row: RelayRow): { key: string, text: string, tone: string } {
  if (row.status !== undefined && row.record !== undefined) return { key: 'up', text: 'Up', tone: 'ok' }
  if (row.status !== undefined) return { key: 'unlisted', text: 'Up, not listed yet', tone: 'warn' }
  if (row.record !== undefined) return { key: 'down', text: 'Down, still listed', tone: 'bad' }
  return { key: 'down', text: 'Down', tone: 'bad' }
}

function originHealth (origin: { status: OriginStatusView | undefined } | undefined): { text: string, tone: string } {
  if (origin === undefined) return { text: 'not listed in config.json', tone: 'none' }
  if (origin.status === undefined) return { text: 'not answering', tone: 'bad' }
  if (!origin.status.ffmpegRunning) return { text: 'encoder stopped', tone: 'bad' }
  if (origin.status.input !== 'receiving') return { text: 'waiting for signal', tone: 'warn' }
  return { text: 'healthy', tone: 'ok' }
}

const root = document.getElementById('app')
if (root !== null) render(<StatusPage />, root)
