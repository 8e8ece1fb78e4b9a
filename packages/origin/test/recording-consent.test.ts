/**
 * Recording consent, end to end: a real origin encodes the test pattern with a conference schedule in
 * which a talk's speakers opted out of the recording, for a part of the session. Once the session is
 * stopped, the final recording's directory is walked (from the origin's blockstore): it links every
 * journalled segment outside the talk and none that plays during it, and its playlist marks the cut
 * with a discontinuity. One schedule is frab XML read from a file, with times on the conference's days
 * in a zone far from UTC and no `<date>`, so a reader that ignores `time_zone_name` cuts the wrong
 * segments; the other is pretalx's schedule.json served over HTTP on 127.0.0.1. A third origin has no
 * schedule: an organiser opts a time range out through the authenticated admin endpoint while it runs.
 * A fourth opts out a range an interim recording already holds: the origin announces a signed
 * withdrawal of that recording (relays act on it: packages/relay/test/recordings.test.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { CID } from 'multiformats/cid'
import { eventually, listenOnLoopback } from '@hivecast/devnet'
import { roomTopic, verifyRoomMessage } from '@hivecast/shared'
import type { WithdrawalAnnouncement } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import { startOrigin } from '../src/index.ts'
import type { Origin, OriginOptions } from '../src/index.ts'

const ROOM = 'consent-test'
const TITLE = 'Hall K'

interface JournalLine { rendition: { name: string }, seq: number, pdt: number, duration: number }

/** The wall clock of `ms` in `zone`: date `YYYY-MM-DD` and time `HH:MM:SS`. */
function wallClock (ms: number, zone: string): { date: string, time: string } {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit'
  }).formatToParts(ms).map(p => [p.type, p.value]))
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}:${parts.second}` }
}

/** `HH:MM:SS` of a span of seconds. */
function span (seconds: number): string {
  return [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60].map(n => String(n).padStart(2, '0')).join(':')
}

/**
 * Runs an origin with `options` until its segments reach `until` (ms), doing `live` meanwhile, stops it,
 * and returns what the final recording links and what was journalled.
 */
async function recordSession (dir: string, options: Pick<OriginOptions, 'schedule' | 'adminTokenFile'>, until: number, logs: string[], live?: (origin: Origin) => Promise<void>): Promise<{
  journal: JournalLine[]
  linked: Set<number>
  playlist: string
  withheld: Array<{ id: string, title: string, reason: string, segments: number }>
}> {
  const dataDir = join(dir, 'origin')
  const origin = await startOrigin({
    room: ROOM,
    title: TITLE,
    dataDir,
    http: '127.0.0.1:0',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    renditions: ['240p'],
    thumbnailInterval: 0,
    recordingInterval: 4,
    ...options,
    log: line => logs.push(line)
  })
  let stopped = false
  try {
    await live?.(origin)
    await eventually(`segments past ${new Date(until).toISOString()}`, () => origin.status().recent.some(s => s.pdt > until) ? true : undefined, 45_000, 250)
    await origin.stop()
    stopped = true
  } finally {
    if (!stopped) await origin.stop()
  }
  const status = origin.status()
  const final = status.recording.recordings.find(r => r.final)
  assert.ok(final !== undefined, 'a final recording was made')
  const journal = (await readFile(join(dataDir, 'recordings', `${status.recording.session}.jsonl`), 'utf8'))
    .split('\n').filter(line => line !== '').map(line => JSON.parse(line) as JournalLine)

  // Walk the recording from the origin's own blocks, as any UnixFS reader would.
  const node = await createP2PNode({ identity: await loadOrCreateIdentity(dataDir), dataDir, listen: [], allowPublishToZeroTopicPeers: true })
  try {
    const fs = unixfs(node)
    const root = CID.parse(final.cid)
    const top: string[] = []
    for await (const entry of fs.ls(root)) top.push(entry.name)
    assert.deepEqual(top, ['240p', '240p.m3u8', 'index.m3u8'])
    const linked = new Set<number>()
    for await (const entry of fs.ls(root, { path: '240p' })) {
      const match = /^(\d+)\.ts$/.exec(entry.name)
      assert.ok(match !== null, `the rendition directory holds segments only, not ${entry.name}`)
      linked.add(Number(match[1]))
    }
    const chunks: Uint8Array[] = []
    for await (const chunk of fs.cat(root, { path: '240p.m3u8' })) chunks.push(chunk)
    return { journal, linked, playlist: Buffer.concat(chunks).toString('utf8'), withheld: status.recording.withheld }
  } finally {
    await node.stop()
  }
}

/** Splits the journal at a talk: the seqs playing during [start, end) and the others. */
function splitAt (journal: JournalLine[], start: number, end: number): { during: number[], outside: number[] } {
  const overlaps = (s: JournalLine): boolean => s.pdt < end && s.pdt + s.duration * 1000 > start
  return {
    during: journal.filter(overlaps).map(s => s.seq).sort((a, b) => a - b),
    outside: journal.filter(s => !overlaps(s)).map(s => s.seq).sort((a, b) => a - b)
  }
}

/** The playlist's segment seqs in order, with those that follow an #EXT-X-DISCONTINUITY. */
function playlistSegments (playlist: string): { seqs: number[], afterCut: number[] } {
  const seqs: number[] = []
  const afterCut: number[] = []
  let cut = false
  for (const line of playlist.split('\n')) {
    if (line === '#EXT-X-DISCONTINUITY') cut = true
    const match = /^240p\/(\d+)\.ts$/.exec(line)
    if (match === null) continue
    seqs.push(Number(match[1]))
    if (cut) afterCut.push(Number(match[1]))
    cut = false
  }
  return { seqs, afterCut }
}

test('frab XML from a file: an opted-out talk, timed in the conference\'s zone without <date>, is in no recording', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-consent-xml-'))
  const logs: string[] = []
  let passed = false
  t.after(async () => {
    await rm(dir, { recursive: true, force: true })
    if (!passed) t.diagnostic(`log:\n${logs.join('\n')}`)
  })
  // St. John's is UTC-03:30: read as UTC or as this machine's zone, the talk would be hours away.
  const zone = 'America/St_Johns'
  const now = Math.floor(Date.now() / 1000) * 1000
  const optedOut = { start: now + 9_000, end: now + 17_000 }
  const day = wallClock(now - 60_000, zone).date
  const event = (id: number, from: number, to: number, title: string, recording: string): string => `
      <event id="${id}" guid="00000000-0000-4000-8000-00000000000${id}">
        <start>${wallClock(from, zone).time}</start>
        <duration>${span((to - from) / 1000)}</duration>
        <room>${TITLE}</room>
        <title>${title}</title>
        <persons><person id="${id}">Speaker ${id}</person></persons>
        ${recording}
      </event>`
  const xml = `<?xml version="1.0" encoding="utf-8"?>
<schedule>
  <conference><acronym>consent</acronym><title>Consent test</title><time_zone_name>${zone}</time_zone_name></conference>
  <day index="1" date="${day}">
    <room name="${TITLE}">${event(1, now - 60_000, optedOut.start, 'Recorded before', '<recording><license>CC BY 4.0</license><optout>false</optout></recording>')}${event(2, optedOut.start, optedOut.end, 'The speaker said no', '<recording><license></license><optout>true</optout></recording>')}${event(3, optedOut.end, now + 120_000, 'Recorded after', '<recording><optout>false</optout></recording>')}
    </room>
  </day>
</schedule>
`
  const file = join(dir, 'schedule.xml')
  await writeFile(file, xml)
  const { journal, linked, playlist, withheld } = await recordSession(dir, { schedule: file }, optedOut.end + 6_000, logs)

  const { during, outside } = splitAt(journal, optedOut.start, optedOut.end)
  assert.ok(during.length >= 4, `the talk covers ${during.length} journalled segments`)
  assert.ok(outside.some(seq => seq < during[0]!) && outside.some(seq => seq > during.at(-1)!), 'the session has segments before and after the talk')
  for (const seq of during) assert.ok(!linked.has(seq), `segment ${seq}, during the opted-out talk, is not in the recording`)
  assert.deepEqual([...linked].sort((a, b) => a - b), outside, 'every segment outside the talk is in the recording')
  const { seqs, afterCut } = playlistSegments(playlist)
  assert.deepEqual(seqs, outside, 'the playlist lists what the directory links')
  assert.ok(afterCut.includes(during.at(-1)! + 1), 'the first segment after the talk starts a discontinuity')
  assert.deepEqual(withheld.map(w => [w.id, w.title, w.segments]), [['2', 'The speaker said no', during.length]])
  assert.match(withheld[0]!.reason, /opted out/)
  assert.ok(logs.some(line => /segments left out for "The speaker said no"/.test(line)), 'the log says what was left out')
  passed = true
})

test('pretalx schedule.json over HTTP: an opted-out talk is in no recording, the talk after it is', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-consent-json-'))
  const logs: string[] = []
  let passed = false
  // Kathmandu is UTC+05:45; pretalx writes each talk's local time with that offset.
  const zone = 'Asia/Kathmandu'
  const now = Math.floor(Date.now() / 1000) * 1000
  const optedOut = { start: now - 52_000, end: now + 8_000 }
  const talk = (id: number, start: number, title: string, doNotRecord: boolean): Record<string, unknown> => {
    const { date, time } = wallClock(start, zone)
    return {
      guid: `00000000-0000-4000-8000-00000000010${id}`,
      code: `T${id}`,
      id,
      date: `${date}T${time}+05:45`,
      start: time.slice(0, 5),
      duration: '00:01',
      room: TITLE,
      slug: `consent-${id}`,
      title,
      type: 'Talk',
      language: 'en',
      recording_license: '',
      do_not_record: doNotRecord,
      persons: [{ code: `P${id}`, name: `Speaker ${id}`, public_name: `Speaker ${id}` }]
    }
  }
  const body = JSON.stringify({
    $schema: 'https://c3voc.de/schedule/schema.json',
    generator: { name: 'pretalx', version: '2025.1.0' },
    schedule: {
      version: '1.0',
      conference: {
        acronym: 'consent',
        title: 'Consent test',
        time_zone_name: zone,
        rooms: [{ name: TITLE }],
        days: [{
          index: 1,
          date: wallClock(optedOut.start, zone).date,
          rooms: { [TITLE]: [talk(1, optedOut.start, 'No recording, please', true), talk(2, optedOut.end, 'Recorded', false)] }
        }]
      }
    }
  })
  let requests = 0
  const server = await listenOnLoopback(createServer((_req, res) => {
    requests++
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(body)
  }))
  t.after(async () => {
    await server.close()
    await rm(dir, { recursive: true, force: true })
    if (!passed) t.diagnostic(`log:\n${logs.join('\n')}`)
  })
  const { journal, linked, playlist, withheld } = await recordSession(dir, { schedule: `${server.url}/consent/schedule/export/schedule.json` }, optedOut.end + 8_000, logs)
  assert.ok(requests >= 1, 'the origin fetched the schedule')

  const { during, outside } = splitAt(journal, optedOut.start, optedOut.end)
  assert.ok(during.length >= 2, `the talk covers ${during.length} journalled segments`)
  assert.ok(outside.length >= 4, `${outside.length} segments after the talk`)
  for (const seq of during) assert.ok(!linked.has(seq), `segment ${seq}, during the opted-out talk, is not in the recording`)
  assert.deepEqual([...linked].sort((a, b) => a - b), outside, 'every segment after the talk is in the recording')
  const { seqs, afterCut } = playlistSegments(playlist)
  assert.deepEqual(seqs, outside)
  assert.equal(afterCut[0], outside[0], 'the recording starts after the cut with a discontinuity')
  assert.deepEqual(withheld.map(w => [w.id, w.title, w.segments]), [['1', 'No recording, please', during.length]])
  passed = true
})

test('a last-minute opt-out through the admin endpoint keeps its range out of the recordings made after it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-consent-admin-'))
  const logs: string[] = []
  let passed = false
  t.after(async () => {
    await rm(dir, { recursive: true, force: true })
    if (!passed) t.diagnostic(`log:\n${logs.join('\n')}`)
  })
  const token = 'a-long-random-admin-token-0123456789'
  const tokenFile = join(dir, 'admin-token')
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 })
  const now = Math.floor(Date.now() / 1000) * 1000
  const range = { start: now + 9_000, end: now + 16_000 }
  const { journal, linked, withheld } = await recordSession(dir, { adminTokenFile: tokenFile }, range.end + 6_000, logs, async origin => {
    const optOut = (body: unknown, auth = `Bearer ${token}`): Promise<Response> =>
      fetch(new URL('admin/opt-out', origin.url), { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    assert.equal((await optOut({ talk: '1' }, 'Bearer wrong-token-wrong-token')).status, 401, 'a wrong token is refused')
    assert.equal((await optOut({ talk: '1' }, '')).status, 401, 'no token is refused')
    const bad = await optOut({ from: 'soon', to: 'later' })
    assert.equal(bad.status, 400)
    assert.match((await bad.json() as { error: string }).error, /ISO times with an offset/)
    assert.equal((await optOut({ talk: 'nope' })).status, 404, 'no schedule talk by that id')
    const ok = await optOut({ from: new Date(range.start).toISOString(), to: new Date(range.end).toISOString(), title: 'Changed their mind' })
    assert.equal(ok.status, 200, await ok.clone().text())
    assert.equal(ok.headers.get('access-control-allow-origin'), null, 'the admin route is not CORS-open')
    const listed = await (await fetch(new URL('admin/opt-outs', origin.url), { headers: { Authorization: `Bearer ${token}` } })).json() as { optOuts: Array<{ title: string }> }
    assert.deepEqual(listed.optOuts.map(o => o.title), ['Changed their mind'])
  })
  const { during, outside } = splitAt(journal, range.start, range.end)
  assert.ok(during.length >= 4)
  for (const seq of during) assert.ok(!linked.has(seq), `segment ${seq} of the opted-out range is not in the recording`)
  assert.deepEqual([...linked].sort((a, b) => a - b), outside)
  assert.deepEqual(withheld.map(w => [w.title, w.segments]), [['Changed their mind', during.length]])
  assert.ok(logs.every(line => !line.includes(token)), 'the token is never logged')
  passed = true
})

test('an opt-out of a range an announced recording already holds withdraws that recording, signed by the room key', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-consent-withdraw-'))
  const logs: string[] = []
  let passed = false
  const stops: Array<() => Promise<void>> = []
  t.after(async () => {
    for (const stop of stops) await stop()
    await rm(dir, { recursive: true, force: true })
    if (!passed) t.diagnostic(`log:\n${logs.join('\n')}`)
  })
  const token = 'another-long-random-admin-token-0123456789'
  const tokenFile = join(dir, 'admin-token')
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 })
  const now = Math.floor(Date.now() / 1000) * 1000
  const range = { start: now + 2_000, end: now + 5_000 }
  const heard: WithdrawalAnnouncement[] = []
  let covering: { cid: string, session: string } | undefined
  const { journal, linked } = await recordSession(dir, { adminTokenFile: tokenFile }, range.end + 8_000, logs, async origin => {
    // A peer of the room, as a relay is, hears what the origin announces.
    const peerDir = join(dir, 'peer')
    const peer = await createP2PNode({ identity: await loadOrCreateIdentity(peerDir), dataDir: peerDir, listen: ['/ip4/127.0.0.1/tcp/0'], peers: [origin.multiaddrs[0]!] })
    stops.push(async () => { await peer.stop() })
    peer.libp2p.services.pubsub.addEventListener('message', event => {
      if (event.detail.topic !== roomTopic(ROOM)) return
      void verifyRoomMessage(event.detail.data, [origin.key]).then(result => {
        if (result.ok && result.value.announcement.kind === 'withdrawal') heard.push(result.value.announcement)
      })
    })
    peer.libp2p.services.pubsub.subscribe(roomTopic(ROOM))
    const recording = await eventually('an interim recording holding the range', () => origin.status().recording.recordings.find(r => r.ended >= range.end), 45_000, 250)
    covering = { cid: recording.cid, session: recording.session }
    const res = await fetch(new URL('admin/opt-out', origin.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ from: new Date(range.start).toISOString(), to: new Date(range.end).toISOString(), title: 'Withdrawn afterwards' })
    })
    assert.equal(res.status, 200, await res.clone().text())
    const answer = await res.json() as { withdrawn: string[] }
    assert.ok(answer.withdrawn.includes(recording.cid), `the recording holding the range is withdrawn: ${JSON.stringify(answer)}`)
    await eventually('the signed withdrawal on the room topic', () => heard.find(w => w.recordings.includes(recording.cid)), 15_000, 100)
  })
  const withdrawal = heard.find(w => w.recordings.includes(covering!.cid))!
  assert.deepEqual({ session: withdrawal.session, from: withdrawal.from, to: withdrawal.to }, { session: covering!.session, from: range.start, to: range.end })
  const { during, outside } = splitAt(journal, range.start, range.end)
  assert.ok(during.length >= 2)
  for (const seq of during) assert.ok(!linked.has(seq), `segment ${seq} of the withdrawn range is not in the final recording`)
  assert.deepEqual([...linked].sort((a, b) => a - b), outside)
  passed = true
})
