/** The schedule as the pages show it: the current and next talk of a room, and a hook that loads it. */
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { formatTime, loadSchedule, nowAndNext, streamingClass, streamingLabel, talksOfRoom } from './schedule.ts'
import type { ScheduleResult, Talk } from './schedule.ts'

/** Loads the schedule config.json names (undefined while loading or when none is named). */
export function useSchedule (url: string | undefined): ScheduleResult | undefined {
  const [result, setResult] = useState<ScheduleResult | undefined>(undefined)
  useEffect(() => { if (url !== undefined) void loadSchedule(url).then(setResult) }, [url])
  return result
}

/** The clock, ticking every `ms`, so "now" and "next" move on without a reload. */
export function useNow (ms: number): number {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const timer = setInterval(() => { setNow(Date.now()) }, ms)
    return () => { clearInterval(timer) }
  }, [ms])
  return now
}

export function NowAndNext (props: { schedule: ScheduleResult | undefined, room: { slug: string, title: string }, now: number }): ComponentChildren {
  const { schedule, room, now } = props
  if (schedule === undefined || !schedule.ok) return null
  const { current, next } = nowAndNext(talksOfRoom(schedule.schedule, room), now)
  return (
    <dl class="now-next">
      <dt>Now</dt>
      <dd class="talk-now">{current === undefined ? <span class="muted">No talk scheduled</span> : <TalkLine talk={current} />}</dd>
      <dt>Next</dt>
      <dd class="talk-next">{next === undefined ? <span class="muted">Nothing more today</span> : <TalkLine talk={next} />}</dd>
    </dl>
  )
}

function TalkLine (props: { talk: Talk }): ComponentChildren {
  const { talk } = props
  return (
    <>
      <span class="talk-title">{talk.title}</span>
      <span class="talk-meta">
        {formatTime(talk.start)}–{formatTime(talk.end)}
        {talk.persons.length > 0 && ` · ${talk.persons.join(', ')}`}
        {' · '}<span class={streamingClass(talk)}>{streamingLabel(talk)}</span>
      </span>
    </>
  )
}

/** The note a page shows when the schedule cannot be used. */
export function ScheduleProblem (props: { schedule: ScheduleResult | undefined }): ComponentChildren {
  const { schedule } = props
  if (schedule === undefined) return null
  if (!schedule.ok) return <p class="config-note" role="alert">Schedule not shown: {schedule.message}</p>
  const { ignored, warnings } = schedule.schedule
  if (ignored.length === 0 && warnings.length === 0) return null
  return (
    <>
      {warnings.map(warning => <p class="config-note" key={warning}>Schedule: {warning}.</p>)}
      {ignored.length > 0 && <p class="config-note">Schedule: {ignored.length} {ignored.length === 1 ? 'event was' : 'events were'} skipped ({ignored.slice(0, 3).join('; ')}).</p>}
    </>
  )
}
