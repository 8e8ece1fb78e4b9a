/**
 * The live captioner: a person types what is said and each line becomes a cue of the room's subtitle
 * rendition at the program time it was typed. `POST /captions` with `Authorization: Bearer <token>`
 * (from `--caption-token-file`) and `{ "text": "…", "typingMs": 1200 }` (how long the line took to
 * type: the cue starts that much before it arrived, at most 10 s) answers with the cue; the next
 * subtitle segment carries it. `GET /captioner` is the page to type in (it asks for the token and
 * keeps it for the tab only). Not CORS-open: only the origin's own page calls it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { errorMessage } from '@hivecast/shared'
import type { Logger } from '@hivecast/shared'
import { bearerCheck, readBody, sendJson } from './authenticated-endpoint.ts'
import { captionText } from './caption-track.ts'
import type { CaptionTrack } from './caption-track.ts'

const MAX_BODY = 4096
/** Typing takes seconds; a claim of longer is not believed. */
const MAX_TYPING_MS = 10_000

export interface CaptionerOptions {
  token: string
  track: CaptionTrack
  log: Logger
  /** The origin's clock (tests and the bench give none). */
  now?: () => number
}

/** Counts of the captioner endpoint, for /status and /metrics. */
export interface CaptionerCounts {
  accepted: number
  refused: number
}

/** The captioner's routes for the status server: answers and returns true for its paths, false for others. */
export function captioner (options: CaptionerOptions): { routes: (req: IncomingMessage, res: ServerResponse, path: string) => boolean, counts: CaptionerCounts } {
  const authorized = bearerCheck(options.token)
  const now = options.now ?? Date.now
  const counts: CaptionerCounts = { accepted: 0, refused: 0 }
  const routes = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    if (path === '/captioner' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'" })
      res.end(req.method === 'HEAD' ? undefined : captionerPage(options.track.info.subtitles?.name ?? options.track.rendition))
      return true
    }
    if (path !== '/captions') return false
    const arrived = now()
    if (req.method !== 'POST') {
      req.resume()
      sendJson(res, 405, { error: 'use POST /captions with { "text": "what was said" }' }, { Allow: 'POST' })
      return true
    }
    if (!authorized(req)) {
      req.resume()
      counts.refused++
      sendJson(res, 401, { error: 'give the captioner token: Authorization: Bearer <token from --caption-token-file>' }, { 'WWW-Authenticate': 'Bearer realm="hivecast-captioner"' })
      return true
    }
    readBody(req, MAX_BODY).then(text => {
      const request = captionRequest(text)
      if ('error' in request) {
        counts.refused++
        sendJson(res, 400, { error: request.error })
        return
      }
      const cue = options.track.add(request.text, arrived - request.typingMs)
      counts.accepted++
      options.log.debug(`caption ${cue.id}: ${request.text.length} characters`)
      sendJson(res, 200, { cue })
    }, (err: unknown) => {
      counts.refused++
      sendJson(res, 413, { error: errorMessage(err) })
    })
    return true
  }
  return { routes, counts }
}

/** The body: `{ "text": "…", "typingMs"?: n }`, the text checked and escaped for WebVTT. */
function captionRequest (body: string): { text: string, typingMs: number } | { error: string } {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return { error: 'the body is not JSON: send { "text": "what was said" }' }
  }
  if (typeof value !== 'object' || value === null || typeof (value as { text?: unknown }).text !== 'string') return { error: 'send { "text": "what was said", "typingMs": 1200 } (typingMs optional)' }
  const { text, typingMs } = value as { text: string, typingMs?: unknown }
  if (typingMs !== undefined && (typeof typingMs !== 'number' || !Number.isFinite(typingMs) || typingMs < 0)) return { error: '"typingMs" must be the milliseconds the line took to type, 0 or more' }
  const cue = captionText(text)
  if (typeof cue !== 'string') return cue
  return { text: cue, typingMs: Math.min(MAX_TYPING_MS, Math.round(typingMs ?? 0)) }
}

/** The page a captioner types in: a line at a time, Enter sends it. */
function captionerPage (track: string): string {
  const name = track.replace(/[&<>"]/g, c => `&#${c.charCodeAt(0)};`)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Captioner: ${name}</title>
<style>
body{font:18px/1.4 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;background:#111;color:#eee}
label{display:block;margin:1rem 0 .3rem}input{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;background:#222;color:#fff;border:1px solid #666}
#caption{font-size:1.4rem}#sent{list-style:none;padding:0;color:#aaa}#status{min-height:1.4em}.error{color:#f88}
</style></head>
<body><h1>Captions: ${name}</h1>
<p>Type what is said; Enter sends the line. It shows under the picture it was typed at.</p>
<label for="token">Captioner token</label><input id="token" type="password" autocomplete="off">
<label for="caption">Caption</label><input id="caption" autocomplete="off" maxlength="200" autofocus>
<p id="status" role="status" aria-live="polite"></p><ul id="sent"></ul>
<script>
const token = document.getElementById('token')
const caption = document.getElementById('caption')
const status = document.getElementById('status')
const sent = document.getElementById('sent')
token.value = sessionStorage.getItem('hivecast:captioner-token') || ''
token.addEventListener('change', () => sessionStorage.setItem('hivecast:captioner-token', token.value.trim()))
let typingSince
caption.addEventListener('input', () => { typingSince ??= performance.now() })
caption.addEventListener('keydown', async event => {
  if (event.key !== 'Enter' || caption.value.trim() === '') return
  event.preventDefault()
  const text = caption.value
  const typingMs = typingSince === undefined ? 0 : Math.round(performance.now() - typingSince)
  caption.value = ''
  typingSince = undefined
  try {
    const response = await fetch('/captions', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token.value.trim() }, body: JSON.stringify({ text, typingMs }) })
    const answer = await response.json()
    if (!response.ok) throw new Error(answer.error || response.statusText)
    status.className = ''
    status.textContent = 'Sent.'
    const item = document.createElement('li')
    item.textContent = new Date(answer.cue.start).toLocaleTimeString() + '  ' + text
    sent.prepend(item)
    while (sent.children.length > 20) sent.lastChild.remove()
  } catch (err) {
    caption.value = text
    status.className = 'error'
    status.textContent = 'Not sent: ' + err.message
  }
})
</script></body></html>
`
}
