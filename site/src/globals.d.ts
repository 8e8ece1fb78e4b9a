import type { PlayerHandle } from '@hivecast/player'

declare global {
  interface Window {
    /** The watch or embed page's player (debugging and test aid): `hivecastPlayer.stats()`. */
    hivecastPlayer?: PlayerHandle
  }
}
