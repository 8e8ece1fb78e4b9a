/**
 * The STUN/TURN servers the viewer swarm's WebRTC uses, from the room's relays (`/ice-servers.json`):
 * without them two viewers behind different NATs never connect. TURN credentials expire, so they are
 * fetched again once most of their lifetime is gone; a relay that offers none (or cannot be reached)
 * leaves WebRTC with host candidates only, as on a LAN.
 */
import { parseIceServers, relayRoutes, relayUrl } from '@hivecast/shared'
import type { IceServer } from '@hivecast/shared'

const FETCH_TIMEOUT_MS = 4_000
/** Relays asked, in the page's order, until one answers. */
const MAX_RELAYS_ASKED = 3
/** Fetch again when this share of the credentials' lifetime is gone. */
const REFRESH_AT = 0.8
/** Without TURN (no expiry), ask again after this long: a relay may gain servers. */
const NO_EXPIRY_REFRESH_MS = 10 * 60_000

export class RelayIceServers {
  readonly #relays: string[]
  #servers: IceServer[] = []
  #refreshAt = 0
  #pending: Promise<IceServer[]> | undefined

  constructor (relays: readonly string[]) {
    this.#relays = relays.slice(0, MAX_RELAYS_ASKED)
  }

  /** The servers to use for a new connection, fetched again when their credentials near expiry. */
  async current (now = Date.now()): Promise<IceServer[]> {
    if (now < this.#refreshAt) return this.#servers
    this.#pending ??= this.#fetch(now).finally(() => { this.#pending = undefined })
    return await this.#pending
  }

  async #fetch (now: number): Promise<IceServer[]> {
    for (const relay of this.#relays) {
      try {
        const response = await fetch(relayUrl(relay, relayRoutes.iceServers()), { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), credentials: 'omit', cache: 'no-store' })
        if (!response.ok) continue
        const { iceServers, expiresAt } = parseIceServers(await response.json())
        this.#servers = iceServers
        this.#refreshAt = expiresAt === null ? now + NO_EXPIRY_REFRESH_MS : now + (expiresAt - now) * REFRESH_AT
        return iceServers
      } catch {
        // The next relay may answer.
      }
    }
    // None answered: keep what worked before (or none) and try again on the next connection.
    return this.#servers
  }
}
