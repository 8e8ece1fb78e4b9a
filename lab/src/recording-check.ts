/**
 * Whether a stretch of the stream made it into the recording as people get it: the first recording
 * of the room that ends after the stretch, pinned by an archiving relay, read from that relay as VOD,
 * must list every segment the origin cut in the stretch, none of them a gap.
 */
import { relayRoutes, relayUrl, verifyRoomMessage } from '@hivecast/shared'
import type { RecordingAnnouncement, RecordingsJson } from '@hivecast/shared'

export interface RecordingCheck {
  /** The recording read (a directory CID). */
  cid: string
  /** Segments of each rendition whose program date time falls in the stretch. */
  inStretch: number
  /** Sequence numbers missing between the stretch's first and last segment, all renditions. */
  missing: number
  /** Entries of the recording's playlists marked `#EXT-X-GAP`. */
  gaps: number
}

const POLL_MS = 2_000

/** One VOD playlist's entries: seq (from `?filename=<seq>.ts`), program date time, gap or not. */
function entries (playlist: string): Array<{ seq: number, pdt: number, gap: boolean }> {
  const out: Array<{ seq: number, pdt: number, gap: boolean }> = []
  let pdt = Number.NaN
  let gap = false
  for (const line of playlist.split('\n')) {
    const time = /^#EXT-X-PROGRAM-DATE-TIME:(.+)$/.exec(line)?.[1]
    if (time !== undefined) pdt = Date.parse(time)
    if (line === '#EXT-X-GAP') gap = true
    const seq = /[?&]filename=(\d+)\.(ts|m4s)$/.exec(line)?.[1]
    if (seq === undefined) continue
    out.push({ seq: Number(seq), pdt, gap })
    gap = false
  }
  return out
}

async function text (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).trim()}`)
  return await res.text()
}

/**
 * Waits up to `timeoutMs` for `relay` (one with --archive) to serve a recording of `room` ending at
 * or after `to`, then checks the stretch [from, to] in each of `renditions`.
 */
export async function checkRecording (relay: string, room: string, keys: string[], renditions: string[], from: number, to: number, timeoutMs: number): Promise<RecordingCheck> {
  const deadline = Date.now() + timeoutMs
  let cid: string | undefined
  let seen = 'no recording listed yet'
  while (cid === undefined) {
    const listed = JSON.parse(await text(relayUrl(relay, relayRoutes.recordings(room)))) as RecordingsJson
    for (const { envelope, archive } of listed.recordings) {
      const verified = await verifyRoomMessage(envelope, keys)
      if (!verified.ok || verified.value.announcement.kind !== 'recording') continue
      const recording = verified.value.announcement as RecordingAnnouncement
      if (recording.ended < to) continue
      seen = `recording ${recording.cid} is ${archive}`
      if (archive === 'pinned') cid = recording.cid
    }
    if (cid !== undefined) break
    if (Date.now() > deadline) throw new Error(`no recording of ${room} ending after the stretch was pinned on ${relay} within ${timeoutMs / 1000} s (${seen})`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
  let inStretch = 0
  let missing = 0
  let gaps = 0
  for (const name of renditions) {
    const listed = entries(await text(relayUrl(relay, relayRoutes.recordingPlaylist(cid, name))))
    gaps += listed.filter(e => e.gap).length
    const stretch = listed.filter(e => e.pdt >= from && e.pdt <= to)
    inStretch += stretch.length
    if (stretch.length === 0) continue
    const first = stretch[0]!.seq
    const last = stretch.at(-1)!.seq
    const held = new Set(listed.map(e => e.seq))
    for (let seq = first; seq <= last; seq++) if (!held.has(seq)) missing++
  }
  return { cid, inStretch, missing, gaps }
}
