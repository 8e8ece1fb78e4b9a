/**
 * The lab's options, in one table from which the command line and `--help` are made. `--quick` is the
 * CI-sized run; any other option overrides what it (or the full run) would use.
 */
import { parseArgs } from 'node:util'
import { InvalidOptionError } from '@hivecast/shared'

export interface LabOptions {
  quick: boolean
  /** Viewers in each of the two homes. */
  viewersPerHome: number
  /** Seconds of steady playback measured. */
  seconds: number
  /** Seconds of playback before measuring, so viewers find each other. */
  warmup: number
  /** Origin renditions. */
  renditions: string
  /** After the measurement, stop the TURN server and watch the viewers for this many seconds (0: skip). */
  turnOffSeconds: number
  /** Then squeeze the origin's uplink to `squeezeFactor` x the ladder for this many seconds (0: skip). */
  squeezeSeconds: number
  squeezeFactor: number
  /** Then cut the link of the relay most viewers watch from and watch this many seconds (0: skip). */
  linkCutSeconds: number
  /** The slow relay's link, both ways, Mbit/s (0: no relay is slow). */
  slowRelayMbit: number
  /** The origin's uplink over the ladder's declared bitrate. */
  originUplinkFactor: number
  /** Seconds per LL-HLS part at the origin; 0: none. */
  partDuration: number
  help: boolean
}

interface OptionSpec {
  flag: string
  value?: string
  help: string
  full?: number | string
  quick?: number | string
}

export const LAB_OPTION_TABLE: readonly OptionSpec[] = [
  { flag: 'quick', help: 'the CI-sized run (under 5 minutes): fewer viewers, shorter stretches' },
  { flag: 'viewers-per-home', value: '<n>', full: 6, quick: 3, help: 'Chromium viewers in each of the two homes (one browser per home)' },
  { flag: 'seconds', value: '<s>', full: 180, quick: 45, help: 'seconds of steady playback measured' },
  { flag: 'warmup', value: '<s>', full: 30, quick: 10, help: 'seconds of playback before measuring, so viewers find each other' },
  { flag: 'renditions', value: '<list>', full: '240p', quick: '240p', help: 'the origin\'s renditions' },
  { flag: 'turn-off-seconds', value: '<s>', full: 60, quick: 20, help: 'then stop the TURN server and watch this long for stalls (0 skips it)' },
  { flag: 'squeeze-seconds', value: '<s>', full: 30, quick: 15, help: 'then squeeze the origin\'s uplink to --squeeze-factor x the ladder this long, give it back, and check that every relay got every segment (0 skips it)' },
  { flag: 'squeeze-factor', value: '<x>', full: 1.2, quick: 1.2, help: 'the origin\'s uplink over the ladder\'s bitrate while squeezed' },
  { flag: 'link-cut-seconds', value: '<s>', full: 30, quick: 15, help: 'then cut the link of the relay most viewers watch from (ip link set down) and watch this long for stalls (0 skips it)' },
  { flag: 'slow-relay-mbit', value: '<Mbit/s>', full: 2, quick: 2, help: 'relay-4\'s link both ways (0: no relay is slow)' },
  { flag: 'origin-uplink-factor', value: '<x>', full: 2.5, quick: 2.5, help: 'the origin\'s uplink over the ladder\'s declared bitrate' },
  { flag: 'part-duration', value: '<s>', full: 0, quick: 0, help: 'the origin\'s LL-HLS parts (origin --part-duration, e.g. 0.333): viewers then play in low-latency mode, their default (0: no parts)' },
  { flag: 'help', help: 'show this help' }
]

export function labHelp (): string {
  const rows = LAB_OPTION_TABLE.map(o => {
    const defaults = o.full === undefined ? '' : ` (default ${o.full}; --quick ${o.quick})`
    return `  --${o.flag}${o.value === undefined ? '' : ` ${o.value}`}\n      ${o.help}${defaults}`
  })
  return `npm run lab [-- options]: Hivecast in a network lab (needs root).

Builds a network of Linux network namespaces (all named hvlab-, addresses in 198.18.0.0/15 only): an
internet bridge; public hosts for the origin (test pattern), 4 relays (https with a CA made for the run;
relay-4's link is slow) and coturn (STUN/TURN with a shared secret); two homes behind NAT routers
(home-1 endpoint-independent, home-2 symmetric), 20 Mbit/s down and 5 Mbit/s up, each with a Chromium
whose viewers watch the site. The origin's uplink is capped at 2.5x the ladder's bitrate. After the
measured stretch: the TURN server is stopped, the origin's uplink squeezed and given back, and the link
of the relay most viewers watch from cut, each watched for stalls. Prints
'lab: {json}' last (natViewers, peerShare, turnShare, stalls, originUploadPerStreamByte,
glassToGlassP50Ms, ...); the full run also writes lab/results/latest.json. Whatever a crashed run left
(namespaces, links) is removed at the start.

Options:
${rows.join('\n')}
`
}

export function parseLabOptions (argv: string[]): LabOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(LAB_OPTION_TABLE.map(o => [o.flag, { type: o.value === undefined ? 'boolean' : 'string' }])),
    strict: true
  })
  const quick = values.quick === true
  const pick = (flag: string): string => {
    const given = values[flag]
    const spec = LAB_OPTION_TABLE.find(o => o.flag === flag)!
    return typeof given === 'string' ? given : String(quick ? spec.quick : spec.full)
  }
  const count = (flag: string, min: number): number => {
    const value = Number(pick(flag))
    if (!Number.isInteger(value) || value < min) throw new InvalidOptionError(`--${flag} must be a whole number of at least ${min}, not "${pick(flag)}"`)
    return value
  }
  const positive = (flag: string): number => {
    const value = Number(pick(flag))
    if (!Number.isFinite(value) || value < 0) throw new InvalidOptionError(`--${flag} must be a number of at least 0, not "${pick(flag)}"`)
    return value
  }
  return {
    quick,
    viewersPerHome: count('viewers-per-home', 1),
    seconds: count('seconds', 5),
    warmup: count('warmup', 0),
    renditions: pick('renditions'),
    turnOffSeconds: count('turn-off-seconds', 0),
    squeezeSeconds: count('squeeze-seconds', 0),
    squeezeFactor: positive('squeeze-factor'),
    linkCutSeconds: count('link-cut-seconds', 0),
    slowRelayMbit: positive('slow-relay-mbit'),
    originUplinkFactor: positive('origin-uplink-factor'),
    partDuration: positive('part-duration'),
    help: values.help === true
  }
}
