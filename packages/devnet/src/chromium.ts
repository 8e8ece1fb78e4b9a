/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work here),
 * for the browser tests of the repository and of the player package. Background networking is off so
 * the browser dials nothing but the pages under test. A subpath export (`@hivecast/devnet/chromium`)
 * so the demo never loads playwright-core.
 */
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * `extraArgs`: more command-line switches, e.g. `--host-resolver-rules=…` to reach 127.0.0.1 by a LAN-like
 * name. `executablePath`: another way to start Chromium, e.g. the network lab's script that runs it in a
 * home's network namespace.
 */
export async function launchChromium (extraArgs: string[] = [], executablePath = CHROMIUM_PATH): Promise<Browser> {
  return await chromium.launch({
    executablePath,
    args: [
      ...extraArgs,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required'
    ]
  })
}
