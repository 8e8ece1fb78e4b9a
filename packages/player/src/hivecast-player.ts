/**
 * The ES module a host page loads to get `<hivecast-player>`; the site's build emits it as
 * `hivecast-player.js`.
 *
 * @example
 * ```html
 * <script type="module" src="https://hivecast.example.org/hivecast-player.js"></script>
 * <hivecast-player room="janson" key="12D3KooW…" relays="https://relay-a.example https://relay-b.example"></hivecast-player>
 * <script>
 *   document.querySelector('hivecast-player').addEventListener('hivecast:state', e => console.log(e.detail.state))
 * </script>
 * ```
 */
import { defineHivecastPlayer } from './player-element.ts'

export { HivecastPlayerElement, defineHivecastPlayer } from './player-element.ts'
export type { PlayerState, PlayerStats } from './segment-ledger.ts'
export type { PlayerStateEventDetail } from './player-session.ts'

defineHivecastPlayer()
