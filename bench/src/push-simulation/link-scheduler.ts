/**
 * LinkScheduler: the simulation's model of the network between relays, in real time. A message from
 * A to B waits for A's uplink (one message at a time, at A's upload rate) and for B's downlink (at
 * B's download rate), the bytes flowing through both at once, and arrives the A-B link's one-way
 * delay later. Control messages (offers,
 * answers, wants) count a few bytes. A killed node sends and receives nothing from then on, and each
 * other node notices it is gone after its own detection delay (a killed process's TCP connections
 * reset at once; a host that stops answering is noticed later).
 */

export interface LinkModel {
  /** One-way delay between two nodes, ms: the same both ways. */
  delayMs: (a: string, b: string) => number
  /** Upload rate of a node, bytes per second. */
  uploadBytesPerSecond: (node: string) => number
  /** Download rate of a node, bytes per second. */
  downloadBytesPerSecond: (node: string) => number
  /** How long `observer` takes to notice that `dead` is gone, ms. */
  detectMs: (observer: string, dead: string) => number
}

/** A message to or from a node that is gone: the sender sees its connection reset. */
export class LinkDown extends Error {
  constructor (from: string, to: string) {
    super(`link ${from} -> ${to} is down`)
    this.name = 'LinkDown'
  }
}

/** FNV-1a: deterministic per-pair numbers without a random source. */
export function pairHash (a: string, b: string): number {
  const text = a < b ? a + b : b + a
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

export class LinkScheduler {
  readonly model: LinkModel
  readonly #uplinkFreeAt = new Map<string, number>()
  readonly #downlinkFreeAt = new Map<string, number>()
  /** Killed nodes and when they died. */
  readonly #killedAt = new Map<string, number>()
  readonly #onKill = new Map<string, Array<() => void>>()

  constructor (model: LinkModel) {
    this.model = model
  }

  kill (node: string): void {
    if (this.#killedAt.has(node)) return
    this.#killedAt.set(node, Date.now())
    for (const stop of this.#onKill.get(node) ?? []) stop()
    this.#onKill.delete(node)
  }

  alive (node: string): boolean {
    return !this.#killedAt.has(node)
  }

  /** Whether `observer` still believes it holds a connection to `peer`. */
  connected (observer: string, peer: string): boolean {
    const diedAt = this.#killedAt.get(peer)
    return this.alive(observer) && (diedAt === undefined || Date.now() - diedAt < this.model.detectMs(observer, peer))
  }

  /**
   * Carries `bytes` from `from` to `to`: resolves when they have arrived, rejects with LinkDown when
   * either end is gone (at once for the sender, on arrival for a receiver that died meanwhile) or
   * with `signal`'s reason when the sender gives up.
   */
  async send (from: string, to: string, bytes: number, signal?: AbortSignal): Promise<void> {
    if (!this.alive(from) || !this.connected(from, to)) throw new LinkDown(from, to)
    const now = Date.now()
    // Bytes flow through both ends at once: the message is done when the slower end has carried it.
    const delay = this.model.delayMs(from, to)
    const upStart = Math.max(now, this.#uplinkFreeAt.get(from) ?? 0)
    const upEnd = upStart + bytes / this.model.uploadBytesPerSecond(from) * 1000
    this.#uplinkFreeAt.set(from, upEnd)
    const downStart = Math.max(upStart + delay, this.#downlinkFreeAt.get(to) ?? 0)
    const arrival = Math.max(upEnd + delay, downStart + bytes / this.model.downloadBytesPerSecond(to) * 1000)
    this.#downlinkFreeAt.set(to, arrival)
    await new Promise<void>((resolve, reject) => {
      const stops = [from, to].map(node => {
        const list = this.#onKill.get(node) ?? []
        this.#onKill.set(node, list)
        const stop = (): void => { finish(new LinkDown(from, to)) }
        list.push(stop)
        return { node, stop }
      })
      const onAbort = (): void => { finish(signal?.reason as Error) }
      const timer = setTimeout(() => { finish() }, Math.max(0, arrival - now))
      const finish = (err?: Error): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        for (const { node, stop } of stops) {
          const list = this.#onKill.get(node)
          if (list !== undefined) this.#onKill.set(node, list.filter(s => s !== stop))
        }
        if (err === undefined) resolve()
        else reject(err)
      }
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
