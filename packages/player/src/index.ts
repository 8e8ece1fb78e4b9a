/**
 * @packageDocumentation
 * The Hivecast player: hls.js in a small Preact component, with loaders that fetch from a list of
 * relays, fail over between them, and hand the decoder only segments whose SHA-256 matches a verified
 * CID. hls.js reads only playlists the player writes itself from verified data: the relays' signed
 * windows (live) or a recording's blocks checked from its CID down. Browser-only.
 *
 * The player's root element dispatches `hivecast:state` (`detail: { state, message }`) and
 * `hivecast:stats` (`detail: PlayerStats`, after every segment); both bubble and leave shadow roots.
 * Given the room's key, the player plays only segments announced with its signature (the envelopes of
 * the relays' `/rooms/<room>/window.json`). Unless `p2p: 'off'`, it also shares
 * verified segments with other viewers of the room over WebRTC (a lazily loaded chunk; see README).
 *
 * @example
 * ```ts
 * import { mountPlayer } from '@hivecast/player'
 *
 * const player = mountPlayer(document.querySelector('#stage')!, {
 *   room: 'janson',
 *   relays: ['https://relay-a.example.org', 'https://relay-b.example.org']
 * })
 * document.addEventListener('hivecast:state', event => console.log(event.detail.state))
 * console.log(player.stats().bytesBySource)
 * player.destroy()
 * ```
 *
 * In a Preact app, render `<Player room="janson" relays={[...]} onHandle={handle => ...} />`. For any
 * other page there is the `<hivecast-player room key relays>` custom element (`defineHivecastPlayer()`,
 * or load the `hivecast-player.js` module the site builds, which defines it).
 */
export { mountPlayer } from './mount-player.ts'
export { Player } from './player.ts'
export type { PlayerProps } from './player.ts'
export { defineHivecastPlayer, HivecastPlayerElement } from './player-element.ts'
export { emptyStats } from './player-session.ts'
export type { PlayerOptions, RecordingSelection } from './player-options.ts'
export type { PlayerHandle, PlayerStateEventDetail, QualityOption } from './player-session.ts'
export type { LedgerStats, PlaybackStats, PlayerState, PlayerStats, SegmentRecord } from './segment-ledger.ts'
export type { PeerStats } from './peer-source-contract.ts'
export { PEERS_SOURCE } from './segment-loader.ts'
