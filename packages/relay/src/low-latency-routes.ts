/**
 * LL-HLS on the relay's live media playlists: the parts of the newest segments and of the one in
 * progress (`#EXT-X-PART`, `#EXT-X-PART-INF`, `#EXT-X-SERVER-CONTROL`), a preload hint for the next
 * part, blocking playlist reloads (`?_HLS_msn=&_HLS_part=`), and the hinted part's own URL
 * (`/hls/<room>/<rendition>/<seq>.<part>.ts`), which answers once the part is held. Listed parts are
 * `/ipfs/<cid>` URIs like segments: a part is listed only after its block matched its CID.
 */
import { WINDOW_WAIT_PARAM } from '@hivecast/shared'
import type { LiveWindow, LowLatencyParts, MediaPlaylist, PartEntry, SignedEnvelope } from '@hivecast/shared'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { CID } from 'multiformats/cid'
import { blockingReloadQuery } from './blocking-reload.ts'
import type { ReloadOutcome, ReloadRequest } from './blocking-reload.ts'
import { IMMUTABLE, SEGMENT_TYPE } from './http-response.ts'
import type { RouteContext } from './gateway-source.ts'
import type { RoomFollower } from './room-follower.ts'
import type { PartRecord } from './room-parts.ts'
import type { SegmentRecord } from './room-status.ts'

/** Listed segments that keep their parts in the playlist, beside the one in progress. */
const SEGMENTS_WITH_PARTS = 2

/** What a live media playlist lists of the room's parts; undefined when the rendition has none (no LL-HLS tags then). */
export function lowLatencyParts (follower: RoomFollower, name: string, playlist: MediaPlaylist): LowLatencyParts | undefined {
  const last = playlist.entries.at(-1)
  const target = follower.parts.target(name)
  if (last === undefined || target === undefined || playlist.ended) return undefined
  const entries = (seq: number): PartEntry[] => follower.parts.held(name, seq).map(partEntry)
  const pending = entries(last.seq + 1)
  // The segment in progress was cut completely: the next part is the first of the one after it.
  const next = pending.length > 0 && follower.parts.held(name, last.seq + 1).at(-1)!.announcement.last ? { seq: last.seq + 2, part: 0 } : { seq: last.seq + 1, part: pending.length }
  return {
    // Rounded up to the millisecond: no part may be longer than the target.
    target: Math.ceil(target * 1000) / 1000,
    of: seq => seq > last.seq - SEGMENTS_WITH_PARTS ? entries(seq) : undefined,
    pending,
    preloadHint: `${name}/${next.seq}.${next.part}.ts`
  }
}

/** The signed envelopes of the parts a live media playlist lists (see `lowLatencyParts`), oldest first: what window.json carries. */
export function windowParts (follower: RoomFollower, name: string): Array<{ envelope: SignedEnvelope }> {
  const last = follower.window(name)?.playlist().entries.at(-1)
  if (last === undefined) return []
  const envelopes: Array<{ envelope: SignedEnvelope }> = []
  for (let seq = last.seq - SEGMENTS_WITH_PARTS + 1; seq <= last.seq + 2; seq++) {
    for (const record of follower.parts.held(name, seq)) envelopes.push({ envelope: record.envelope })
  }
  return envelopes
}

/**
 * `window.json?wait=<rendition>&_HLS_msn=&_HLS_part=`: waits as a blocking playlist reload does, then
 * lets the window be served whatever came (a player takes it as it is and asks again). False when the
 * request is answered already: a bad query, or the client left.
 */
export async function awaitWindowWait (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, follower: RoomFollower, query: URLSearchParams): Promise<boolean> {
  const name = query.get(WINDOW_WAIT_PARAM)
  if (name === null) return true
  const window = follower.window(name)
  const asked = blockingReloadQuery(query)
  if (window === undefined || asked === undefined || typeof asked === 'string') {
    ctx.http.text(req, res, 400, `${WINDOW_WAIT_PARAM}=<rendition> needs a rendition of room "${follower.room.slug}" and _HLS_msn (with _HLS_part for a part)${typeof asked === 'string' ? `: ${asked}` : ''}\n`)
    return false
  }
  const outcome = await follower.reloads.wait(readyFor(follower, name, window, asked), reloadTimeoutMs(window.playlist()), clientGone(res))
  return outcome !== 'gone'
}

/** Whether `window` lists segment `msn`, or (it being the one after the newest listed) holds its part. */
function readyFor (follower: RoomFollower, name: string, window: LiveWindow<SegmentRecord>, asked: ReloadRequest): () => boolean {
  const newestListed = (): number => window.playlist().entries.at(-1)?.seq ?? -1
  // A part is in the playlist only while its segment is the one after the newest listed.
  return () => newestListed() >= asked.msn || (asked.part !== undefined && newestListed() + 1 === asked.msn && follower.parts.held(name, asked.msn).length > asked.part)
}

function partEntry (record: PartRecord): PartEntry {
  const { cid, seq, part, duration, independent } = record.announcement
  return { duration, uri: `/ipfs/${cid}?filename=${seq}.${part}.ts`, independent }
}

/** Three target durations, as the spec bounds a blocking reload. */
function reloadTimeoutMs (playlist: MediaPlaylist): number {
  return 3 * 1000 * Math.max(1, ...playlist.entries.map(e => Math.ceil(e.duration)))
}

/** Aborts when the client's connection closes. */
function clientGone (res: ServerResponse): AbortSignal {
  const gone = new AbortController()
  res.once('close', () => { gone.abort() })
  return gone.signal
}

function answerUnready (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, outcome: Exclude<ReloadOutcome, 'ready'>, what: string): void {
  if (outcome === 'gone') return
  if (outcome === 'busy') ctx.http.text(req, res, 503, 'too many blocked playlist reloads waiting on this relay; retry shortly\n', { 'Retry-After': 1 })
  else ctx.http.text(req, res, 503, `${what} did not arrive within three target durations; reload the playlist\n`)
}

/**
 * A blocking reload: waits until `window` lists segment `msn`, or holds part `part` of it, or anything
 * later. True when the playlist may be sent now; false when an answer (400, 503) was sent instead.
 */
export async function awaitBlockingReload (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, follower: RoomFollower, name: string, window: LiveWindow<SegmentRecord>, query: URLSearchParams): Promise<boolean> {
  const asked = blockingReloadQuery(query)
  if (asked === undefined) return true
  if (typeof asked === 'string') {
    ctx.http.text(req, res, 400, `${asked}\n`)
    return false
  }
  const newestListed = (): number => window.playlist().entries.at(-1)?.seq ?? -1
  const newestKnown = Math.max(newestListed(), window.latest()?.announcement.seq ?? -1)
  // The spec: more than two segments ahead of the playlist is a request that cannot be meant.
  if (asked.msn > newestKnown + 2) {
    ctx.http.text(req, res, 400, `_HLS_msn ${asked.msn} is more than two segments past the newest (${newestKnown})\n`)
    return false
  }
  const outcome = await follower.reloads.wait(readyFor(follower, name, window, asked), reloadTimeoutMs(window.playlist()), clientGone(res))
  if (outcome === 'ready') return true
  answerUnready(ctx, req, res, outcome, `segment ${asked.msn}${asked.part === undefined ? '' : ` part ${asked.part}`}`)
  return false
}

/** `/hls/<room>/<rendition>/<seq>.<part>.ts`: the part named by a preload hint, sent once held. */
export async function servePart (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, follower: RoomFollower, name: string, file: string): Promise<void> {
  const match = /^(\d{1,15})\.(\d{1,4})\.ts$/.exec(file)
  const window = follower.window(name)
  if (match === null || window === undefined) {
    ctx.http.text(req, res, 404, `no such part: parts are /hls/<room>/<rendition>/<seq>.<part>.ts of a rendition of room "${follower.room.slug}"\n`)
    return
  }
  const seq = Number(match[1])
  const part = Number(match[2])
  const newestListed = (): number => window.playlist().entries.at(-1)?.seq ?? -1
  if (seq > Math.max(newestListed(), window.latest()?.announcement.seq ?? -1) + 2) {
    ctx.http.text(req, res, 404, `segment ${seq} is more than two segments past the newest\n`)
    return
  }
  const held = (): PartRecord | undefined => follower.parts.held(name, seq)[part]
  // Ready also when the segment was listed without that part: then there is none to wait for.
  const outcome = await follower.reloads.wait(() => held() !== undefined || newestListed() >= seq, reloadTimeoutMs(window.playlist()), clientGone(res))
  if (outcome !== 'ready') {
    answerUnready(ctx, req, res, outcome, `part ${part} of segment ${seq}`)
    return
  }
  const record = held()
  const bytes = record === undefined ? undefined : await ctx.source.readHeldBlock(CID.parse(record.announcement.cid))
  if (bytes === undefined) {
    ctx.http.text(req, res, 404, `part ${part} of segment ${seq} is not held here\n`)
    return
  }
  ctx.sawViewer(req)
  ctx.http.send(req, res, 200, { 'Content-Type': SEGMENT_TYPE, 'Cache-Control': IMMUTABLE }, bytes)
}
