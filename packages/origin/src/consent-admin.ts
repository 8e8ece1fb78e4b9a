/**
 * The organisers' last-minute opt-out: `POST /admin/opt-out` on the origin's HTTP endpoint with
 * `Authorization: Bearer <token>` marks a talk of the schedule (`{ "talk": "<id>" }`) or a time range
 * (`{ "from": "<ISO time>", "to": "<ISO time>", "title": "…" }`) as opted out; `GET /admin/opt-outs`
 * lists them. Recordings made after it leave those segments out, and those already announced with
 * part of it are withdrawn from the relays (a signed `withdrawal`). The token comes from a file
 * (`--admin-token-file`), never the command line, and is compared in constant time. The routes are not
 * CORS-open: a web page has no business calling them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { errorMessage } from '@hivecast/shared'
import type { Logger, Talk } from '@hivecast/shared'
import { bearerCheck, loadBearerToken, readBody, sendJson as send } from './authenticated-endpoint.ts'
import type { OptOutRequest, RecordingConsent } from './recording-consent.ts'

const MAX_BODY = 4096

/** Reads the admin token from its file; warns when other users may read the file. */
export async function loadAdminToken (file: string, warn: (message: string) => void): Promise<string> {
  return await loadBearerToken(file, 'admin token', warn)
}

/**
 * The admin routes as a handler for the status server: answers and returns true for `/admin/…`,
 * returns false for anything else.
 */
export function consentAdmin (options: { token: string, consent: RecordingConsent, log: Logger, onOptOut?: (talk: Talk) => Promise<string[]> }): (req: IncomingMessage, res: ServerResponse, path: string) => boolean {
  const authorized = bearerCheck(options.token)
  return (req, res, path) => {
    if (!path.startsWith('/admin/')) return false
    if (!authorized(req)) {
      req.resume()
      send(res, 401, { error: 'give the admin token: Authorization: Bearer <token from --admin-token-file>' }, { 'WWW-Authenticate': 'Bearer realm="hivecast-origin"' })
      return true
    }
    if (path === '/admin/opt-outs' && req.method === 'GET') {
      send(res, 200, { optOuts: options.consent.optOuts() })
      return true
    }
    if (path !== '/admin/opt-out') {
      req.resume()
      send(res, 404, { error: 'not found: POST /admin/opt-out or GET /admin/opt-outs' })
      return true
    }
    if (req.method !== 'POST') {
      req.resume()
      send(res, 405, { error: 'use POST with { "talk": "<id>" } or { "from": "<ISO time>", "to": "<ISO time>" }' }, { Allow: 'POST' })
      return true
    }
    readBody(req, MAX_BODY).then(async text => {
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        send(res, 400, { error: 'the body is not JSON: send { "talk": "<id>" } or { "from": "<ISO time>", "to": "<ISO time>" }' })
        return
      }
      const request = optOutRequest(body)
      if (typeof request === 'string') { send(res, 400, { error: request }); return }
      const result = await options.consent.optOut(request)
      if (typeof result === 'string') { send(res, 404, { error: result }); return }
      // Recordings already announced with part of it are withdrawn from the relays.
      const withdrawn = await options.onOptOut?.(result) ?? []
      options.log.warn(`admin: opted out "${result.title}" (${new Date(result.start).toISOString()} to ${new Date(result.end).toISOString()}): later recordings leave it out${withdrawn.length === 0 ? '' : `; ${withdrawn.length} recordings already announced are withdrawn`}`)
      send(res, 200, { optOut: result, withdrawn })
    }, (err: Error) => {
      send(res, 413, { error: err.message })
    }).catch((err: unknown) => {
      send(res, 500, { error: `the opt-out could not be saved: ${errorMessage(err)}` })
    })
    return true
  }
}

/** Checks the body: a talk id, or a range of ISO times (with an offset) or ms, at most a day long. */
function optOutRequest (body: unknown): OptOutRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'send an object: { "talk": "<id>" } or { "from": "<ISO time>", "to": "<ISO time>" }'
  const b = body as Record<string, unknown>
  if (typeof b.talk === 'string' || typeof b.talk === 'number') {
    const talk = String(b.talk).trim()
    if (talk === '' || talk.length > 64) return '"talk" must be the schedule\'s event id (1-64 characters)'
    return { talk }
  }
  const time = (value: unknown): number | undefined => typeof value === 'number' ? (Number.isSafeInteger(value) ? value : undefined) : typeof value === 'string' && /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim()) ? Date.parse(value) : undefined
  const from = time(b.from)
  const to = time(b.to)
  if (from === undefined || to === undefined || Number.isNaN(from) || Number.isNaN(to)) return '"from" and "to" must be ISO times with an offset (2026-02-01T10:00:00+01:00) or ms since the epoch'
  if (to <= from || to - from > 24 * 3600_000) return '"to" must come after "from", at most a day later'
  const title = typeof b.title === 'string' && b.title.trim() !== '' ? b.title.trim().slice(0, 200) : 'opted out by the organisers'
  return { from, to, title }
}
