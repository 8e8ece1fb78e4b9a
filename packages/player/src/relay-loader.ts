/**
 * The part of an hls.js loader that is the same for playlists and segments: hls.js's `Loader`
 * contract (one `load` per instance, `abort()` reports through `onAbort`, `destroy()` reports nothing,
 * no callback after either) and one fetch attempt against one relay with its own timeout, so a dead
 * relay costs a few seconds before the next one is tried instead of hls.js's whole load budget.
 */
import type { Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats } from 'hls.js'

/** How long one relay gets to deliver a whole playlist or segment before the next one is asked. */
export const ATTEMPT_TIMEOUT_MS = 4000

/** What a subclass's `run` ends with; the base class turns it into the matching hls.js callback. */
export type LoadOutcome =
  | { kind: 'success', url: string, data: ArrayBuffer | string, bytes: number, firstByte: number }
  | { kind: 'error', code: number, text: string }
  | { kind: 'timeout', text: string }

export type AttemptResult<D> =
  | { ok: true, data: D, firstByte: number }
  | { ok: false, timedOut: boolean, status: number, text: string }

function emptyStats (): LoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 }
  }
}

export abstract class RelayLoader<T extends LoaderContext> implements Loader<T> {
  context: T | null = null
  stats: LoaderStats = emptyStats()
  #callbacks: LoaderCallbacks<T> | null = null
  #attempt: AbortController | null = null
  /** Set once the load ended, was aborted or destroyed: nothing is reported after that. */
  #finished = false

  /** Tries the relays for `context` and says how it went; called once per loader. */
  protected abstract run (context: T): Promise<LoadOutcome>

  load (context: T, _config: LoaderConfiguration, callbacks: LoaderCallbacks<T>): void {
    if (this.stats.loading.start !== 0) throw new Error('Loader can only be used once: hls.js creates a new one per request.')
    this.stats.loading.start = performance.now()
    this.context = context
    this.#callbacks = callbacks
    this.run(context).then(
      outcome => { this.#report(outcome) },
      (error: unknown) => { this.#report({ kind: 'error', code: 0, text: error instanceof Error ? error.message : String(error) }) }
    )
  }

  abort (): void {
    if (this.#finished) return
    this.#finished = true
    this.#attempt?.abort()
    this.stats.aborted = true
    const callbacks = this.#callbacks
    const context = this.context
    if (callbacks?.onAbort !== undefined && context !== null) callbacks.onAbort(this.stats, context, null)
  }

  destroy (): void {
    this.#finished = true
    this.#attempt?.abort()
    this.#callbacks = null
    this.context = null
  }

  /** True once hls.js no longer wants this load; `run` stops trying relays. */
  protected get cancelled (): boolean {
    return this.#finished
  }

  /** One GET against one relay, bounded by ATTEMPT_TIMEOUT_MS and by `maxBytes`. */
  protected async attempt (url: string, as: 'text', maxBytes: number, init?: RequestInit): Promise<AttemptResult<string>>
  protected async attempt (url: string, as: 'arraybuffer', maxBytes: number, init?: RequestInit): Promise<AttemptResult<ArrayBuffer>>
  protected async attempt (url: string, as: 'text' | 'arraybuffer', maxBytes: number, init: RequestInit = {}): Promise<AttemptResult<string | ArrayBuffer>> {
    const controller = new AbortController()
    this.#attempt = controller
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, ATTEMPT_TIMEOUT_MS)
    try {
      const response = await fetch(url, { ...init, mode: 'cors', credentials: 'omit', signal: controller.signal })
      const firstByte = performance.now()
      const declared = Number(response.headers.get('content-length') ?? '0')
      if (!response.ok || declared > maxBytes) {
        controller.abort()
        return { ok: false, timedOut: false, status: response.status, text: response.ok ? `answered with ${declared} bytes, more than the ${maxBytes} allowed` : `answered HTTP ${response.status}` }
      }
      const body = await readBounded(response, maxBytes)
      if (body === undefined) {
        controller.abort()
        return { ok: false, timedOut: false, status: response.status, text: `sent more than the ${maxBytes} bytes allowed` }
      }
      const data = as === 'text' ? new TextDecoder().decode(body) : body.buffer
      return { ok: true, data, firstByte }
    } catch (error) {
      if (timedOut) return { ok: false, timedOut: true, status: 0, text: `no complete answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` }
      return { ok: false, timedOut: false, status: 0, text: error instanceof Error ? error.message : String(error) }
    } finally {
      clearTimeout(timer)
      if (this.#attempt === controller) this.#attempt = null
    }
  }

  #report (outcome: LoadOutcome): void {
    if (this.#finished) return
    this.#finished = true
    const callbacks = this.#callbacks
    const context = this.context
    if (callbacks === null || context === null) return
    const stats = this.stats
    if (outcome.kind === 'success') {
      stats.loading.first = Math.max(outcome.firstByte, stats.loading.start)
      stats.loading.end = Math.max(performance.now(), stats.loading.first)
      stats.loaded = stats.total = outcome.bytes
      stats.chunkCount = 1
      stats.bwEstimate = outcome.bytes * 8000 / Math.max(1, stats.loading.end - stats.loading.first)
      callbacks.onProgress?.(stats, context, outcome.data, null)
      callbacks.onSuccess({ url: outcome.url, data: outcome.data, code: 200 }, stats, context, null)
    } else if (outcome.kind === 'timeout') {
      callbacks.onTimeout(stats, context, null)
    } else {
      callbacks.onError({ code: outcome.code, text: outcome.text }, context, null, stats)
    }
  }
}

/**
 * The body of `response`, read chunk by chunk and given up as soon as it passes `maxBytes`, so a relay
 * that sends no Content-Length (or a false one) cannot make the page hold more than the bound.
 */
async function readBounded (response: Response, maxBytes: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const chunks: Uint8Array[] = []
  let size = 0
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel().catch(() => {})
      return undefined
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    body.set(chunk, at)
    at += chunk.byteLength
  }
  return body
}
