/**
 * The stats panel: where the bytes came from (each relay and other viewers, as shares), what was verified and
 * rejected, the buffer, the bitrate and the latency behind live. Plain text in a description list,
 * so a screen reader reads it as it reads the rest of the page.
 */
import { h } from 'preact'
import type { ComponentChildren } from 'preact'
import type { PlayerStats } from './segment-ledger.ts'
import { PEERS_SOURCE } from './segment-loader.ts'

export function StatsPanel (props: { stats: PlayerStats, id: string }): ComponentChildren {
  const { stats } = props
  const total = Object.values(stats.bytesBySource).reduce((sum, bytes) => sum + bytes, 0)
  const sources = Object.entries(stats.bytesBySource).sort((a, b) => b[1] - a[1])
  const row = (term: string, value: ComponentChildren): ComponentChildren[] => [h('dt', null, term), h('dd', null, value)]
  return h('section', { class: 'hc-stats', id: props.id, 'aria-label': 'Playback statistics' },
    h('dl', null,
      row('Behind live', formatLatency(stats.latencyMs)),
      row('Buffer', `${stats.bufferSeconds.toFixed(1)} s`),
      row('Rendition', stats.rendition === null ? '–' : `${stats.rendition}${stats.auto ? ' (auto)' : ''}`),
      row('Bitrate', stats.bitrate === null ? '–' : formatBits(stats.bitrate)),
      row('Bandwidth', stats.bandwidthEstimate === null ? '–' : formatBits(stats.bandwidthEstimate)),
      row('Segments', `${stats.segmentsVerified} verified · ${stats.segmentsRejected} rejected`),
      row('Announcements', stats.keyChecked
        ? `${stats.announcementsVerified} signed by the room key · ${stats.announcementsRefused} refused · ${stats.entriesRejected} unsigned entries dropped`
        : 'not checked (no room key given)'),
      row('Hashing', stats.hashing === 'js' ? 'JavaScript SHA-256 (no WebCrypto on this page)' : 'WebCrypto SHA-256'),
      row('Other viewers', peersLine(stats))
    ),
    h('p', { class: 'hc-stats-title' }, 'Bytes by source'),
    sources.length === 0
      ? h('p', null, 'Nothing received yet.')
      : h('ul', { class: 'hc-sources' }, sources.map(([source, bytes]) => h('li', { key: source },
        h('span', { class: 'hc-source' }, source === PEERS_SOURCE ? 'other viewers (WebRTC)' : source),
        h('span', null, ` ${Math.round(bytes * 100 / Math.max(1, total))} % · ${formatBytes(bytes)}`))))
  )
}

function peersLine (stats: PlayerStats): string {
  if (stats.p2p === 'off') return 'not shared (peer-to-peer off)'
  if (stats.p2p === 'starting') return 'connecting…'
  if (stats.p2p === 'unavailable') return 'unavailable: no relay offers browsers a way in, relays only'
  const { peers, uploadedBytes, rejectedPeers, benchedPeers } = stats.peers
  return `${peers} connected · ${formatBytes(uploadedBytes)} sent to them${rejectedPeers > 0 ? ` · ${rejectedPeers} dropped for bad bytes` : ''}${benchedPeers > 0 ? ` · ${benchedPeers} benched for stalling` : ''}`
}

export function formatLatency (ms: number | null): string {
  return ms === null ? '–' : `${(Math.max(0, ms) / 1000).toFixed(1)} s`
}

function formatBits (bits: number): string {
  return bits >= 1_000_000 ? `${(bits / 1_000_000).toFixed(2)} Mb/s` : `${Math.round(bits / 1000)} kb/s`
}

function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
