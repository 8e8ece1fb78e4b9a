/**
 * Caption delay: a line POSTed to the origin's live captioner -> the cue shown in a Chromium viewer
 * (active in its video's TextTrack), on the watch page with captions on. Also how far the picture
 * under the cue is from the moment the line was typed (the player's program date time then): the cue
 * should sit under the picture it belongs to, so that offset stays near 0 while the delay is the
 * player's latency.
 */
import { randomBytes } from 'node:crypto'
import { startDevnet } from '@hivecast/devnet'
import { postCaption, waitForCueShown } from '@hivecast/devnet/caption-viewer'
import { launchChromium } from '@hivecast/devnet/chromium'
import { summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

export interface CaptionDelayResult {
  captions: number
  /** ms from the POST to the cue shown. */
  delayMs: Summary
  /** ms between the typing and the program date time of the picture under the cue (absolute). */
  pictureOffsetMs: Summary
}

export async function measureCaptionDelay (options: { captions: number }): Promise<CaptionDelayResult> {
  const token = randomBytes(16).toString('hex')
  const devnet = await startDevnet({ relays: 1, renditions: '360p', site: true, captions: 'en:English', captionToken: token, log: null })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    await page.addInitScript(() => { localStorage.setItem('hivecast:captions', 'on') })
    await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)
    await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 2, undefined, { timeout: 60_000 })
    const delays: number[] = []
    const offsets: number[] = []
    for (let i = 0; i < options.captions; i++) {
      const text = `Caption ${i} ${randomBytes(3).toString('hex')}`
      const postedAt = Date.now()
      const posted = await postCaption(devnet.origin.url, token, text)
      if (posted.status !== 200) throw new Error(`the captioner refused a caption: ${posted.status} ${posted.body.error ?? ''}`)
      const shown = await waitForCueShown(page, text, 30_000)
      delays.push(shown.shownAt - postedAt)
      if (shown.latencyMs !== null) offsets.push(Math.abs(shown.shownAt - shown.latencyMs - postedAt))
      // The next line after this one has left the screen (a typed cue stays up 3 s).
      await new Promise(resolve => setTimeout(resolve, 3500))
    }
    return { captions: delays.length, delayMs: summarize(delays), pictureOffsetMs: summarize(offsets) }
  } finally {
    await browser.close()
    await devnet.stop()
  }
}
