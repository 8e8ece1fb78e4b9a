/**
 * `GET /metrics`: the relay's numbers in Prometheus text, read from the live counters at scrape time
 * (one registry per relay, so several relays in one process never mix their numbers).
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { RelayStatus } from './relay-status.ts'
import type { Gateway } from './gateway.ts'

export interface MetricsSource {
  gateway: Gateway
  status: () => RelayStatus
}

/** Counters kept elsewhere as plain numbers, mirrored at scrape time. */
function mirror (counter: Counter<string>, values: Array<[Record<string, string>, number]>): void {
  counter.reset()
  for (const [labels, value] of values) counter.inc(labels, value)
}

export function createMetrics (source: MetricsSource): Registry {
  const registry = new Registry()
  const registers = [registry]
  const { gateway } = source
  new Counter({
    name: 'hivecast_relay_http_requests_total',
    help: 'HTTP requests answered, by status code',
    labelNames: ['code'],
    registers,
    collect () { mirror(this, [...gateway.responses].map(([code, n]) => [{ code: String(code) }, n])) }
  })
  new Counter({
    name: 'hivecast_relay_bytes_served_total',
    help: 'Response body bytes sent, by source (http: the gateway)',
    labelNames: ['source'],
    registers,
    collect () { mirror(this, [[{ source: 'http' }, gateway.bytesServed]]) }
  })
  new Counter({
    name: 'hivecast_relay_p2p_bytes_total',
    help: 'Bytes over libp2p connections (all peers and protocols), by direction: in or out',
    labelNames: ['direction'],
    registers,
    collect () {
      const { p2p } = source.status()
      mirror(this, [[{ direction: 'in' }, p2p.bytesIn], [{ direction: 'out' }, p2p.bytesOut]])
    }
  })
  new Counter({
    name: 'hivecast_relay_bitswap_blocks_total',
    help: 'Blocks by direction: sent to peers by bitswap, or received from peers by any path (segment push or bitswap)',
    labelNames: ['direction'],
    registers,
    collect () {
      const { p2p } = source.status()
      mirror(this, [[{ direction: 'sent' }, p2p.blocksSent], [{ direction: 'received' }, p2p.blocksReceived]])
    }
  })
  new Counter({
    name: 'hivecast_relay_segment_push_total',
    help: 'Segment push offers: received (taken and verified), declined, rejected (bytes not matching the CID; the sender is refused for 10 min), offered to children, sent (taken by a child), unreachable (a child that could not be reached; its children got the offer), slow (a push over its time at 8 Mbit/s), demoted (this relay became a leaf after slow pushes), keptInTree (slow pushes with a third of the tree leaves already: this relay stayed in it)',
    labelNames: ['result'],
    registers,
    collect () { mirror(this, Object.entries(source.status().push).map(([result, n]) => [{ result }, n])) }
  })
  new Counter({
    name: 'hivecast_relay_block_requests_total',
    help: '/ipfs/<cid> requests: hit (held here and served) or miss (not held, 404)',
    labelNames: ['result'],
    registers,
    collect () { mirror(this, [[{ result: 'hit' }, gateway.hits], [{ result: 'miss' }, gateway.misses]]) }
  })
  new Counter({
    name: 'hivecast_relay_rate_limited_total',
    help: 'Requests refused with 429 by the per-IP request limit',
    registers,
    collect () { mirror(this, [[{}, gateway.rateLimited]]) }
  })
  new Counter({
    name: 'hivecast_relay_connections_refused_total',
    help: 'HTTP connections answered 503 by the per-IP connection limit',
    registers,
    collect () { mirror(this, [[{}, gateway.connectionsRefused]]) }
  })
  new Counter({
    name: 'hivecast_relay_announcements_rejected_total',
    help: 'Room announcements refused, by room and reason',
    labelNames: ['room', 'reason'],
    registers,
    collect () {
      mirror(this, Object.entries(source.status().rooms).flatMap(([room, r]) =>
        Object.entries(r.rejected).map(([reason, n]): [Record<string, string>, number] => [{ room, reason }, n])))
    }
  })
  new Counter({
    name: 'hivecast_relay_directory_rejected_total',
    help: 'Directory records refused, by reason',
    labelNames: ['reason'],
    registers,
    collect () { mirror(this, Object.entries(source.status().directoryRejected).map(([reason, n]) => [{ reason }, n])) }
  })
  new Counter({
    name: 'hivecast_relay_viewer_tokens_refused_total',
    help: 'Viewer tokens not counted: malformed, over --viewers-per-address, or the table full',
    labelNames: ['reason'],
    registers,
    collect () { mirror(this, Object.entries(source.status().viewerTokensRefused).map(([reason, n]) => [{ reason }, n])) }
  })
  new Counter({
    name: 'hivecast_relay_viewer_counts_rejected_total',
    help: 'Other relays\' viewer count messages dropped, by reason',
    labelNames: ['reason'],
    registers,
    collect () { mirror(this, Object.entries(source.status().viewerCountRejected).map(([reason, n]) => [{ reason }, n])) }
  })
  new Gauge({
    name: 'hivecast_room_viewers',
    help: 'Viewers of the room over all its relays, each viewer token once, seen within --viewer-ttl',
    labelNames: ['room'],
    registers,
    collect () {
      this.reset()
      for (const [room, r] of Object.entries(source.status().rooms)) this.set({ room }, r.viewers.network)
    }
  })
  new Gauge({
    name: 'hivecast_relay_room_viewers',
    help: 'Viewers of the room whose tokens this relay saw within --viewer-ttl',
    labelNames: ['room'],
    registers,
    collect () {
      this.reset()
      for (const [room, r] of Object.entries(source.status().rooms)) this.set({ room }, r.viewers.local)
    }
  })
  new Counter({
    name: 'hivecast_relay_segments_evicted_total',
    help: 'Live segments deleted to stay under the disk quota',
    registers,
    collect () { mirror(this, [[{}, source.status().disk.evicted]]) }
  })
  new Gauge({
    name: 'hivecast_relay_segments_held',
    help: 'Segments whose verified blocks this relay holds, by room and rendition',
    labelNames: ['room', 'rendition'],
    registers,
    collect () {
      this.reset()
      for (const [room, r] of Object.entries(source.status().rooms)) {
        for (const [rendition, s] of Object.entries(r.renditions)) this.set({ room, rendition }, s.held)
      }
    }
  })
  new Counter({
    name: 'hivecast_relay_segment_gaps_total',
    help: 'Announced segments whose blocks could not be had, listed as gaps, by room and rendition',
    labelNames: ['room', 'rendition'],
    registers,
    collect () {
      mirror(this, Object.entries(source.status().rooms).flatMap(([room, r]) =>
        Object.entries(r.renditions).map(([rendition, s]): [Record<string, string>, number] => [{ room, rendition }, s.gaps])))
    }
  })
  new Counter({
    name: 'hivecast_relay_segment_gaps_filled_total',
    help: 'Gaps fetched later after all (a squeezed origin uplink, a short partition) and listed since, by room and rendition',
    labelNames: ['room', 'rendition'],
    registers,
    collect () {
      mirror(this, Object.entries(source.status().rooms).flatMap(([room, r]) =>
        Object.entries(r.renditions).map(([rendition, s]): [Record<string, string>, number] => [{ room, rendition }, s.filled])))
    }
  })
  new Gauge({
    name: 'hivecast_relay_segments_behind',
    help: 'Announced segments newer than the newest stored one: lag behind the live edge, in segments',
    labelNames: ['room', 'rendition'],
    registers,
    collect () {
      this.reset()
      for (const [room, r] of Object.entries(source.status().rooms)) {
        for (const [rendition, s] of Object.entries(r.renditions)) this.set({ room, rendition }, s.behind)
      }
    }
  })
  new Gauge({
    name: 'hivecast_relay_seconds_since_stored',
    help: 'Seconds since the newest segment of the room was stored: lag behind the live edge, in time',
    labelNames: ['room'],
    registers,
    collect () {
      this.reset()
      const now = Date.now()
      for (const [room, r] of Object.entries(source.status().rooms)) {
        const newest = Math.max(...Object.values(r.renditions).map(s => s.storedAt ?? 0))
        if (newest > 0) this.set({ room }, (now - newest) / 1000)
      }
    }
  })
  new Gauge({
    name: 'hivecast_relay_disk_bytes',
    help: 'Bytes of segments held, and the quota (0: none)',
    labelNames: ['kind'],
    registers,
    collect () {
      const { disk } = source.status()
      this.set({ kind: 'held' }, disk.heldBytes)
      this.set({ kind: 'quota' }, disk.quotaBytes ?? 0)
    }
  })
  new Gauge({ name: 'hivecast_relay_peers', help: 'Connected libp2p peers', registers, collect () { this.set(source.status().peers) } })
  new Gauge({ name: 'hivecast_relay_viewers', help: 'Distinct client addresses that fetched a playlist or segment in the last 30 s', registers, collect () { this.set(gateway.viewers()) } })
  new Gauge({ name: 'hivecast_relay_directory_relays', help: 'Live relays in the directory, this one included', registers, collect () { this.set(source.status().directory) } })
  return registry
}
