/**
 * Recordings as the site shows them. Every relay lists the recordings of the rooms it follows at
 * `/rooms/<room>/recordings.json` as the origin's signed `recording` announcements; each is checked here
 * against the room's key (config.json), so a relay cannot invent or alter one. A session's newest
 * announcement wins (the final one, else the one with the most segments). The schedule then cuts each
 * session into talks: a talk is the session's directory CID plus the talk's time range, which relays
 * that pin recordings (`--archive`) serve as a VOD playlist cut by program-date-time.
 */
import { relayRoutes, relayUrl, verifyRoomMessage } from '@hivecast/shared'
import type { RecordingAnnouncement } from '@hivecast/shared'
import type { RoomEntry } from './site-config.ts'
import { isRecorded } from './schedule.ts'
import type { Talk } from './schedule.ts'
import { fetchJson } from './relay-client.ts'

export interface SessionRecording {
  room: string
  session: string
  /** The session's UnixFS directory (master playlist, VOD playlists, segments). */
  cid: string
  /** ms since the epoch: program-date-time of the first segment and the end of the last one. */
  started: number
  ended: number
  /** Seconds of media in the top rendition. */
  duration: number
  segments: number
  /** True once the session ended; an interim recording still grows under a newer CID. */
  final: boolean
  /** Relays that have pinned this CID and so can play it, in config order. */
  pinnedOn: string[]
  /** Relays that list this session at all. */
  listedOn: string[]
}

export interface RoomRecordings {
  sessions: SessionRecording[]
  /** Relays whose recordings.json answered. */
  answered: number
  /** Entries dropped: not a recording of this room signed by its key. */
  refused: number
}

/** A relay lists at most 500 sessions per room; more from one relay is not what a relay sends. */
const MAX_ENTRIES = 500
/** A long list from a busy relay may take a while; the page polls every 10 s. */
const FETCH_TIMEOUT_MS = 8_000
/** Envelopes already checked (by key, payload and signature): the page asks every few seconds, mostly for the same ones. */
const checked = new Map<string, RecordingAnnouncement | undefined>()
const MAX_CHECKED = 5_000

/** The recording announcement an untrusted recordings.json entry carries, if signed by the room key and for this room. */
async function checkEntry (entry: unknown, room: RoomEntry): Promise<RecordingAnnouncement | undefined> {
  if (!isObject(entry) || !isObject(entry.envelope)) return undefined
  const { key, payload, sig } = entry.envelope
  const id = typeof key === 'string' && typeof payload === 'string' && typeof sig === 'string' ? `${room.slug} ${room.key} ${key} ${sig} ${payload}` : undefined
  if (id !== undefined && checked.has(id)) return checked.get(id)
  const verified = await verifyRoomMessage(entry.envelope, room.key.split(' '))
  const announcement = verified.ok && verified.value.announcement.kind === 'recording' && verified.value.announcement.room === room.slug ? verified.value.announcement : undefined
  if (id !== undefined) {
    if (checked.size >= MAX_CHECKED) checked.clear()
    checked.set(id, announcement)
  }
  return announcement
}

/**
 * The recordings of `room` as the relays list them, each announcement checked against the room key.
 * `following` is the relays whose /status lists the room: a relay answers 404 for other rooms, which
 * the browser would log as an error.
 */
export async function loadRoomRecordings (room: RoomEntry, relays: string[], following: string[] = relays): Promise<RoomRecordings> {
  const asked = relays.filter(relay => following.includes(relay))
  const answers = await Promise.all(asked.map(async relay => ({ relay, value: await fetchJson(relayUrl(relay, relayRoutes.recordings(room.slug)), FETCH_TIMEOUT_MS) })))
  const seen: Array<{ relay: string, announcement: RecordingAnnouncement, pinned: boolean }> = []
  let answered = 0
  let refused = 0
  for (const { relay, value } of answers) {
    if (!isObject(value) || !Array.isArray(value.recordings)) continue
    answered++
    for (const entry of value.recordings.slice(0, MAX_ENTRIES)) {
      const announcement = await checkEntry(entry, room)
      if (announcement === undefined) {
        refused++
        continue
      }
      seen.push({ relay, announcement, pinned: isObject(entry) && entry.archive === 'pinned' })
    }
  }
  return { sessions: mergeSessions(seen, relays), answered, refused }
}

/** One entry per session, the newest announcement of it; oldest session first. */
export function mergeSessions (seen: Array<{ relay: string, announcement: RecordingAnnouncement, pinned: boolean }>, relays: string[]): SessionRecording[] {
  const newest = new Map<string, RecordingAnnouncement>()
  for (const { announcement } of seen) {
    const known = newest.get(announcement.session)
    if (known === undefined || supersedes(announcement, known)) newest.set(announcement.session, announcement)
  }
  const inOrder = (list: string[]): string[] => relays.filter(relay => list.includes(relay))
  return [...newest.values()]
    .map(a => ({
      room: a.room,
      session: a.session,
      cid: a.cid,
      started: a.started,
      ended: a.ended,
      duration: a.duration,
      segments: a.segments,
      final: a.final,
      pinnedOn: inOrder(seen.filter(s => s.pinned && s.announcement.cid === a.cid).map(s => s.relay)),
      listedOn: inOrder(seen.filter(s => s.announcement.session === a.session).map(s => s.relay))
    }))
    .sort((x, y) => x.started - y.started)
}

/** As the relays decide: a final recording is the session's last word; otherwise more segments win. */
function supersedes (candidate: RecordingAnnouncement, known: RecordingAnnouncement): boolean {
  if (candidate.final !== known.final) return candidate.final
  return candidate.segments > known.segments
}

/** One talk of the schedule inside a recorded session: what the recordings page lists and plays. */
export interface RecordedTalk {
  talk: Talk
  session: SessionRecording
  /** The cut, in ms since the epoch (program-date-time): the talk's time clipped to the session. */
  from: number
  to: number
  /** True when the session covers only part of the talk (started late, ended early, still recording). */
  partial: boolean
}

/**
 * The kept talks whose time falls in `session`, in order; `skipped` counts talks in the session that
 * the schedule says are not kept (flagged live only or not streamed, or opted out by the speakers).
 */
export function talksInSession (session: SessionRecording, talks: Talk[]): { talks: RecordedTalk[], skipped: number } {
  const inside = talks.filter(talk => talk.start < session.ended && talk.end > session.started)
  return {
    talks: inside.filter(isRecorded).map(talk => ({
      talk,
      session,
      from: Math.max(talk.start, session.started),
      to: Math.min(talk.end, session.ended),
      partial: talk.start < session.started || talk.end > session.ended
    })),
    skipped: inside.filter(talk => !isRecorded(talk)).length
  }
}

/** "1 h 05 min", "12 min 30 s", "45 s". */
export function formatDuration (ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`
  if (m > 0) return `${m} min ${String(s).padStart(2, '0')} s`
  return `${s} s`
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
