/**
 * The base of the tests' named fake relays (slow, malicious): an HTTP server on loopback that passes
 * every request on to a real relay and lets the fake answer some itself or change an answer (its
 * bytes, its timing) before it goes out. CORS is open, as on a real relay, so browsers fetch from it.
 */
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import { listenOnLoopback } from './loopback-server.ts'
import type { LoopbackServer } from './loopback-server.ts'

/** An upstream answer on its way out; `path` is the request path without the query. */
export interface ProxiedAnswer {
  path: string
  status: number
  headers: Record<string, string>
  body: Uint8Array
}

export interface RelayProxyOptions {
  /** Answers a request itself and returns true, or returns false to pass it on. */
  intercept?: (path: string, res: ServerResponse) => boolean
  /** Changes (or delays) an upstream answer before it is sent. */
  alter?: (answer: ProxiedAnswer) => ProxiedAnswer | Promise<ProxiedAnswer>
}

/** Headers of the upstream answer that a client's caching and parsing depend on. */
const PASSED_HEADERS = ['content-type', 'cache-control', 'etag']

export async function startRelayProxy (upstream: string, options: RelayProxyOptions = {}): Promise<LoopbackServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    res.setHeader('access-control-allow-origin', '*')
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-headers': 'Accept, Range', 'access-control-allow-methods': 'GET, HEAD' })
      res.end()
      return
    }
    if (options.intercept?.(path, res) === true) return
    const proxied = async (): Promise<void> => {
      const upstreamAnswer = await fetch(upstream + (req.url ?? '/'), { headers: { accept: req.headers.accept ?? '*/*' } })
      const headers: Record<string, string> = {}
      for (const name of PASSED_HEADERS) {
        const value = upstreamAnswer.headers.get(name)
        if (value !== null) headers[name] = value
      }
      let answer: ProxiedAnswer = { path, status: upstreamAnswer.status, headers, body: new Uint8Array(await upstreamAnswer.arrayBuffer()) }
      if (options.alter !== undefined) answer = await options.alter(answer)
      res.writeHead(answer.status, answer.headers)
      res.end(answer.body)
    }
    proxied().catch(() => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
  })
  return await listenOnLoopback(server)
}
