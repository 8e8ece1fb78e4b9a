/**
 * Glass-to-glass latency in Chromium: wall clock minus the program-date-time of the frame on screen
 * (the player's `latencyMs`, from hls.js's `playingDate`), sampled every second over a stretch of
 * playback with 1 s segments. Origin, relays and browser share this machine's clock.
 */
import { startDevnet } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import { playerLatencyMs } from '@hivecast/devnet/player-page'
import { summarize } from '@hivecast/devnet'
import type { Summary } from '@hivecast/devnet'

export interface GlassToGlassResult {
  seconds: number
  latencyMs: Summary
}

export async function measureGlassToGlass (options: { seconds: number }): Promise<GlassToGlassResult> {
  const devnet = await startDevnet({ relays: 2, renditions: '360p', site: true, log: null })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}`)
    const latency = async (): Promise<number | null> => await playerLatencyMs(page)
    const deadline = Date.now() + 40_000
    while (await latency() === null) {
      if (Date.now() > deadline) throw new Error('the player reported no latency within 40 s of loading')
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const samples: number[] = []
    for (let i = 0; i < options.seconds; i++) {
      await new Promise(resolve => setTimeout(resolve, 1000))
      const value = await latency()
      if (value !== null) samples.push(value)
    }
    return { seconds: options.seconds, latencyMs: summarize(samples) }
  } finally {
    await browser.close()
    await devnet.stop()
  }
}
