/**
 * The HLS routes: a room's live playlists derived from its validated announcements, the signed window
 * behind them (`window.json`), and a pinned recording as VOD playlists.
 */
import { cutToRange, isRoomSlug, masterRenditions, RAW_CODEC, RENDITION_NAME, renderMasterPlaylist, renderMediaPlaylist, segmentExtension, tryParseCid, VIEWER_TOKEN_PARAM, WINDOW_HISTORY_DEFAULT_LIMIT, WINDOW_HISTORY_MAX_LIMIT } from '@hivecast/shared'
import type { MediaPlaylist, RenderOptions, WindowHistoryJson, WindowJson } from '@hivecast/shared'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { IMMUTABLE, PLAYLIST_TYPE } from './http-response.ts'
import { parseTimeRange, rangeQuery, renderRecordingMaster } from './recording-playlist.ts'
import type { RouteContext } from './gateway-source.ts'
import type { RoomFollower } from './room-follower.ts'
import { awaitBlockingReload, awaitWindowWait, lowLatencyParts, windowParts } from './low-latency-routes.ts'

/**
 * A media playlist as relays serve it: each URI is `/ipfs/<cid>` for players to pull the CID out of,
 * with a `filename` (a trustless-gateway parameter) whose extension ffmpeg's HLS demuxer insists on.
 */
function gatewayMediaPlaylist (playlist: MediaPlaylist, options: Pick<RenderOptions, 'vod' | 'parts'> = {}): string {
  return renderMediaPlaylist(playlist, e => `/ipfs/${e.cid}?filename=${e.seq}.${segmentExtension(e)}`, { ...options, mapUri: cid => `/ipfs/${cid}?filename=init.mp4` })
}

/** The followed room named `slug`, or undefined with a 400 or 404 sent. */
export function roomOf (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, slug: string): RoomFollower | undefined {
  if (!isRoomSlug(slug)) {
    ctx.http.text(req, res, 400, 'invalid room name: use 1-63 lowercase letters, digits and dashes\n')
    return undefined
  }
  const follower = ctx.source.follower(slug)
  if (follower === undefined) ctx.http.text(req, res, 404, `this relay does not follow room "${slug}"; see /status for the rooms it does\n`)
  return follower
}

export async function servePlaylist (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, slug: string, file: string, query: URLSearchParams): Promise<void> {
  const follower = roomOf(ctx, req, res, slug)
  if (follower === undefined) return
  ctx.sawRoomViewer(req, slug, 'playlist')
  const headers = { 'Content-Type': PLAYLIST_TYPE, 'Cache-Control': 'no-cache' }
  const notYet = (what: string): void => {
    ctx.http.text(req, res, 503, `${what} has no segment yet; the relay lists segments once it has fetched them. Retry in a few seconds.\n`, { 'Retry-After': 2 })
  }
  if (file === 'master.m3u8') {
    // Only renditions that can be played now, so a player never picks a variant that answers 503.
    const playable = follower.renditionNames().filter(name => (follower.window(name)?.playlist().entries.length ?? 0) > 0)
    if (playable.length === 0) {
      notYet(`room "${slug}"`)
      return
    }
    const variants = playable.map(name => ({ info: follower.renditionInfo(name)!, uri: `${name}.m3u8` }))
    ctx.http.send(req, res, 200, headers, renderMasterPlaylist(variants))
    return
  }
  const name = file.endsWith('.m3u8') ? file.slice(0, -'.m3u8'.length) : undefined
  if (name === undefined || !RENDITION_NAME.test(name)) {
    ctx.http.text(req, res, 404, 'not a playlist: ask for master.m3u8 or <rendition>.m3u8\n')
    return
  }
  const window = follower.window(name)
  if (window === undefined) {
    ctx.http.text(req, res, 404, `room "${slug}" has no rendition "${name}"; see master.m3u8\n`)
    return
  }
  if (window.playlist().entries.length === 0) {
    notYet(`rendition "${name}" of room "${slug}"`)
    return
  }
  if (!await awaitBlockingReload(ctx, req, res, follower, name, window, query)) return
  const playlist = window.playlist()
  const parts = lowLatencyParts(follower, name, playlist)
  ctx.http.send(req, res, 200, headers, gatewayMediaPlaylist(playlist, parts === undefined ? {} : { parts }))
}

export async function serveWindow (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, slug: string, query: URLSearchParams): Promise<void> {
  const follower = roomOf(ctx, req, res, slug)
  if (follower === undefined) return
  ctx.sawRoomViewer(req, slug, { token: query.get(VIEWER_TOKEN_PARAM) })
  if (HISTORY_PARAMS.some(name => query.has(name))) {
    serveHistory(ctx, req, res, follower, query)
    return
  }
  if (!await awaitWindowWait(ctx, req, res, follower, query)) return
  const body: WindowJson = { room: slug, renditions: {} }
  const parts: NonNullable<WindowJson['parts']> = {}
  for (const name of follower.renditionNames()) {
    const entries = follower.window(name)?.playlist().entries ?? []
    body.renditions[name] = entries.flatMap(entry => {
      const record = follower.record(name, entry.seq)
      return record === undefined ? [] : [{ envelope: record.envelope, storedAt: record.storedAt ?? null }]
    })
    const held = windowParts(follower, name)
    if (held.length > 0) parts[name] = held
  }
  // Said only when there are parts: a window without is the same as before parts existed.
  if (Object.keys(parts).length > 0) body.parts = parts
  ctx.http.json(req, res, body)
}

const HISTORY_PARAMS = ['rendition', 'before', 'limit'] as const

/** `?rendition=<name>&before=<seq>[&limit=<n>]`, checked; a string says what is wrong. */
function historyQuery (query: URLSearchParams): { rendition: string, before: number, limit: number } | string {
  const rendition = query.get('rendition')
  const before = query.get('before')
  const limit = query.get('limit')
  const usage = `ask for ?rendition=<name>&before=<seq>&limit=<1-${WINDOW_HISTORY_MAX_LIMIT}>`
  if (rendition === null || !RENDITION_NAME.test(rendition)) return `window history needs a rendition name (letters, digits, dashes): ${usage}`
  if (before === null || !/^\d{1,15}$/.test(before)) return `window history needs before=<seq>, a whole number (the oldest seq you hold): ${usage}`
  if (limit !== null && (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > WINDOW_HISTORY_MAX_LIMIT)) return `limit must be a whole number from 1 to ${WINDOW_HISTORY_MAX_LIMIT}: ${usage}`
  return { rendition, before: Number(before), limit: limit === null ? WINDOW_HISTORY_DEFAULT_LIMIT : Number(limit) }
}

/** A page of one rendition's signed history: what a rewinding viewer asks for, never every poll. */
function serveHistory (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, follower: RoomFollower, query: URLSearchParams): void {
  const asked = historyQuery(query)
  if (typeof asked === 'string') {
    ctx.http.text(req, res, 400, `${asked}\n`)
    return
  }
  const page = follower.history(asked.rendition, asked.before, asked.limit)
  if (page === undefined) {
    ctx.http.text(req, res, 404, `room "${follower.room.slug}" has no rendition "${asked.rendition}"; see window.json\n`)
    return
  }
  const entries = page.records.map(record => ({ envelope: record.envelope, storedAt: record.state === 'stored' ? record.storedAt ?? null : null }))
  const body: WindowHistoryJson = { room: follower.room.slug, renditions: { [asked.rendition]: entries }, more: page.more }
  ctx.http.json(req, res, body)
}

/**
 * `/hls/recordings/<dirCid>/master.m3u8` and `/<rendition>.m3u8`: a pinned recording as VOD playlists
 * whose segment URIs are `/ipfs/<cid>?filename=<seq>.ts` (or `.m4s`), optionally cut to `?from=<ms>&to=<ms>`.
 */
export async function serveRecordingPlaylist (ctx: RouteContext, req: IncomingMessage, res: ServerResponse, cidText: string, file: string, query: URLSearchParams): Promise<void> {
  const root = tryParseCid(cidText)
  if (root === undefined || root.code === RAW_CODEC) {
    ctx.http.text(req, res, 400, `"${cidText.slice(0, 100)}" is not a recording's directory CID; take one from /rooms/<room>/recordings.json\n`)
    return
  }
  const range = parseTimeRange(query)
  if (typeof range === 'string') {
    ctx.http.text(req, res, 400, `${range}\n`)
    return
  }
  const name = file === 'master.m3u8' ? undefined : file.endsWith('.m3u8') ? file.slice(0, -'.m3u8'.length) : ''
  if (name !== undefined && !RENDITION_NAME.test(name)) {
    ctx.http.text(req, res, 404, 'not a playlist: ask for master.m3u8 or <rendition>.m3u8\n')
    return
  }
  const notHeld = (): void => {
    const state = ctx.source.recordingState(root)
    const why = state === 'fetching'
      ? 'it is being fetched; retry in a few seconds'
      : state === 'failed'
        ? 'fetching it failed; the relay tries again'
        : state === 'not-archived'
          ? 'this relay does not pin recordings (it runs without --archive); ask a relay that does'
          : 'no room this relay follows announced it; see /rooms/<room>/recordings.json'
    ctx.http.text(req, res, 404, `recording ${root.toString()} is not held here: ${why}\n`)
  }
  const headers = { 'Content-Type': PLAYLIST_TYPE, 'Cache-Control': IMMUTABLE, 'X-Ipfs-Path': `/ipfs/${root.toString()}` }
  let body: string
  try {
    if (name === undefined) {
      const master = await ctx.source.readRecordingFile(root, ['index.m3u8'])
      if (master === undefined) {
        notHeld()
        return
      }
      const text = new TextDecoder().decode(master)
      masterRenditions(text)
      body = renderRecordingMaster(text, range)
    } else {
      const all = await ctx.source.recordingEntries(root, name)
      if (all === undefined) {
        if (ctx.source.recordingState(root) === 'pinned') ctx.http.text(req, res, 404, `recording ${root.toString()} has no rendition "${name}"; see master.m3u8\n`)
        else notHeld()
        return
      }
      const entries = cutToRange(all, range)
      if (entries.length === 0) {
        const span = all.length === 0 ? 'no segments' : `segments from ${all[0]!.pdt} to ${all.at(-1)!.pdt + Math.round(all.at(-1)!.duration * 1000)}`
        ctx.http.text(req, res, 404, `no segment of recording ${root.toString()} plays between from and to${rangeQuery(range)}; it has ${span} (ms since the epoch)\n`)
        return
      }
      body = gatewayMediaPlaylist({ entries, discontinuitySequence: 0, ended: true }, { vod: true })
    }
  } catch (err) {
    ctx.log.warn(`recording ${root.toString()}: cannot serve ${file}: ${(err as Error).message}`)
    ctx.http.text(req, res, 502, `recording ${root.toString()} cannot be played from here: ${(err as Error).message}\n`)
    return
  }
  ctx.sawViewer(req)
  ctx.http.send(req, res, 200, headers, body)
}
