/**
 * A named fake: a slow relay. It proxies a real relay over HTTP and holds every segment (`/ipfs/…`)
 * response for `delayMs` before sending it, as an overloaded or far-away volunteer would; playlists
 * and everything else pass at once. No real relay can be made slow on loopback on demand.
 */
import { startRelayProxy } from '@hivecast/devnet'

export interface SlowRelay {
  url: string
  /** Segment requests it answered (each after the delay). */
  segmentsServed: number
  close: () => Promise<void>
}

export async function startSlowRelay (upstream: string, delayMs: number): Promise<SlowRelay> {
  const relay: SlowRelay = { url: '', segmentsServed: 0, close: async () => {} }
  const proxy = await startRelayProxy(upstream, {
    alter: async answer => {
      if (answer.path.startsWith('/ipfs/')) {
        await new Promise(resolve => setTimeout(resolve, delayMs))
        relay.segmentsServed++
      }
      return answer
    }
  })
  relay.url = proxy.url
  relay.close = proxy.close
  return relay
}
