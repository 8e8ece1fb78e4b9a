/**
 * Starts a devnet for one test file and always stops it. The processes' lines go to
 * `test-results/<name>.log`, which `.ci/run` prints when the suite fails.
 */
import { createWriteStream, mkdirSync } from 'node:fs'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startDevnet } from '@hivecast/devnet'
import type { Devnet, DevnetOptions } from '@hivecast/devnet'

export const RESULTS_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url))

export async function devnetForTest (name: string, options: DevnetOptions): Promise<Devnet> {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const log = createWriteStream(`${RESULTS_DIR}${name}.log`)
  const devnet = await startDevnet({ ...options, log: line => { log.write(`${new Date().toISOString()} ${line}\n`) } })
  after(async () => {
    await devnet.stop()
    log.end()
  })
  return devnet
}
