/**
 * Serves the built site (site/dist) plus the `config.json` it reads at run time: which relays to use
 * and which rooms exist. In production any static web server does this; here it saves a dependency.
 * Unless the config names a schedule, the demo uses the site's sample schedule (a Pentabarf XML file for
 * one day), served with its date moved to today (UTC) so the rooms list always has a talk on now.
 */
import { createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sirv from 'sirv'
import type { AddressInfo } from 'node:net'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

export const SITE_DIST = fileURLToPath(new URL('../../../site/dist', import.meta.url))

export interface SiteConfig {
  relays: string[]
  rooms: Array<{ slug: string, title: string, key: string }>
  /** Each room's origin, for the status page's health column. */
  origins?: Array<{ room: string, url: string }>
  /** URL of the conference schedule (Pentabarf/Frab XML or the site's JSON form), relative to config.json. */
  schedule?: string
}

const SAMPLE_SCHEDULE = 'sample-schedule.xml'
/** The one date the sample schedule is written for. */
const SAMPLE_DATE = '2026-02-01'

export interface SiteServer {
  url: string
  stop(): Promise<void>
}

/** With `tls`, served over https (the network lab's pages must be secure contexts on a non-loopback address). */
export async function startSiteServer (config: SiteConfig, host: string, port: number, tls?: { cert: Buffer, key: Buffer }): Promise<SiteServer> {
  if (!existsSync(SITE_DIST)) {
    throw new Error(`the site is not built (${SITE_DIST} is missing): run \`npm run build -w site\` first`)
  }
  const serve = sirv(SITE_DIST, { etag: true })
  const samplePath = join(SITE_DIST, SAMPLE_SCHEDULE)
  const sample = existsSync(samplePath) ? readFileSync(samplePath, 'utf8') : undefined
  const body = JSON.stringify(config.schedule === undefined && sample !== undefined ? { ...config, schedule: SAMPLE_SCHEDULE } : config)
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Other sites load hivecast-player.js (an ES module, so fetched with CORS) and embed.html.
    res.setHeader('Access-Control-Allow-Origin', '*')
    if (req.url?.split('?')[0] === '/config.json') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' })
      res.end(body)
      return
    }
    if (req.url?.split('?')[0] === `/${SAMPLE_SCHEDULE}` && sample !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/xml; charset=utf-8', 'Cache-Control': 'no-cache' })
      res.end(sample.replaceAll(SAMPLE_DATE, new Date().toISOString().slice(0, 10)))
      return
    }
    serve(req, res, () => {
      res.writeHead(404, { 'Content-Type': 'text/plain' })
      res.end('not found\n')
    })
  }
  const server: Server = tls === undefined ? createServer(handle) : createHttpsServer({ cert: tls.cert, key: tls.key }, handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  return {
    url: `${tls === undefined ? 'http' : 'https'}://${host}:${address.port}/`,
    stop: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
