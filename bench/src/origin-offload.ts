/**
 * Origin offload: what the origin uploads (counted by a TCP proxy in front of its libp2p port, not by
 * libp2p's own accounting) against what the viewers received (the players' verified bytes), with
 * relays and Chromium viewers on this machine, over a stretch of steady playback. Also the origin's
 * upload against the stream's own bytes: ~1 means it sends each segment about once.
 */
import { PublishedTally, startDevnet } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import { playedBytesOf } from '@hivecast/devnet/player-page'
import type { Page } from 'playwright-core'

export interface OriginOffloadResult {
  relays: number
  viewers: number
  seconds: number
  originUploadBytes: number
  viewerBytes: number
  streamBytes: number
  /** Origin upload / bytes delivered to viewers: the smaller, the more the relays carry. */
  uploadPerViewerByte: number
  /** Origin upload / the stream's own bytes over the same time. */
  uploadPerStreamByte: number
}

async function viewerBytes (pages: Page[]): Promise<number> {
  return (await playedBytesOf(pages)).all
}

export async function measureOriginOffload (options: { relays: number, viewers: number, seconds: number, p2p?: 'on' | 'off' }): Promise<OriginOffloadResult> {
  const devnet = await startDevnet({ relays: options.relays, renditions: '240p', site: true, countOriginUpload: true, log: null })
  const browser = await launchChromium()
  try {
    const pages: Page[] = []
    for (let i = 0; i < options.viewers; i++) {
      const page = await browser.newPage()
      await page.goto(`${devnet.site!.url}watch.html?room=${devnet.room}${options.p2p === 'off' ? '&p2p=off' : ''}`)
      pages.push(page)
    }
    for (const page of pages) {
      await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, undefined, { timeout: 60_000 })
    }
    const startedAt = Date.now()
    const upload0 = devnet.originUpload!.downstreamBytes
    const viewers0 = await viewerBytes(pages)
    await new Promise(resolve => setTimeout(resolve, options.seconds * 1000))
    const upload = devnet.originUpload!.downstreamBytes - upload0
    const viewers = await viewerBytes(pages) - viewers0
    const published = new PublishedTally(devnet.origin.url)
    await published.sample()
    const stream = published.bytesBetween(startedAt, startedAt + options.seconds * 1000)
    return {
      relays: options.relays,
      viewers: options.viewers,
      seconds: options.seconds,
      originUploadBytes: upload,
      viewerBytes: viewers,
      streamBytes: stream,
      uploadPerViewerByte: upload / viewers,
      uploadPerStreamByte: upload / stream
    }
  } finally {
    await browser.close()
    await devnet.stop()
  }
}
