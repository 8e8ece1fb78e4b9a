/**
 * The origin's small HTTP face: `GET /healthz` for supervisors and load balancers, `GET /status` for
 * the demo, the network page and the publish-latency benchmark, `GET /metrics` for Prometheus.
 * Read-only and CORS-open.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface HostPort {
  host: string
  port: number
}

/** Parses `host:port` (`[::1]:8090` for IPv6); port 0 picks a free port. */
export function parseHostPort (value: string): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value)
  const port = Number(match?.[3])
  if (match === null || port > 65535) throw new Error(`invalid address "${value}": use host:port, e.g. 127.0.0.1:8090 (port 0 picks a free one)`)
  return { host: match[1] ?? match[2] ?? '', port }
}

export type Health = { ok: true } | { ok: false, reason: string }

export interface StatusServerOptions extends HostPort {
  status: () => unknown
  health: () => Health
  /** Prometheus exposition for `GET /metrics`. */
  metrics: () => Promise<{ contentType: string, body: string }>
}

export interface StatusServer {
  url: string
  close: () => Promise<void>
}

export async function startStatusServer (options: StatusServerOptions): Promise<StatusServer> {
  const server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*')
    res.setHeader('Cache-Control', 'no-store')
    const path = (req.url ?? '/').split('?')[0]
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
    server.once('error', err => reject(new Error(`cannot serve HTTP on ${options.host}:${options.port}: ${err.message}. Choose another --http address.`)))
    server.listen(options.port, options.host, resolve)
  })
  const { port } = server.address() as AddressInfo
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  return {
    url: `http://${host}:${port}/`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
