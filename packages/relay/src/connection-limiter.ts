/**
 * Per-IP connection limit: one address may hold at most `max` open HTTP connections. A connection over
 * the limit is not dropped silently: its requests are answered 503 with Retry-After and the connection
 * is closed, so a well-behaved client backs off and a person sees why.
 */
import type { Socket } from 'node:net'

/** A refused connection that sends no request is closed after this long. */
const REFUSED_IDLE_MS = 10_000

export class ConnectionLimiter {
  /** Connections refused since start. */
  refused = 0
  readonly #max: number
  readonly #open = new Map<string, number>()
  readonly #over = new WeakSet<Socket>()

  /** `max` 0 turns the limit off. */
  constructor (max: number) {
    this.#max = max
  }

  /** Counts a new connection against its address, or marks it refused when the address is at the limit. */
  admit (socket: Socket): void {
    if (this.#max <= 0) return
    const address = socket.remoteAddress ?? 'unknown'
    const open = this.#open.get(address) ?? 0
    if (open >= this.#max) {
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

  /** True for a connection over its address's limit: answer 503 and close it. */
  isRefused (socket: Socket): boolean {
    return this.#over.has(socket)
  }
}
