/**
 * @packageDocumentation
 * The Hivecast volunteer relay: it dials a room's origin, accepts only announcements signed by the
 * room's keys, fetches every announced segment over bitswap and checks it against its CID, and serves
 * the room over HTTP as HLS (`/hls/<room>/master.m3u8`) and as an IPFS trustless gateway limited to
 * those segments (`/ipfs/<cid>`). Relays connect to each other (`peers`, and relays of the same rooms
 * found in the signed directory they all publish), so a segment comes from whichever peer holds it;
 * `/directory.json` lists the live relays and `/metrics` serves Prometheus text. With `archive` it pins
 * the rooms' recordings and plays them back as VOD (`/hls/recordings/<cid>/master.m3u8?from=&to=`) and
 * CAR (`/ipfs/<cid>?format=car`). Options come from code, flags or a YAML file (`loadRelayConfig`);
 * TLS, per-IP connection and upload-bandwidth limits are its own. Command line: `hivecast-relay --help`;
 * running one for real: this package's README.md.
 *
 * @example
 * ```ts
 * import { startRelay } from '@hivecast/relay'
 *
 * const relay = await startRelay({
 *   origins: ['/ip4/127.0.0.1/tcp/9090/p2p/12D3KooW...'],
 *   rooms: ['janson'],
 *   dataDir: './.data/relay',
 *   http: { host: '127.0.0.1', port: 0 }
 * })
 * console.log(`${relay.url}hls/janson/master.m3u8`)
 * await relay.stop()
 * ```
 */
export { startRelay } from './relay.ts'
export type { Relay, RelayStatus } from './relay.ts'
export type { RelayOptions } from './relay-options.ts'
export { RELAY_DEFAULTS, RELAY_OPTION_TABLE, validateRelayOptions } from './relay-option-table.ts'
export type { RelayOptionSpec } from './relay-option-table.ts'
export type { DialScope } from './peer-link.ts'
export { evictionOrder } from './disk-quota.ts'
export { loadRelayConfig, parseRelayConfig } from './relay-config.ts'
export type { RelayConfig } from './relay-config.ts'
export type { RoomOption, TlsFiles } from './relay-options.ts'
export type { P2PTrafficTotals } from '@hivecast/shared/node'
export type { DirectoryEntry, DirectoryRejectReason } from './directory.ts'
export type { Health } from './gateway.ts'
export type { WindowJson } from '@hivecast/shared'
export type { HeldSegment, RejectReason, RenditionStatus, RoomStatus } from './room-follower.ts'
