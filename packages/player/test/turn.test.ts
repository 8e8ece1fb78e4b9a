/**
 * Viewers use the TURN server their relay names: a devnet whose relay hands out coturn (STUN and TURN
 * with short-lived credentials from a shared secret), two `<hivecast-player>` pages in Debian Chromium
 * that connect to each other, and coturn's own log showing the viewers' WebRTC allocating relayed
 * addresses with credentials the relay minted. Before viewers took ICE servers from relays, their
 * WebRTC had none and coturn saw nobody.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { after, before, test } from 'node:test'
import { eventually, startDevnet, startTurnServer } from '@hivecast/devnet'
import { launchChromium } from '@hivecast/devnet/chromium'
import type { Devnet, TurnServer } from '@hivecast/devnet'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import type { Browser } from 'playwright-core'
import type { PlayerStats } from '../src/index.ts'

/** coturn's line for an allocation that succeeded, naming the TURN REST username the relay minted. */
const ALLOCATED = /user <(\d+):hivecast>: incoming packet ALLOCATE processed, success/g

let turn: TurnServer | undefined
let devnet: Devnet | undefined
let browser: Browser | undefined
let host: Server | undefined

before(async () => {
  turn = await startTurnServer()
  devnet = await startDevnet({ relays: 1, renditions: '240p', site: true, turn, log: null })
  browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns'])
  const net = devnet
  host = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><body>
      <hivecast-player room="${net.room}" key="${net.origin.key}" relays="${net.relays.map(r => r.url).join(' ')}"></hivecast-player>
      <script type="module" src="${net.site!.url}hivecast-player.js"></script></body>`)
  })
  await new Promise<void>(resolve => host!.listen(0, '127.0.0.1', resolve))
})

after(async () => {
  await browser?.close()
  host?.closeAllConnections()
  await new Promise(resolve => host?.close(resolve) ?? resolve(undefined))
  await devnet?.stop()
  await turn?.stop()
})

test('two viewers take their TURN server and credentials from the relay, and the TURN server allocates for them', async () => {
  assert.equal([...turn!.log().matchAll(ALLOCATED)].length, 0, 'nobody allocated before the viewers came')
  const pages = await Promise.all([0, 1].map(async () => {
    const page = await browser!.newPage()
    await page.goto(`http://127.0.0.1:${(host!.address() as AddressInfo).port}/`)
    return page
  }))
  const stats = async (): Promise<PlayerStats[]> => await Promise.all(pages.map(async page => await page.evaluate(() =>
    (document.querySelector('hivecast-player') as unknown as { stats: () => PlayerStats }).stats())))
  await eventually('both viewers to connect to each other', async () => {
    const all = await stats()
    return all.every(s => s.p2p === 'on' && s.peers.peers >= 1) ? all : undefined
  }, 90_000)
  // WebRTC gathers candidates (and allocates on TURN) when a viewer dials another over it, which on a
  // busy machine can come well after the first (circuit) connection.
  const allocated = (): RegExpExecArray[] | undefined => {
    const found = [...turn!.log().matchAll(ALLOCATED)]
    return found.length >= 1 ? found : undefined
  }
  // Twice in CI (never alone here) the two viewers were connected over WebRTC and sharing, yet coturn
  // saw only STUN Binding requests for 90 s: the cause is not known. The second viewer then loads the
  // page again, which dials anew; a viewer that never allocates still fails the test.
  const allocations = await eventually('coturn to allocate for the viewers', allocated, 30_000).catch(async () => {
    console.log(`no allocation 30 s after the viewers connected (viewers: ${JSON.stringify((await stats()).map(s => s.peers))}); the second viewer loads the page again`)
    await pages[1]!.reload()
    return await eventually('coturn to allocate for the viewers after a reload', allocated, 60_000)
  }).catch(async (err: Error) => {
    const sessions = turn!.log().split('\n').filter(line => line.includes('session')).slice(-10).join('\n')
    throw new Error(`${err.message}; viewers: ${JSON.stringify((await stats()).map(s => s.peers))}; coturn's last session lines:\n${sessions}`)
  })
  const now = Date.now() / 1000
  for (const [, expiry] of allocations) {
    // The relay's default --turn-ttl: an hour from when the viewer asked.
    assert.ok(Number(expiry) > now + 3_000 && Number(expiry) < now + 3_700, `credentials expire in about an hour: ${expiry}`)
  }
})
