/**
 * A relay's live playlist as entries, and the timestamps of its MPEG-TS segments as a player reading
 * them one after another sees them: fetched from the relay by CID, read with ffprobe one by one and
 * concatenated. Times are 90 kHz ticks, compared across the 33-bit wrap.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const TICKS_PER_SECOND = 90_000

export interface Entry { seq: number, cid: string, pdt: number, duration: number, discontinuity: boolean }

/** The relay's media playlist of `rendition` as entries, or [] while it has none. */
export async function relayEntries (relay: string, room: string, rendition: string): Promise<Entry[]> {
  const res = await fetch(`${relay}/hls/${room}/${rendition}.m3u8`, { signal: AbortSignal.timeout(5000) })
  if (res.status !== 200) return []
  const text = await res.text()
  let seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1])
  const entries: Entry[] = []
  let pending = { discontinuity: false, pdt: 0, duration: 0 }
  for (const line of text.split('\n')) {
    if (line === '#EXT-X-DISCONTINUITY') pending.discontinuity = true
    const pdt = /^#EXT-X-PROGRAM-DATE-TIME:(.+)$/.exec(line)?.[1]
    if (pdt !== undefined) pending.pdt = Date.parse(pdt)
    const duration = /^#EXTINF:([\d.]+),/.exec(line)?.[1]
    if (duration !== undefined) pending.duration = Number(duration)
    const cid = /^\/ipfs\/([a-z0-9]+)\?/.exec(line)?.[1]
    if (cid === undefined) continue
    entries.push({ seq: seq++, cid, ...pending })
    pending = { discontinuity: false, pdt: 0, duration: 0 }
  }
  return entries
}

export interface Packet {
  kind: 'video' | 'audio'
  pts: number
  dts: number
  /** 0 when ffprobe gives none. */
  duration: number
}

/** `b - a` in 90 kHz ticks, the short way round the 33-bit wrap: negative when `b` is before `a`. */
export function ticksBetween (a: number, b: number): number {
  const wrap = 2 ** 33
  const d = (((b - a) % wrap) + wrap) % wrap
  return d >= wrap / 2 ? d - wrap : d
}

/** The bytes of each CID, from the relay's trustless gateway. */
export async function fetchSegments (relayUrl: string, cids: readonly string[]): Promise<Uint8Array[]> {
  return await Promise.all(cids.map(async cid => {
    const res = await fetch(`${relayUrl}/ipfs/${cid}?format=raw`, { signal: AbortSignal.timeout(10_000) })
    assert.equal(res.status, 200, `the relay answered ${res.status} for ${cid}`)
    return new Uint8Array(await res.arrayBuffer())
  }))
}

/** ffprobe's packets of an MPEG-TS file, in file order. */
export async function probePackets (bytes: Uint8Array): Promise<Packet[]> {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-pts-'))
  try {
    const file = join(dir, 'segments.ts')
    await writeFile(file, bytes)
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,pts,dts,duration', '-of', 'json', file], { maxBuffer: 64 * 1024 * 1024 })
    const packets = (JSON.parse(stdout) as { packets?: Array<Record<string, unknown>> }).packets ?? []
    return packets.flatMap(p => p.codec_type === 'video' || p.codec_type === 'audio'
      ? [{ kind: p.codec_type, pts: Number(p.pts), dts: Number(p.dts), duration: Number(p.duration ?? 0) || 0 }]
      : [])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** A segment's video: its first presentation time and where its last frame ends. */
export async function videoSpan (bytes: Uint8Array): Promise<{ start: number, end: number, frame: number }> {
  const video = (await probePackets(bytes)).filter(p => p.kind === 'video')
  assert.ok(video.length > 0, 'the segment has video packets')
  const first = video[0]!.pts
  // Presentation order differs from file order (B-frames): measure every frame from the first.
  const offsets = video.map(p => ticksBetween(first, p.pts))
  const frame = video.find(p => p.duration > 0)?.duration ?? 0
  return { start: first + Math.min(...offsets), end: first + Math.max(...offsets) + frame, frame }
}

/** Every stream's decode times rise from packet to packet through the concatenated segments; else what went back, where. */
export async function decodeTimesRise (segments: readonly Uint8Array[]): Promise<string[]> {
  const packets = await probePackets(Buffer.concat(segments))
  const problems: string[] = []
  for (const kind of ['video', 'audio'] as const) {
    const stream = packets.filter(p => p.kind === kind)
    assert.ok(stream.length > 0, `the segments have ${kind} packets`)
    stream.forEach((p, i) => {
      if (i === 0) return
      const step = ticksBetween(stream[i - 1]!.dts, p.dts)
      if (step <= 0) problems.push(`${kind} DTS went from ${stream[i - 1]!.dts} to ${p.dts} (${(step / TICKS_PER_SECOND).toFixed(3)} s) at packet ${i}`)
    })
  }
  return problems
}
