/**
 * `mountPlayer`: the player for pages that are not Preact apps. It renders `Player` into an element
 * and returns a handle that stays valid for the element's lifetime.
 */
import { h, render } from 'preact'
import { Player } from './player.ts'
import { emptyStats } from './player-session.ts'
import type { PlayerOptions } from './player-options.ts'
import type { PlayerHandle } from './player-session.ts'
import type { PlayerStats } from './segment-ledger.ts'

export function mountPlayer (element: HTMLElement, options: PlayerOptions): PlayerHandle {
  let current: PlayerHandle | null = null
  let mounted = true
  // Keep the last handle after unmount: a destroyed session still reports its final stats.
  render(h(Player, { ...options, onHandle: (handle) => { if (handle !== null) current = handle } }), element)
  return {
    stats (): PlayerStats {
      return current?.stats() ?? emptyStats()
    },
    destroy (): void {
      if (!mounted) return
      mounted = false
      render(null, element)
    }
  }
}
