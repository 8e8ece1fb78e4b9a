/**
 * This page session's viewer token (shared viewer-token.ts): made once when the player's code loads,
 * kept only in memory, and sent to every relay with each `window.json` request, so relays count this
 * viewer once however many relays and fellow viewers it fetches from. Every player on the page shares
 * it: one person watching.
 */
import { newViewerToken } from '@hivecast/shared'

export const sessionViewerToken = newViewerToken()
