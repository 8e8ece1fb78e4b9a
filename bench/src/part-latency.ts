/**
 * LL-HLS parts against whole segments, in one run: the origin cuts 0.333 s parts (`--part-duration`)
 * and a client watches every relay's media playlist, with blocking reloads for the hinted part and a
 * plain poll beside them, and notes when each part and each segment is first listed. Its latency is
 * that moment (on the last relay to list it) minus the program date time of its last frame: the
 * segment's program date time plus the durations before its end. Program date time is the origin run's
 * start plus media time, so this counts from the frame's place in the stream, encoder delay included.
 */
import { relayRoutes } from '@hivecast/shared'
import { startDevnet, summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

export interface PartLatencyResult {
  relays: number
  seconds: number
  partDuration: number
  /** A part's last frame -> listed on every relay, ms. */
  partMs: Summary
  /** A segment's last frame -> listed on every relay, ms. */
  segmentMs: Summary
  /** The origin's own share for parts: closing bytes read from ffmpeg -> announced, ms (its /status). */
  originPartMs: { p50: number, p99: number } | null
}

const POLL_MS = 100
const RENDITION = '360p'

interface Listing {
  /** `s<seq>` or `p<seq>.<part>` -> program date time of its end, ms. */
  ends: Map<string, number>
  hint: string | undefined
}

/** What one relay's LL-HLS playlist lists, with when each listed thing ends. */
function parseListing (text: string): Listing {
  const ends = new Map<string, number>()
  let seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN)
  let pdt: number | undefined
  let partEnd: number | undefined
  let part = 0
  let hint: string | undefined
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      pdt = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length))
      partEnd = pdt
      part = 0
    }
    const partDuration = /^#EXT-X-PART:DURATION=([\d.]+),/.exec(line)?.[1]
    if (partDuration !== undefined && partEnd !== undefined) {
      partEnd += Number(partDuration) * 1000
      ends.set(`p${seq}.${part++}`, partEnd)
    }
    const duration = /^#EXTINF:([\d.]+),/.exec(line)?.[1]
    if (duration !== undefined && pdt !== undefined) {
      ends.set(`s${seq}`, pdt + Number(duration) * 1000)
      // The parts listed after the last segment belong to the next one, which starts where this ends.
      pdt += Number(duration) * 1000
      partEnd = pdt
      part = 0
      seq++
    }
    const preload = /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="[^"]*\/(\d+)\.(\d+)\.ts"$/.exec(line)
    if (preload !== null) hint = `_HLS_msn=${preload[1]}&_HLS_part=${preload[2]}`
  }
  return { ends, hint }
}

async function playlist (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  return res.ok ? await res.text() : ''
}

export async function measurePartLatency (options: { relays: number, seconds: number, partDuration: number }): Promise<PartLatencyResult> {
  const devnet = await startDevnet({ relays: options.relays, renditions: RENDITION, partDuration: options.partDuration })
  try {
    /** Per relay: what it lists -> when first seen; and what it listed at the first look (not timed). */
    const seen = devnet.relays.map(() => new Map<string, { at: number, end: number }>())
    const before = devnet.relays.map(() => new Set<string>())
    const until = Date.now() + options.seconds * 1000
    const note = (relay: number, text: string, first: boolean): void => {
      const at = Date.now()
      for (const [key, end] of parseListing(text).ends) {
        if (first) before[relay]!.add(key)
        else if (!seen[relay]!.has(key) && !before[relay]!.has(key)) seen[relay]!.set(key, { at, end })
      }
    }
    await Promise.all(devnet.relays.map(async (relay, index) => {
      const url = `${relay.url}${relayRoutes.mediaPlaylist(devnet.room, RENDITION)}`
      const first = await playlist(url)
      note(index, first, true)
      const blocking = (async () => {
        let hint = parseListing(first).hint
        while (Date.now() < until) {
          const text = await playlist(hint === undefined ? url : `${url}?${hint}`).catch(() => '')
          note(index, text, false)
          hint = parseListing(text).hint
          if (text === '') await new Promise(resolve => setTimeout(resolve, POLL_MS))
        }
      })()
      while (Date.now() < until) {
        note(index, await playlist(url).catch(() => ''), false)
        await new Promise(resolve => setTimeout(resolve, POLL_MS))
      }
      await blocking
    }))
    const parts: number[] = []
    const segments: number[] = []
    for (const [key, { end }] of seen[0]!) {
      const everywhere = seen.map(s => s.get(key)?.at)
      if (everywhere.some(at => at === undefined)) continue
      const latency = Math.max(...everywhere as number[]) - end
      if (key.startsWith('p')) parts.push(latency)
      else segments.push(latency)
    }
    const status = await (await fetch(`${devnet.origin.url}/status`, { signal: AbortSignal.timeout(5000) })).json() as { parts: { latencyMs: { p50: number, p99: number } | null } | null }
    return {
      relays: options.relays,
      seconds: options.seconds,
      partDuration: options.partDuration,
      partMs: summarize(parts),
      segmentMs: summarize(segments),
      originPartMs: status.parts?.latencyMs ?? null
    }
  } finally {
    await devnet.stop()
  }
}
