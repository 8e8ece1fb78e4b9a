/**
 * Player startup: from navigation to the first frame on screen (the video's first `playing` event), in
 * Chromium, on the site's watch page, with relays that are already warm. Several loads, each in a
 * fresh page, so the median says more than one lucky run.
 */
import { startDevnet } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import { summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

export interface PlayerStartupResult {
  loads: number
  /** ms from navigation start to the first `playing` event. */
  firstFrame: Summary
}

export async function measurePlayerStartup (options: { loads: number }): Promise<PlayerStartupResult> {
  const devnet = await startDevnet({ relays: 2, renditions: '360p', site: true, log: null })
  const browser = await launchChromium()
  try {
    // Let the relays hold a few segments, as they do for any viewer who is not the very first.
    const ready = Date.now() + 30_000
    while (!(await fetch(`${devnet.relays[0]!.url}/hls/${devnet.room}/master.m3u8`).then(r => r.ok, () => false))) {
      if (Date.now() > ready) throw new Error('the relay listed no segment in 30 s')
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    await new Promise(resolve => setTimeout(resolve, 3000))
    const samples: number[] = []
    for (let i = 0; i < options.loads; i++) {
      const page = await browser.newPage()
      await page.addInitScript(() => {
        // Media events do not bubble; a capturing listener on the document still sees them.
        document.addEventListener('playing', () => {
          const w = window as unknown as { firstFrameAt?: number }
          w.firstFrameAt ??= performance.now()
        }, true)
      })
      await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)
      const at = await page.waitForFunction(() => (window as unknown as { firstFrameAt?: number }).firstFrameAt, undefined, { timeout: 30_000 })
      samples.push(await at.jsonValue() as number)
      await page.close()
    }
    return { loads: samples.length, firstFrame: summarize(samples) }
  } finally {
    await browser.close()
    await devnet.stop()
  }
}
