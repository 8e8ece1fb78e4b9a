/**
 * The site's runtime configuration, `./config.json` next to the built pages:
 * `{ "relays": ["http://127.0.0.1:8081"], "rooms": [{ "slug": "janson", "title": "Janson", "key": "12D3Koo…" }] }`.
 * Optional: `"schedule": "<url of a Pentabarf/Frab XML or JSON schedule>"` (relative to config.json) and
 * `"origins": [{ "room": "janson", "url": "http://origin.example.org:8090" }]` (each room's origin, for the
 * status page). The demo launcher writes it. Entries that do not validate are dropped and counted; the
 * page says so.
 */
import { isRoomSlug } from '@hivecast/shared'

export interface RoomEntry {
  slug: string
  title: string
  /** The room's public key (peer id) that signs its announcements; several, space-separated, with a hot standby. */
  key: string
}

export interface OriginEntry {
  room: string
  /** The origin's HTTP base URL, serving `/status` and `/healthz`. */
  url: string
}

export interface SiteConfig {
  relays: string[]
  rooms: RoomEntry[]
  origins: OriginEntry[]
  /** Absolute URL of the schedule, when config.json names one. */
  schedule: string | undefined
  /** What was dropped from config.json and why, for a note on the page. */
  ignored: string[]
}

export type SiteConfigResult = { ok: true, config: SiteConfig } | { ok: false, message: string }

const WHAT_TO_DO = 'The demo launcher (npm start) writes config.json; when serving site/dist yourself, put one next to index.html.'
const PEER_ID = /^[A-Za-z0-9]{10,128}$/

export async function loadSiteConfig (): Promise<SiteConfigResult> {
  let response: Response
  try {
    response = await fetch('./config.json', { cache: 'no-store' })
  } catch {
    return { ok: false, message: `config.json could not be fetched (network error). ${WHAT_TO_DO}` }
  }
  if (!response.ok) {
    return { ok: false, message: `config.json is missing (HTTP ${response.status}). ${WHAT_TO_DO}` }
  }
  let value: unknown
  try {
    value = JSON.parse(await response.text())
  } catch {
    return { ok: false, message: `config.json is not valid JSON. ${WHAT_TO_DO}` }
  }
  return parseSiteConfig(value)
}

export function parseSiteConfig (value: unknown): SiteConfigResult {
  if (!isObject(value) || !Array.isArray(value.relays) || !Array.isArray(value.rooms)) {
    return { ok: false, message: `config.json must be an object with a "relays" array of URLs and a "rooms" array of { slug, title, key }. ${WHAT_TO_DO}` }
  }
  const ignored: string[] = []
  const relays: string[] = []
  for (const entry of value.relays) {
    const relay = relayUrl(entry)
    if (relay === undefined) ignored.push(`relay ${short(entry)}: not an http(s) URL`)
    else if (!relays.includes(relay)) relays.push(relay)
  }
  const rooms: RoomEntry[] = []
  for (const entry of value.rooms) {
    const room = roomEntry(entry)
    if (typeof room === 'string') ignored.push(room)
    else if (rooms.some(other => other.slug === room.slug)) ignored.push(`room ${room.slug}: listed twice`)
    else rooms.push(room)
  }
  const origins: OriginEntry[] = []
  for (const entry of Array.isArray(value.origins) ? value.origins : []) {
    const url = isObject(entry) ? relayUrl(entry.url) : undefined
    if (!isObject(entry) || typeof entry.room !== 'string' || !isRoomSlug(entry.room) || url === undefined) ignored.push(`origin ${short(entry)}: must be { room, url }`)
    else origins.push({ room: entry.room, url })
  }
  let schedule: string | undefined
  if (value.schedule !== undefined) {
    try {
      if (typeof value.schedule !== 'string') throw new TypeError('not a string')
      schedule = new URL(value.schedule, location.href).href
    } catch {
      ignored.push(`schedule ${short(value.schedule)}: not a URL`)
    }
  }
  if (relays.length === 0) {
    return { ok: false, message: `config.json lists no usable relay URL${ignored.length > 0 ? ` (${ignored.join('; ')})` : ''}. Add at least one, e.g. "http://127.0.0.1:8081".` }
  }
  return { ok: true, config: { relays, rooms, origins, schedule, ignored } }
}

function roomEntry (entry: unknown): RoomEntry | string {
  if (!isObject(entry)) return `room ${short(entry)}: not an object`
  const { slug, title, key } = entry
  if (typeof slug !== 'string' || !isRoomSlug(slug)) return `room ${short(slug)}: slug must be lowercase letters, digits and dashes`
  if (typeof title !== 'string' || title.trim() === '' || title.length > 200) return `room ${slug}: title must be a non-empty string`
  // Several keys, separated by spaces, when a hot-standby origin signs the room too.
  const keys = typeof key === 'string' ? key.trim().split(/\s+/) : []
  if (keys.length === 0 || !keys.every(k => PEER_ID.test(k))) return `room ${slug}: key must be the origin's peer id (or the room's origins' ids, separated by spaces)`
  return { slug, title: title.trim(), key: keys.join(' ') }
}

function relayUrl (entry: unknown): string | undefined {
  if (typeof entry !== 'string') return undefined
  try {
    const url = new URL(entry)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
  } catch {
    return undefined
  }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function short (value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}
