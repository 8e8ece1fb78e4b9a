/**
 * The origin's schedule source, without ffmpeg: read from a file or over HTTP on 127.0.0.1, the room's
 * talks that may not be recorded answer `withholding`, a failed re-read keeps the last good schedule
 * with a warning, a schedule that cannot be used stops the start, and a hostile server's endless body
 * is cut off. The rooms file takes `schedule` relative to itself.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listenOnLoopback } from '@hivecast/devnet'
import { logger } from '@hivecast/shared'
import { RecordingConsent, assertScheduleSource } from '../src/recording-consent.ts'
import { parseRoomConfig } from '../src/room-config.ts'
import { loadAdminToken } from '../src/consent-admin.ts'

const ROOM = { slug: 'janson', title: 'Janson (main hall)' }

function schedule (talks: Array<{ title: string, start: string, streaming?: string, do_not_record?: boolean, room?: string }>): string {
  return JSON.stringify({ time_zone_name: 'Europe/Brussels', talks: talks.map(t => ({ room: 'Janson', duration: '00:30', persons: [], ...t })) })
}

test('the room\'s talks that may not be recorded are withheld; other rooms and recorded talks are not', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-schedule-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'schedule.json')
  await writeFile(file, schedule([
    { title: 'Recorded', start: '2026-02-01T09:00' },
    { title: 'Opted out', start: '2026-02-01T09:30', do_not_record: true },
    { title: 'Live only', start: '2026-02-01T10:00', streaming: 'streamed' },
    { title: 'Elsewhere, opted out', start: '2026-02-01T10:30', do_not_record: true, room: 'K.1.105' }
  ]))
  const lines: string[] = []
  const consent = await RecordingConsent.open({ source: file, room: ROOM, log: logger('test', { write: line => lines.push(line) }) })
  t.after(() => { consent.stop() })
  const at = (time: string): number => Date.parse(`2026-02-01T${time}+01:00`)
  assert.equal(consent.withholding(at('09:00:00'), at('09:00:01')), undefined)
  assert.equal(consent.withholding(at('09:29:59'), at('09:30:00')), undefined, 'a segment ending as the talk starts is kept')
  assert.equal(consent.withholding(at('09:29:59.500'), at('09:30:00.500'))?.title, 'Opted out', 'a segment straddling the start is withheld')
  assert.equal(consent.withholding(at('10:15:00'), at('10:15:01'))?.title, 'Live only')
  assert.equal(consent.withholding(at('10:45:00'), at('10:45:01')), undefined, 'another room\'s talk is not this room\'s')
  assert.deepEqual({ ...consent.status(), readAt: 0 }, { source: file, readAt: 0, talks: 3, notRecorded: 2, ignored: 0, timeZone: 'Europe/Brussels', error: null, optOuts: 0 })
  assert.ok(lines.some(line => /3 talks in janson .* 2 of them not to be recorded/.test(line)))
})

test('over HTTP: a failed re-read keeps the last good schedule and warns; a good one replaces it', async t => {
  let body = schedule([{ title: 'Opted out', start: '2026-02-01T09:30', do_not_record: true }])
  let status = 200
  const server = await listenOnLoopback(createServer((_req, res) => { res.writeHead(status, { 'Content-Type': 'application/json' }).end(body) }))
  t.after(async () => { await server.close() })
  const lines: string[] = []
  const consent = await RecordingConsent.open({ source: `${server.url}/schedule.json`, room: ROOM, log: logger('test', { write: line => lines.push(line) }) })
  t.after(() => { consent.stop() })
  const during = Date.parse('2026-02-01T09:40:00+01:00')
  assert.equal(consent.withholding(during, during + 1000)?.title, 'Opted out')

  status = 503
  await consent.reread()
  assert.equal(consent.withholding(during, during + 1000)?.title, 'Opted out', 'the last good schedule is kept')
  assert.match(consent.status().error ?? '', /answered HTTP 503/)
  assert.ok(lines.some(line => /re-reading .* failed, keeping the one read at/.test(line)))

  status = 200
  body = '<schedule><unclosed>'
  await consent.reread()
  assert.equal(consent.withholding(during, during + 1000)?.title, 'Opted out')
  assert.match(consent.status().error ?? '', /not well-formed XML/)

  body = schedule([{ title: 'Opted out', start: '2026-02-01T09:30' }])
  await consent.reread()
  assert.equal(consent.withholding(during, during + 1000), undefined, 'the organisers changed their mind')
  assert.equal(consent.status().error, null)
})

test('a schedule that cannot be used stops the start, saying why', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-schedule-bad-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const log = logger('test', { write: () => {} })
  await assert.rejects(RecordingConsent.open({ source: join(dir, 'missing.xml'), room: ROOM, log }), /cannot read the schedule .*missing\.xml \(ENOENT\)/)
  await writeFile(join(dir, 'bad.xml'), '<schedule><conference><time_zone_name>Europe/Brusels</time_zone_name></conference></schedule>')
  await assert.rejects(RecordingConsent.open({ source: join(dir, 'bad.xml'), room: ROOM, log }), /time_zone_name "Europe\/Brusels" is not an IANA time zone/)
  assert.throws(() => assertScheduleSource('ftp://example.org/schedule.xml'), /only http\(s\) URLs or file paths/)
  assert.throws(() => assertScheduleSource(' '), /the schedule is empty/)
  assert.equal(assertScheduleSource('https://pretalx.example.org/c/schedule/export/schedule.xml'), 'https://pretalx.example.org/c/schedule/export/schedule.xml')
})

test('a server that sends an endless body is cut off, and credentials in the URL are not shown', async t => {
  let authorization: string | undefined
  const server = await listenOnLoopback(createServer((req, res) => {
    authorization = req.headers.authorization
    res.writeHead(200, { 'Content-Type': 'application/xml' })
    const chunk = Buffer.alloc(1024 * 1024, 0x20)
    const write = (): void => {
      let room = true
      while (room && !res.destroyed) room = res.write(chunk)
    }
    // The origin hangs up mid-body; later writes fail quietly.
    res.on('error', () => {})
    res.on('drain', write)
    res.write('<schedule>')
    write()
  }))
  t.after(async () => { await server.close() })
  const url = server.url.replace('http://', 'http://user:hunter2-secret@')
  await assert.rejects(RecordingConsent.open({ source: `${url}/schedule.xml`, room: ROOM, log: logger('test', { write: () => {} }) }), (err: Error) => {
    assert.match(err.message, /is over \d+ bytes/)
    assert.doesNotMatch(err.message, /hunter2/)
    return true
  })
  assert.equal(authorization, `Basic ${Buffer.from('user:hunter2-secret').toString('base64')}`, 'URL credentials are sent as Basic authorization')
})

test('the rooms file takes schedule as a URL or a path relative to the file', () => {
  const rooms = parseRoomConfig('rooms:\n  - slug: a\n    schedule: schedule.xml\n  - slug: b\n    schedule: https://pretalx.example.org/c/schedule/export/schedule.json\n', '/etc/hivecast/rooms.yaml')
  assert.deepEqual(rooms.map(r => r.schedule), ['/etc/hivecast/schedule.xml', 'https://pretalx.example.org/c/schedule/export/schedule.json'])
  assert.throws(() => parseRoomConfig('rooms: [{ slug: a, schedule: "ftp://x/s.xml" }]', 'rooms.yaml'), /rooms\[0\]\.schedule: .*only http\(s\) URLs/)
})

test('organisers\' opt-outs survive a restart; a damaged store or a short admin token stops the start', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-opt-outs-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const log = logger('test', { write: () => {} })
  const store = join(dir, 'opt-outs.json')
  const first = await RecordingConsent.open({ room: ROOM, log, store })
  const at = Date.parse('2026-02-01T10:00:00Z')
  assert.equal(first.withholding(at, at + 1000), undefined)
  const talk = await first.optOut({ from: at, to: at + 600_000, title: 'Changed their mind' })
  assert.ok(typeof talk !== 'string')
  assert.match(String(await first.optOut({ talk: '7' })), /no talk "7" in room janson/)
  const again = await RecordingConsent.open({ room: ROOM, log, store })
  assert.equal(again.withholding(at + 1000, at + 2000)?.title, 'Changed their mind', 'the opt-out is kept across a restart')
  assert.equal(again.status().optOuts, 1)
  await writeFile(store, '[{"id": 1}]')
  await assert.rejects(RecordingConsent.open({ room: ROOM, log, store }), /opt-outs\.json is damaged .* repair it rather than delete it/)

  const tokenFile = join(dir, 'token')
  await writeFile(tokenFile, 'short\n', { mode: 0o600 })
  await assert.rejects(loadAdminToken(tokenFile, () => {}), /must be 16-256 printable characters/)
  const warnings: string[] = []
  await writeFile(tokenFile, 'a-long-enough-admin-token\n')
  await chmod(tokenFile, 0o644)
  assert.equal(await loadAdminToken(tokenFile, warning => warnings.push(warning)), 'a-long-enough-admin-token')
  assert.match(warnings[0] ?? '', /other users may read it .* chmod 600/)
})
