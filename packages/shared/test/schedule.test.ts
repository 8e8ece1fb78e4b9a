/**
 * The shared schedule reader: frab XML (no <date>: times on the conference's days, in its zone), pretalx
 * XML and schedule.json as they export them, Hivecast's JSON, the recording opt-out in each form, time
 * zones across a DST change and after midnight, and bad input refused or listed with the reason.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_IGNORED, MAX_SCHEDULE_CHARS, MAX_TALKS, isRecorded, parseDateTime, parseSchedule, talksOfRoom } from '@hivecast/shared'
import type { Schedule, ScheduleResult } from '@hivecast/shared'

function ok (result: ScheduleResult): Schedule {
  assert.ok(result.ok, result.ok ? '' : result.message)
  return result.schedule
}

function failure (result: ScheduleResult): string {
  assert.ok(!result.ok, 'the schedule is refused')
  return result.message
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** frab's export (app/views/public/schedule/index.xml.haml): no <date>, <recording><optout>. */
const FRAB_XML = `<?xml version="1.0" encoding="UTF-8"?>
<schedule>
  <version>1.3</version>
  <conference>
    <acronym>demo26</acronym>
    <title>Demo &amp; Co</title>
    <start>2026-03-28</start>
    <end>2026-03-29</end>
    <days>2</days>
    <timeslot_duration>00:15</timeslot_duration>
    <time_zone_name>Europe/Brussels</time_zone_name>
  </conference>
  <day index="1" date="2026-03-28">
    <room name="Janson">
      <event id="101" guid="7f3c1e2a-0000-4000-8000-000000000101">
        <start>10:00</start>
        <duration>00:30</duration>
        <room>Janson</room>
        <slug>demo26-101-opening</slug>
        <recording><license>CC BY 4.0</license><optout>false</optout></recording>
        <title>Opening</title>
        <subtitle/>
        <track>Main</track>
        <type>lecture</type>
        <language>en</language>
        <abstract>Hello</abstract>
        <description/>
        <persons><person id="1">Ada Lovelace</person><person id="2">Grace Hopper</person></persons>
        <links/>
      </event>
      <event id="102" guid="7f3c1e2a-0000-4000-8000-000000000102">
        <start>23:30</start>
        <duration>01:00</duration>
        <room>Janson</room>
        <recording><license/><optout>true</optout></recording>
        <title>Late night, no recording</title>
        <persons><person id="3">Radia Perlman</person></persons>
      </event>
      <event id="103">
        <start>00:45</start>
        <duration>00:15</duration>
        <room>Janson</room>
        <do_not_record>true</do_not_record>
        <title>After midnight (legacy flag)</title>
        <persons/>
      </event>
    </room>
    <room name="K.1.105">
      <event id="104">
        <start>11:00</start>
        <duration>45</duration>
        <title>Workshop</title>
        <streaming>audio-only</streaming>
        <persons><person id="4">Barbara Liskov</person></persons>
      </event>
    </room>
  </day>
  <day index="2" date="2026-03-29">
    <room name="Janson">
      <event id="201">
        <start>10:00</start>
        <duration>00:30</duration>
        <title>After the clocks went forward</title>
        <streaming>streamed</streaming>
      </event>
    </room>
  </day>
</schedule>
`

test('frab XML: times without <date> are on the day, in the conference\'s zone; <recording><optout> and <do_not_record> opt out', () => {
  const schedule = ok(parseSchedule(FRAB_XML))
  assert.equal(schedule.timeZone, 'Europe/Brussels')
  assert.deepEqual(schedule.ignored, [])
  assert.deepEqual(schedule.warnings, [])
  assert.deepEqual(schedule.talks.map(t => [t.id, t.room, t.title, iso(t.start), iso(t.end), t.streaming, t.optOut]), [
    // Brussels is UTC+1 on 28 March and UTC+2 from 02:00 on 29 March.
    ['101', 'Janson', 'Opening', '2026-03-28T09:00:00.000Z', '2026-03-28T09:30:00.000Z', 'recorded', false],
    ['104', 'K.1.105', 'Workshop', '2026-03-28T10:00:00.000Z', '2026-03-28T10:45:00.000Z', 'audio-only', false],
    ['102', 'Janson', 'Late night, no recording', '2026-03-28T22:30:00.000Z', '2026-03-28T23:30:00.000Z', 'recorded', true],
    // 00:45 after 23:30 on day 1 is the next date, still before the change to summer time.
    ['103', 'Janson', 'After midnight (legacy flag)', '2026-03-28T23:45:00.000Z', '2026-03-29T00:00:00.000Z', 'recorded', true],
    ['201', 'Janson', 'After the clocks went forward', '2026-03-29T08:00:00.000Z', '2026-03-29T08:30:00.000Z', 'streamed', false]
  ])
  assert.deepEqual(schedule.talks[0]!.persons, ['Ada Lovelace', 'Grace Hopper'])
  assert.deepEqual(schedule.talks.map(isRecorded), [true, true, false, false, false])
  assert.deepEqual(talksOfRoom(schedule, { slug: 'janson', title: 'Main hall' }).map(t => t.id), ['101', '102', '103', '201'])
  assert.deepEqual(talksOfRoom(schedule, { slug: 'k1105', title: 'k.1.105' }).map(t => t.id), ['104'])
})

test('pretalx XML: <date> with its offset wins; the day\'s start attribute places times after midnight', () => {
  const xml = `<?xml version='1.0' encoding='utf-8' ?>
<!-- Made with love by pretalx v2025.1.0. -->
<schedule>
    <generator name="pretalx" version="2025.1.0" />
    <version>0.7</version>
    <conference>
        <acronym>camp</acronym>
        <title>Camp</title>
        <start>2026-08-01</start>
        <end>2026-08-02</end>
        <days>2</days>
        <timeslot_duration>00:05</timeslot_duration>
        <base_url>https://pretalx.example.org</base_url>
        <time_zone_name>America/New_York</time_zone_name>
    </conference>
    <day index='1' date='2026-08-01' start='2026-08-01T04:00:00-04:00' end='2026-08-02T03:59:00-04:00'>
        <room name='Stage A' guid='c0ffee00-0000-4000-8000-000000000001'>
            <event guid='c0ffee00-0000-4000-8000-000000000011' id='11'>
                <date>2026-08-01T22:00:00-04:00</date>
                <start>22:00</start>
                <duration>00:45</duration>
                <room>Stage A</room>
                <slug>camp-11-talk</slug>
                <url>https://pretalx.example.org/camp/talk/AB12CD/</url>
                <recording>
                    <license></license>
                    <optout>true</optout>
                </recording>
                <title>Please do not record me</title>
                <subtitle></subtitle>
                <track></track>
                <type>Talk</type>
                <language>en</language>
                <abstract>&lt;b&gt;bold&lt;/b&gt;</abstract>
                <description></description>
                <logo></logo>
                <persons>
                    <person id='5'>Hedy Lamarr</person>
                </persons>
                <links></links>
                <attachments></attachments>
            </event>
            <event guid='c0ffee00-0000-4000-8000-000000000012' id='12'>
                <start>01:30</start>
                <duration>00:30</duration>
                <title>Night owl (no date element)</title>
                <recording><optout>false</optout></recording>
            </event>
        </room>
    </day>
</schedule>`
  const schedule = ok(parseSchedule(xml))
  assert.deepEqual(schedule.talks.map(t => [t.id, iso(t.start), iso(t.end), t.optOut]), [
    ['11', '2026-08-02T02:00:00.000Z', '2026-08-02T02:45:00.000Z', true],
    // 01:30 is before the day's 04:00 start: it is the night after 1 August, 05:30 UTC on the 2nd.
    ['12', '2026-08-02T05:30:00.000Z', '2026-08-02T06:00:00.000Z', false]
  ])
  assert.deepEqual(schedule.talks[0]!.persons, ['Hedy Lamarr'])
})

/** pretalx's FrabJsonExporter, trimmed to what the reader uses plus some of the rest. */
function pretalxJson (events: unknown[], zone = 'Asia/Kolkata'): string {
  return JSON.stringify({
    $schema: 'https://c3voc.de/schedule/schema.json',
    generator: { name: 'pretalx', version: '2025.1.0' },
    schedule: {
      url: 'https://pretalx.example.org/conf/schedule/',
      version: '1.0',
      base_url: 'https://pretalx.example.org',
      conference: {
        acronym: 'conf',
        title: 'Conf',
        start: '2026-12-06',
        end: '2026-12-06',
        daysCount: 1,
        timeslot_duration: '00:05',
        time_zone_name: zone,
        colors: { primary: '#3aa57c' },
        rooms: [{ name: 'Main', slug: '1-main', guid: 'r1', description: null, capacity: 300 }],
        tracks: [],
        days: [{ index: 1, date: '2026-12-06', day_start: '2026-12-06T04:00:00+05:30', day_end: '2026-12-07T03:59:00+05:30', rooms: { Main: events } }]
      }
    }
  })
}

test('frab/pretalx schedule.json: "do_not_record" opts out; "date" carries its offset, "start" alone is in time_zone_name', () => {
  const schedule = ok(parseSchedule(pretalxJson([
    { guid: 'g1', code: 'ABCDEF', id: 301, date: '2026-12-06T09:30:00+05:30', start: '09:30', duration: '00:40', room: 'Main', title: 'Consent matters', do_not_record: true, persons: [{ code: 'X1', name: 'Ida', public_name: 'Ida B.' }] },
    { guid: 'g2', id: 302, start: '10:30', duration: '01:00', room: 'Main', title: 'No date field', do_not_record: false, persons: [{ name: 'Lin' }] }
  ])))
  assert.equal(schedule.timeZone, 'Asia/Kolkata')
  assert.deepEqual(schedule.talks.map(t => [t.id, t.room, iso(t.start), iso(t.end), t.optOut, isRecorded(t)]), [
    ['301', 'Main', '2026-12-06T04:00:00.000Z', '2026-12-06T04:40:00.000Z', true, false],
    ['302', 'Main', '2026-12-06T05:00:00.000Z', '2026-12-06T06:00:00.000Z', false, true]
  ])
  assert.deepEqual(schedule.talks.map(t => t.persons), [['Ida B.'], ['Lin']])
})

test('Hivecast JSON: the documented form, with an optional time_zone_name for times without an offset', () => {
  const schedule = ok(parseSchedule(JSON.stringify({
    time_zone_name: 'Australia/Adelaide',
    talks: [
      { room: 'Janson', title: 'Opening', start: '2026-02-01T09:00:00+01:00', duration: '00:25', persons: ['Ada'], streaming: 'recorded' },
      { id: 'x7', room: 'Janson', title: 'Local time', start: '2026-02-01T09:00', duration: 30, persons: [], streaming: 'streamed' },
      { room: 'Janson', title: 'Opted out', start: '2026-02-01T12:00:00Z', duration: '1:00', do_not_record: true }
    ]
  })))
  // Adelaide is UTC+10:30 in (southern) summer.
  assert.deepEqual(schedule.talks.map(t => [t.id, t.title, iso(t.start), t.streaming, isRecorded(t)]), [
    ['x7', 'Local time', '2026-01-31T22:30:00.000Z', 'streamed', false],
    ['talk-0', 'Opening', '2026-02-01T08:00:00.000Z', 'recorded', true],
    ['talk-2', 'Opted out', '2026-02-01T12:00:00.000Z', 'recorded', false]
  ])
})

test('times: offsets and zones, a DST change, and dates that do not exist', () => {
  assert.equal(parseDateTime('2026-03-29T01:30:00', 'Europe/Brussels')?.ms, Date.parse('2026-03-29T00:30:00Z'))
  assert.equal(parseDateTime('2026-03-29T03:30:00', 'Europe/Brussels')?.ms, Date.parse('2026-03-29T01:30:00Z'))
  assert.equal(parseDateTime('2026-10-25T12:00:00', 'Europe/Brussels')?.ms, Date.parse('2026-10-25T11:00:00Z'))
  assert.equal(parseDateTime('2026-12-06T12:00:00.250', 'Asia/Kathmandu')?.ms, Date.parse('2026-12-06T06:15:00.250Z'))
  assert.deepEqual(parseDateTime('2026-12-06T12:00:00-0330', 'Asia/Kathmandu'), { ms: Date.parse('2026-12-06T15:30:00Z'), floating: false })
  assert.deepEqual(parseDateTime('2026-12-06 12:00Z', undefined), { ms: Date.parse('2026-12-06T12:00:00Z'), floating: false })
  assert.equal(parseDateTime('2026-12-06T12:00', undefined)?.ms, new Date(2026, 11, 6, 12, 0).getTime(), 'no zone: the reader\'s own')
  for (const bad of ['2026-02-30T10:00', '2026-13-01T10:00', '2026-12-06T24:00', '2026-12-06T10:60', '10:00', 'tomorrow', '2026-12-06']) {
    assert.equal(parseDateTime(bad, 'UTC'), undefined, bad)
  }
})

test('a schedule without a time zone is read in the reader\'s zone and says so', () => {
  const schedule = ok(parseSchedule('<schedule><day date="2026-02-01"><room name="demo"><event id="1"><start>10:00</start><duration>00:20</duration><title>T</title></event></room></day></schedule>'))
  assert.equal(schedule.timeZone, undefined)
  assert.equal(schedule.talks[0]!.start, new Date(2026, 1, 1, 10, 0).getTime())
  assert.match(schedule.warnings[0] ?? '', /names no time zone .* 1 times without an offset/)
})

test('bad input: refused with what to do, or the event listed in ignored with the reason, bounded', () => {
  assert.match(failure(parseSchedule('<schedule><day date="2026-02-01"><room name="demo"><event id="1"><title>unclosed')), /not well-formed XML .*export it again/)
  assert.match(failure(parseSchedule('<programme/>')), /root element is <programme>, not <schedule>/)
  assert.match(failure(parseSchedule('{"talks": [')), /neither XML nor valid JSON/)
  assert.match(failure(parseSchedule('{"sessions": []}')), /frab\/pretalx's schedule\.json .* or an object with a "talks" array/)
  assert.match(failure(parseSchedule('{"schedule": {"conference": {}}}')), /no "schedule\.conference\.days" list/)
  assert.match(failure(parseSchedule(pretalxJson([], 'Mars/Olympus_Mons'))), /time_zone_name "Mars\/Olympus_Mons" is not an IANA time zone/)
  assert.match(failure(parseSchedule(pretalxJson([]))), /no usable talk/)
  assert.match(failure(parseSchedule(' '.repeat(MAX_SCHEDULE_CHARS + 1))), /more than the \d+ read/)
  // An entity bomb is not expanded into the title.
  const bomb = `<?xml version="1.0"?><!DOCTYPE schedule [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<schedule><day date="2026-02-01"><room name="demo"><event id="1"><start>10:00</start><duration>00:20</duration><title>&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;</title></event></room></day></schedule>`
  const bombed = parseSchedule(bomb)
  if (bombed.ok) assert.ok(bombed.schedule.talks.every(t => t.title.length <= 500))

  const schedule = ok(parseSchedule(pretalxJson([
    { id: 1, date: '2026-12-06T09:30:00+05:30', duration: '00:30', title: 'Good' },
    { id: 2, date: 'soon', duration: '00:30', title: 'Bad time' },
    { id: 3, date: '2026-12-06T09:30:00+05:30', duration: '25:00', title: 'Too long' },
    { id: 4, date: '2026-12-06T09:30:00+05:30', duration: '00:30', title: '' },
    { id: 5, date: '2026-12-06T09:30:00+05:30', duration: '00:30', title: 'Odd flag', streaming: 'sometimes' },
    'not an event'
  ])))
  assert.deepEqual(schedule.talks.map(t => t.id), ['1'])
  assert.deepEqual(schedule.ignored, [
    'event 2: start "soon" is not a date and time',
    'event 3: duration "25:00" is not HH:MM or minutes (up to 24 hours)',
    'event 4: no title',
    'event 5: streaming "sometimes" is not one of recorded, streamed, audio-only, not-streamed',
    'room "Main" event 5: not an object'
  ])

  // Counts are bounded: at most MAX_TALKS talks, and MAX_IGNORED reasons, the last counting the rest.
  const many = Array.from({ length: MAX_TALKS * 2 + 300 }, (_, i) => ({ id: i, date: '2026-12-06T09:30:00+05:30', duration: i % 2 === 0 ? '00:30' : 'x', title: `T${i}` }))
  const bounded = ok(parseSchedule(pretalxJson(many)))
  assert.equal(bounded.talks.length, MAX_TALKS)
  assert.equal(bounded.ignored.length, MAX_IGNORED)
  assert.match(bounded.ignored.at(-1)!, /^and \d+ more$/)
})

test('an opt-out value other than an explicit "false" counts as an opt-out', () => {
  const xml = (value: string): string => `<schedule><conference><time_zone_name>UTC</time_zone_name></conference><day date="2026-02-01"><room name="demo"><event id="1"><start>10:00</start><duration>00:20</duration><title>T</title><recording><optout>${value}</optout></recording></event></room></day></schedule>`
  for (const [value, optOut] of [['true', true], ['True', true], ['1', true], ['yes', true], ['false', false], ['0', false], ['', false]] as const) {
    assert.equal(ok(parseSchedule(xml(value))).talks[0]!.optOut, optOut, `<optout>${value}</optout>`)
  }
})
