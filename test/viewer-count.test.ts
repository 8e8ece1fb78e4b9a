/**
 * Viewer counts with real Chromium players: two viewers, each on its own relay, count as two on both
 * relays (each relay hears the other's signed count), on the watch page ("2 watching") and on the
 * status page. The players' window requests carry their per-session tokens, one per page.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { eventually } from '@hivecast/devnet'
import { isViewerToken, parseRelayStatus, relayRoutes, relayUrl, VIEWER_TOKEN_PARAM } from '@hivecast/shared'
import { launchChromium } from './src/chromium.ts'
import { devnetForTest, RESULTS_DIR } from './src/devnet-fixture.ts'
import { openWatchPage } from './src/watch-page.ts'
import type { Viewer } from './src/watch-page.ts'

const devnet = await devnetForTest('viewer-count', { relays: 2, renditions: '240p', site: true })
const browser = await launchChromium()
after(async () => { await browser.close() })

async function networkViewers (relay: string): Promise<number | undefined> {
  const status = parseRelayStatus(await (await fetch(relayUrl(relay, relayRoutes.status()))).json())
  return status?.rooms[devnet.room]?.viewers.network
}

test('two Chromium viewers on two relays count as two on both relays, the watch page and the status page', async () => {
  const [first, second] = devnet.relays.map(r => r.url)
  const viewers: Viewer[] = []
  const tokens: Array<Set<string>> = []
  try {
    for (const relay of [first!, second!]) {
      const seen = new Set<string>()
      tokens.push(seen)
      const viewer = await openWatchPage(browser, devnet.site!.url, devnet.room, { relays: [relay], key: devnet.origin.key })
      viewer.page.on('request', request => {
        const url = new URL(request.url())
        if (url.pathname === relayRoutes.window(devnet.room)) seen.add(url.searchParams.get(VIEWER_TOKEN_PARAM) ?? '(none)')
      })
      viewers.push(viewer)
    }
    for (const relay of [first!, second!]) {
      await eventually(`${relay} to count 2 viewers network-wide`, async () => await networkViewers(relay) === 2 ? true : undefined, 30_000)
    }
    for (const seen of tokens) {
      assert.equal(seen.size, 1, `one token per page session, sent with every window request: ${[...seen].join(', ')}`)
      assert.ok(isViewerToken([...seen][0]), `a well-formed token: ${[...seen][0]}`)
    }
    assert.notDeepEqual([...tokens[0]!], [...tokens[1]!], 'two pages, two tokens')
    const watching = await eventually('the watch page to say 2 watching', async () => {
      const text = await viewers[0]!.page.locator('.watching').textContent({ timeout: 1_000 }).catch(() => null)
      return text === '2 watching' ? text : undefined
    }, 20_000)
    assert.equal(watching, '2 watching')
    await viewers[0]!.page.screenshot({ path: `${RESULTS_DIR}viewer-count-watch.png` })
    const status = await browser.newPage()
    try {
      await status.goto(`${devnet.site!.url}status.html`)
      const cell = status.locator(`tr[data-room="${devnet.room}"] td[data-viewers]`)
      await eventually('the status page to show 2 viewers for the room', async () => await cell.getAttribute('data-viewers', { timeout: 1_000 }).catch(() => null) === '2' ? true : undefined, 20_000)
      await status.screenshot({ path: `${RESULTS_DIR}viewer-count-status.png` })
    } finally {
      await status.close()
    }
    for (const viewer of viewers) assert.deepEqual(viewer.problems, [])
  } finally {
    for (const viewer of viewers) await viewer.page.close()
  }
})
