/**
 * Driving an hls.js loader by hand, as hls.js would: one load configuration without retries (a test
 * sees the loader's own answer), and `runLoader`, which settles with what the loader reported first.
 */
import type { Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext } from 'hls.js'

export const LOAD_CONFIG = { loadPolicy: { maxTimeToFirstByteMs: 10_000, maxLoadTimeMs: 20_000, timeoutRetry: null, errorRetry: null }, maxRetry: 0, timeout: 20_000, retryDelay: 0, maxRetryDelay: 0 } satisfies LoaderConfiguration

export type LoadResult = { ok: true, data: string | ArrayBuffer } | { ok: false, text: string }

export async function runLoader<T extends LoaderContext> (loader: Loader<T>, context: T): Promise<LoadResult> {
  return await new Promise(resolve => {
    const callbacks: LoaderCallbacks<T> = {
      onSuccess: response => { resolve({ ok: true, data: response.data as string | ArrayBuffer }) },
      onError: error => { resolve({ ok: false, text: error.text }) },
      onTimeout: () => { resolve({ ok: false, text: 'timeout' }) }
    }
    loader.load(context, LOAD_CONFIG, callbacks)
  })
}
