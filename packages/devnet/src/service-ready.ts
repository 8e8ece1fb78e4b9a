/**
 * How devnet learns where a service it started can be reached, without reading its log: an origin
 * writes a ready file (`--ready-file`), a relay answers `/status` on the HTTP port devnet gave it.
 */
import { parseRelayStatus, relayRoutes, relayUrl } from '@hivecast/shared'
import type { RelayStatusJson } from '@hivecast/shared'
import { readReadyFile } from '@hivecast/shared/node'
import type { ServiceReady } from '@hivecast/shared/node'
import type { ReadyProbe } from './service-process.ts'

/** Ready once the process has written its ready document to `path`. */
export function readyFile (path: string): ReadyProbe<ServiceReady> {
  return async pid => {
    const ready = await readReadyFile(path)
    return ready?.pid === pid ? ready : undefined
  }
}

/** Ready once the relay at `base` answers /status with its libp2p addresses. */
export function relayStatus (base: string): ReadyProbe<RelayStatusJson> {
  return async () => {
    let body: unknown
    try {
      const response = await fetch(relayUrl(base, relayRoutes.status()), { signal: AbortSignal.timeout(2000) })
      if (!response.ok) return undefined
      body = await response.json()
    } catch {
      // Not listening yet, or still starting.
      return undefined
    }
    const status = parseRelayStatus(body)
    return status !== undefined && status.multiaddrs.length > 0 ? status : undefined
  }
}
