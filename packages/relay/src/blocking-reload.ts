/**
 * LL-HLS blocking playlist reloads (RFC 8216bis 6.2.5.2): a player asks for a media playlist with
 * `?_HLS_msn=<n>[&_HLS_part=<m>]` and the relay holds the request until the playlist holds that
 * segment (or that part of it), or anything later, and answers the moment it does. A request that
 * cannot be satisfied within three target durations gets 503; one asking more than two segments ahead
 * of the newest segment known gets 400 at once. Waiting requests are bounded per room: past the bound
 * a request is answered 503 at once, so a flood of blocked reloads cannot hold memory or sockets.
 */

/** Requests blocked at once per room; more are answered 503 straight away. */
export const MAX_BLOCKED_RELOADS = 256

export interface ReloadRequest {
  msn: number
  /** Absent: the whole segment `msn` is asked for. */
  part?: number
}

/**
 * The blocking-reload parameters of a playlist request: undefined without `_HLS_msn`, a message saying
 * what is wrong when they are malformed (`_HLS_part` without `_HLS_msn` included, as the spec says).
 */
export function blockingReloadQuery (query: URLSearchParams): ReloadRequest | string | undefined {
  const msn = query.get('_HLS_msn')
  const part = query.get('_HLS_part')
  if (msn === null) return part === null ? undefined : '_HLS_part needs _HLS_msn'
  if (!/^\d{1,15}$/.test(msn)) return '_HLS_msn must be a media sequence number'
  if (part !== null && !/^\d{1,4}$/.test(part)) return '_HLS_part must be a part index'
  return part === null ? { msn: Number(msn) } : { msn: Number(msn), part: Number(part) }
}

export type ReloadOutcome = 'ready' | 'timeout' | 'busy' | 'gone'

interface Waiter {
  ready: () => boolean
  settle: (outcome: ReloadOutcome) => void
}

/** One room's blocked reloads: `notify` after anything new is held, and every waiter whose playlist is ready is answered. */
export class BlockingReloads {
  readonly #waiters = new Set<Waiter>()
  /** Requests answered 503 because MAX_BLOCKED_RELOADS were waiting. */
  refused = 0

  get waiting (): number {
    return this.#waiters.size
  }

  /**
   * Resolves `ready` at once or when a later `notify` finds `ready()` true; `timeout` after
   * `timeoutMs`; `busy` when too many wait; `gone` when `signal` aborts (the client went away).
   */
  async wait (ready: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<ReloadOutcome> {
    if (ready()) return 'ready'
    if (signal.aborted) return 'gone'
    if (this.#waiters.size >= MAX_BLOCKED_RELOADS) {
      this.refused++
      return 'busy'
    }
    return await new Promise<ReloadOutcome>(resolve => {
      const timer = setTimeout(() => { waiter.settle('timeout') }, timeoutMs)
      const onAbort = (): void => { waiter.settle('gone') }
      const waiter: Waiter = {
        ready,
        settle: outcome => {
          clearTimeout(timer)
          signal.removeEventListener('abort', onAbort)
          this.#waiters.delete(waiter)
          resolve(outcome)
        }
      }
      this.#waiters.add(waiter)
      signal.addEventListener('abort', onAbort)
    })
  }

  /** Something new is held: answers every waiter whose playlist now has what it asked for. */
  notify (): void {
    for (const waiter of [...this.#waiters]) if (waiter.ready()) waiter.settle('ready')
  }
}
