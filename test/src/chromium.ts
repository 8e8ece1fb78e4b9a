/** The Chromium launcher lives in the devnet package, which the player package's browser tests share. */
export { CHROMIUM_PATH, launchChromium } from '@hivecast/devnet/chromium'
