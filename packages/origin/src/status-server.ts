/**
 * The origin's small HTTP face: `GET /healthz` for supervisors and load balancers, `GET /status` for
 * the demo, the network page and the publish-latency benchmark, `GET /metrics` for Prometheus.
 * Read-only; /status and /metrics are CORS-open for the site's pages, /healthz is not: only
 * supervisors and load balancers read it, and a web page has no business probing it.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ListenError, formatHostPort } from '@hivecast/shared'
import type { HostPort } from '@hivecast/shared'

export type Health = { ok: true } | { ok: false, reason: string }

export interface StatusServerOptions extends HostPort {
  status: () => unknown
  health: () => Health
  /** Prometheus exposition for `GET /metrics`. */
  metrics: () => Promise<{ contentType: string, body: string }>
  /** More routes (the consent admin API, the live captioner; not CORS-open): answers and returns true, or returns false. */
  routes?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean
}

export interface StatusServer {
  url: string
  close: () => Promise<void>
}

export async function startStatusServer (options: StatusServerOptions): Promise<StatusServer> {
  const server = createServer((req, res) => {
    res.setHeader('Cache-Control', 'no-store')
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (options.routes?.(req, res, path) === true) return
    if (path !== '/healthz') res.setHeader('Access-Control-Allow-Origin', '*')
    if (path !== '/healthz' && path !== '/status' && path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: try /status, /healthz or /metrics\n')
      return
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': '*' }).end()
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed: use GET\n')
      return
    }
    if (path === '/healthz') {
      const health = options.health()
      res.writeHead(health.ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end(health.ok ? 'ok\n' : `${health.reason}\n`)
      return
    }
    if (path === '/metrics') {
      options.metrics().then(({ contentType, body }) => {
        res.writeHead(200, { 'Content-Type': contentType }).end(body)
      }, (err: Error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${err.message}\n`)
      })
      return
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(options.status()))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', err => reject(new ListenError(`cannot serve HTTP on ${formatHostPort(options)}: ${err.message}. Choose another --http address.`, { cause: err })))
    server.listen(options.port, options.host, resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${formatHostPort({ host: options.host, port })}/`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
