/**
 * Real HTTP relays on 127.0.0.1 for the loader tests: each serves a set of blocks and playlists and
 * can be told to tamper with a block, answer an error, or never answer.
 */
import { createServer } from 'node:http'
import type { Server, ServerResponse } from 'node:http'
import { listenOnLoopback } from '@hivecast/devnet'

export interface RelayBehaviour {
  /** path -> body served with 200. */
  files: Map<string, Uint8Array | string>
  /** Paths whose body gets one byte flipped. */
  tamper?: Set<string>
  /** Answer every request with this status. */
  status?: number
  /** Accept the request and never answer. */
  hang?: boolean
}

export interface TestRelay {
  url: string
  /** Paths requested, in order, and their query strings (`''` for none). */
  requests: string[]
  queries: string[]
  /** Requests whose connection closed before an answer was sent. */
  abandoned: number
  close: () => Promise<void>
}

export async function startRelay (behaviour: RelayBehaviour): Promise<TestRelay> {
  const relay: TestRelay = { url: '', requests: [], queries: [], abandoned: 0, close: async () => {} }
  const server: Server = createServer((req, res: ServerResponse) => {
    const { pathname: path, search } = new URL(req.url ?? '/', 'http://relay')
    relay.requests.push(path)
    relay.queries.push(search)
    res.setHeader('access-control-allow-origin', '*')
    if (behaviour.hang === true) {
      res.on('close', () => { if (!res.writableEnded) relay.abandoned++ })
      return
    }
    if (behaviour.status !== undefined) {
      res.statusCode = behaviour.status
      res.end('relay says no')
      return
    }
    const body = behaviour.files.get(path)
    if (body === undefined) {
      res.statusCode = 404
      res.end('not found')
      return
    }
    if (behaviour.tamper?.has(path) === true && typeof body !== 'string') {
      const bad = body.slice()
      bad[0] = bad[0]! ^ 0xff
      res.end(bad)
      return
    }
    res.end(body)
  })
  const listening = await listenOnLoopback(server)
  relay.url = listening.url
  relay.close = listening.close
  return relay
}
