/**
 * Captions as a viewer sees them and a captioner sends them, for the caption tests and the caption
 * delay bench: a line POSTed to the origin's captioner endpoint, and the moment a Chromium viewer's
 * video shows it (a cue with that text among the active cues of one of its TextTracks).
 */
import type { Page } from 'playwright-core'

/** POSTs `text` to the origin's `/captions` with `token`; the status and the JSON answer. */
export async function postCaption (originUrl: string, token: string, text: string): Promise<{ status: number, body: { cue?: { id: string, start: number, end: number, text: string }, error?: string } }> {
  const res = await fetch(`${originUrl}/captions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ text }) })
  return { status: res.status, body: await res.json() as { cue?: { id: string, start: number, end: number, text: string }, error?: string } }
}

export interface CueShown {
  /** Date.now() in the page when the cue was first seen among the active cues (polled every 50 ms). */
  shownAt: number
  /** The player's latency then (ms behind the program date time on screen), from its stats. */
  latencyMs: number | null
  /** The TextTrack's mode then: `showing` when the viewer sees it. */
  mode: string
}

/** Waits until a cue whose text is `text` is active in the page's video; throws after `timeoutMs`. */
export async function waitForCueShown (page: Page, text: string, timeoutMs: number): Promise<CueShown> {
  const handle = await page.waitForFunction((wanted: string) => {
    const video = document.querySelector('video')
    if (video === null) return undefined
    for (const track of Array.from(video.textTracks)) {
      for (const cue of Array.from(track.activeCues ?? [])) {
        if ((cue as VTTCue).text !== wanted) continue
        const player = (window as unknown as { hivecastPlayer?: { stats: () => { latencyMs: number | null } } }).hivecastPlayer
        return { shownAt: Date.now(), latencyMs: player?.stats().latencyMs ?? null, mode: track.mode }
      }
    }
    return undefined
  }, text, { timeout: timeoutMs, polling: 50 })
  return await handle.jsonValue() as CueShown
}
