/**
 * HTTP connection limits. Per IP: one address may hold at most `maxPerIp` open connections; a
 * connection over it is not dropped silently: its requests are answered 503 with Retry-After and the
 * connection is closed, so a well-behaved client backs off and a person sees why. Connections from a
 * trusted reverse proxy carry many viewers, so they are not counted per IP (requests are rate-limited
 * by the forwarded client address instead). In total: at most `max` open connections; at the limit a
 * new connection closes the connection idle longest (no request in flight) rather than being refused,
 * so idle connections cannot lock out active viewers; only when every connection is busy is it refused.
 */
import type { Socket } from 'node:net'

/** A refused connection that sends no request is closed after this long. */
const REFUSED_IDLE_MS = 10_000

export interface ConnectionLimits {
  /** Open connections per client IP; 0 turns the limit off. */
  maxPerIp: number
  /** Open connections in total; 0 turns the limit off. */
  max: number
  /** True for a trusted proxy's address: not counted per IP. */
  exempt?: (address: string) => boolean
}

export class ConnectionLimiter {
  /** Connections refused since start (per-IP limit, or every connection busy at the total limit). */
  refused = 0
  /** Idle connections closed to make room for a new one at the total limit. */
  evicted = 0
  readonly #limits: ConnectionLimits
  readonly #open = new Map<string, number>()
  readonly #over = new WeakSet<Socket>()
  readonly #sockets = new Set<Socket>()
  /** Connections with no request in flight, idle longest first. */
  readonly #idle = new Set<Socket>()

  constructor (limits: ConnectionLimits) {
    this.#limits = limits
  }

  /** Counts a new connection, making room at the total limit, or marks it refused when its address is at the limit. */
  admit (socket: Socket): void {
    if (this.#limits.max > 0 && this.#sockets.size >= this.#limits.max) {
      const oldest = this.#idle.values().next()
      if (oldest.done === true) {
        this.refused++
        socket.destroy()
        return
      }
      this.evicted++
      this.#forget(oldest.value)
      oldest.value.destroy()
    }
    this.#sockets.add(socket)
    this.#idle.add(socket)
    socket.once('close', () => { this.#forget(socket) })
    const address = socket.remoteAddress ?? 'unknown'
    if (this.#limits.maxPerIp <= 0 || this.#limits.exempt?.(address) === true) return
    const open = this.#open.get(address) ?? 0
    if (open >= this.#limits.maxPerIp) {
      this.refused++
      this.#over.add(socket)
      socket.setTimeout(REFUSED_IDLE_MS, () => { socket.destroy() })
      return
    }
    this.#open.set(address, open + 1)
    socket.once('close', () => {
      const left = (this.#open.get(address) ?? 1) - 1
      if (left > 0) this.#open.set(address, left)
      else this.#open.delete(address)
    })
  }

  /** A request started on `socket`: it is not idle. */
  busy (socket: Socket): void {
    this.#idle.delete(socket)
  }

  /** The request on `socket` ended: idle again, newest idle. */
  idle (socket: Socket): void {
    this.#idle.delete(socket)
    if (this.#sockets.has(socket)) this.#idle.add(socket)
  }

  /** True for a connection over its address's limit: answer 503 and close it. */
  isRefused (socket: Socket): boolean {
    return this.#over.has(socket)
  }

  #forget (socket: Socket): void {
    this.#sockets.delete(socket)
    this.#idle.delete(socket)
  }
}
