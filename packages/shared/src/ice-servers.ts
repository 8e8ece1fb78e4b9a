/**
 * `/ice-servers.json`: the STUN and TURN servers a relay hands its viewers so that viewers behind
 * NATs can reach each other over WebRTC, TURN with short-lived credentials. A relay is untrusted: the
 * player keeps only well-formed STUN/TURN entries and at most a few of them.
 */
import * as v from 'valibot'

/** `stun:`, `stuns:`, `turn:` or `turns:` and a host (with port and `?transport=` if any), no spaces. */
export const ICE_SERVER_URL = /^(?:stuns?|turns?):[^\s"'<>\\]{1,200}$/

const MAX_SERVERS = 8
const MAX_URLS = 8

const iceUrl = v.pipe(v.string(), v.regex(ICE_SERVER_URL))
const iceServerSchema = v.object({
  urls: v.union([iceUrl, v.pipe(v.array(iceUrl), v.minLength(1), v.maxLength(MAX_URLS))]),
  username: v.optional(v.pipe(v.string(), v.maxLength(256))),
  credential: v.optional(v.pipe(v.string(), v.maxLength(256)))
})

export type IceServer = v.InferOutput<typeof iceServerSchema>

export interface IceServersJson {
  iceServers: IceServer[]
  /** ms since the epoch after which the TURN credentials no longer work; null without TURN. */
  expiresAt: number | null
}

/** A relay's `/ice-servers.json`, checked: malformed servers are dropped, at most 8 kept. */
export function parseIceServers (value: unknown): IceServersJson {
  if (typeof value !== 'object' || value === null) return { iceServers: [], expiresAt: null }
  const { iceServers, expiresAt } = value as Record<string, unknown>
  const servers = Array.isArray(iceServers)
    ? iceServers.slice(0, MAX_SERVERS).flatMap(entry => {
      const result = v.safeParse(iceServerSchema, entry)
      return result.success ? [result.output] : []
    })
    : []
  return { iceServers: servers, expiresAt: typeof expiresAt === 'number' && Number.isFinite(expiresAt) ? expiresAt : null }
}
