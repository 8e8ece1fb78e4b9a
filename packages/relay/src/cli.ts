#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * `hivecast-relay`: runs a volunteer relay for one or more rooms until SIGINT/SIGTERM, printing its
 * URLs when ready and a status line every 10 s.
 *
 * The first line caps V8's young generation (4 MiB semi-spaces instead of V8's 16 MiB and more): a
 * relay's garbage is short-lived request state, and the default let the heap grow to ~120 MiB of
 * mostly free space. Peak RSS under the bench's HTTP load: 257 MiB -> 161 MiB, throughput unchanged
 * within noise (docs/architecture.md, "Facts measured here").
 */
import { errorMessage, logger } from '@hivecast/shared'
import { packageVersion } from '@hivecast/shared/node'
import { helpText, parseCommandLine } from './relay-command-line.ts'
import type { Relay } from './relay.ts'
import type { RelayOptions } from './relay-options.ts'

function megabytes (bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

function statusLine (relay: Relay): string {
  const status = relay.status()
  const rooms = Object.entries(status.rooms).map(([slug, room]) => {
    const renditions = Object.values(room.renditions)
    const held = renditions.reduce((n, r) => n + r.held, 0)
    const behind = Math.max(0, ...renditions.map(r => r.behind))
    const rejected = Object.values(room.rejected).reduce((n, c) => n + c, 0)
    return `${slug}: ${held} segment${held === 1 ? '' : 's'} held, ${behind} behind${rejected > 0 ? `, ${rejected} rejected` : ''}, ${room.viewers.network} watching (${room.viewers.local} here)`
  })
  return `status: ${rooms.join('; ')} | ${status.requests} requests, ${megabytes(status.bytesServed)} served, ${status.viewers} client${status.viewers === 1 ? '' : 's'} | ${status.peers} peer${status.peers === 1 ? '' : 's'}, ${status.directory} relay${status.directory === 1 ? '' : 's'} in the directory`
}

async function main (): Promise<void> {
  let options: RelayOptions | 'help' | 'version'
  try {
    options = await parseCommandLine(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`hivecast-relay: ${errorMessage(err)}\nhint: hivecast-relay --help shows every option with an example\n`)
    process.exit(2)
  }
  if (options === 'help') {
    process.stdout.write(helpText())
    return
  }
  if (options === 'version') {
    process.stdout.write(`hivecast-relay ${packageVersion(import.meta.url)}\n`)
    return
  }
  let relay: Relay
  try {
    // Loaded only now: a usage error or --help answers without loading libp2p and helia.
    const { startRelay } = await import('./relay.ts')
    relay = await startRelay(options)
  } catch (err) {
    process.stderr.write(`hivecast-relay: ${(err as Error).message}\n`)
    process.exit(1)
  }
  // The ready and status lines are info: the message alone, on stdout (devnet and operators read them).
  const log = logger('relay', options.logLevel === undefined ? {} : { level: options.logLevel })
  log.info(`relay: ${relay.url}`)
  if (relay.acme !== undefined) log.info(`relay https: ${relay.acme.url ?? `(waiting for the certificate for ${relay.acme.status().domains.join(', ')})`}`)
  // One line per address, TCP first (what other relays dial), then WebSocket (what browsers dial).
  const tcpFirst = [...relay.multiaddrs].sort((a, b) => Number(a.includes('/ws')) - Number(b.includes('/ws')))
  for (const address of tcpFirst.length > 0 ? tcpFirst : ['(none)']) log.info(`relay libp2p: ${address}`)
  const ticker = setInterval(() => { log.info(statusLine(relay)) }, 10_000)

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`hivecast-relay: ${signal} again, exiting without a clean stop\n`)
      process.exit(1)
    }
    stopping = true
    clearInterval(ticker)
    relay.stop().then(() => process.exit(0), (err: Error) => {
      process.stderr.write(`hivecast-relay: stop failed: ${err.message}\n`)
      process.exit(1)
    })
  }
  // SIGHUP (systemctl reload, e.g. from certbot's deploy hook): take the renewed certificate.
  process.on('SIGHUP', () => {
    relay.reloadTls().then(() => { log.info('relay: TLS certificate reloaded; new connections use it') }, (err: Error) => {
      process.stderr.write(`hivecast-relay: TLS certificate not reloaded, still serving the old one: ${err.message}\n`)
    })
  })
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
}

await main()
