/**
 * A last-minute recording opt-out, end to end on real processes: an origin (ffmpeg test pattern) with
 * its admin endpoint on, interim recordings every 5 s, and two relays that pin every recording
 * (`--archive`). Once both list a recording holding the talk's time range, an organiser opts the range
 * out through the origin's authenticated endpoint: every relay unlists that recording, stops serving
 * it, and counts the range's segments withdrawn (never pinned or kept again; the live window still
 * streams them while it holds them, as a talk opted out of recording may still be streamed).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import { eventually } from '@hivecast/devnet'
import { devnetForTest } from './src/devnet-fixture.ts'
import type { RecordingsJson } from '@hivecast/shared'

const ADMIN_TOKEN = 'a-long-random-admin-token-for-the-consent-test-0123456789'
/** The talk that opts out: seconds after the relays first list a recording, and how long it lasts. */
const TALK_START_S = -6
const TALK_SECONDS = 3

const devnet = await devnetForTest('consent-withdrawal', { relays: 2, renditions: '240p', archive: true, recordingInterval: 5, adminToken: ADMIN_TOKEN })

interface Recording { cid: string, session: string, started: number, ended: number }

async function recordings (relay: string): Promise<Recording[]> {
  const res = await fetch(relayUrl(relay, relayRoutes.recordings(devnet.room)), { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200)
  const { recordings } = await res.json() as RecordingsJson
  return recordings.map(r => JSON.parse(r.envelope.payload) as Recording)
}

test('an opt-out through the admin endpoint withdraws the recorded range from every relay', async () => {
  // A range well inside what both relays have pinned: the talk ended a few seconds ago.
  const pinned = await eventually('both relays listing an interim recording of 10 s or more', async () => {
    const lists = await Promise.all(devnet.relays.map(async r => await recordings(r.url)))
    const common = lists[0]!.filter(a => lists.every(list => list.some(b => b.cid === a.cid)) && a.ended - a.started >= 10_000)
    return common.at(-1)
  }, 90_000, 500)
  const to = pinned.ended + TALK_START_S * 1000 + TALK_SECONDS * 1000
  const from = to - TALK_SECONDS * 1000
  // A relay lists a recording when its announcement comes and serves it once the pin is done (in CI
  // the first request came before that and got 404).
  for (const relay of devnet.relays) {
    await eventually(`${relay.url} serving the recording before the opt-out`, async () => (await fetch(new URL(`ipfs/${pinned.cid}?format=raw`, relay.url))).status === 200 ? true : undefined, 30_000, 500)
  }

  const res = await fetch(new URL('admin/opt-out', devnet.origin.url), {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), title: 'Speakers asked not to be recorded' })
  })
  assert.equal(res.status, 200, await res.clone().text())
  const { withdrawn } = await res.json() as { withdrawn: string[] }
  assert.ok(withdrawn.includes(pinned.cid), `the recording holding the range is withdrawn: ${JSON.stringify(withdrawn)}`)

  for (const relay of devnet.relays) {
    await eventually(`${relay.url} to unlist the withdrawn recordings`, async () => {
      const listed = await recordings(relay.url)
      return listed.some(r => withdrawn.includes(r.cid)) ? undefined : true
    }, 20_000, 250)
    await eventually(`${relay.url} to count the range's segments withdrawn`, async () => {
      const status = await (await fetch(`${relay.url}/status`)).json() as { recordings: { withdrawnSegments: number } }
      return status.recordings.withdrawnSegments >= TALK_SECONDS - 1 ? true : undefined
    }, 20_000, 250)
    assert.equal((await fetch(new URL(`ipfs/${pinned.cid}?format=raw`, relay.url))).status, 404, `${relay.url} no longer serves the withdrawn recording ${pinned.cid}`)
  }
  // Without the admin token, nothing is withdrawn.
  const refused = await fetch(new URL('admin/opt-out', devnet.origin.url), {
    method: 'POST',
    headers: { Authorization: 'Bearer wrong', 'Content-Type': 'application/json' },
    body: JSON.stringify({ from: new Date(from - 60_000).toISOString(), to: new Date(from - 50_000).toISOString(), title: 'x' })
  })
  assert.equal(refused.status, 401)
})
