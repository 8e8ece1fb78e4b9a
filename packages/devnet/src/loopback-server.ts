/**
 * An HTTP server of a test's own (a fake relay, a proxy) listening on a free loopback port, with a
 * close that does not wait for keep-alive connections to time out.
 */
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface LoopbackServer {
  url: string
  close(): Promise<void>
}

export async function listenOnLoopback (server: Server): Promise<LoopbackServer> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/**
 * Ports handed out for processes that must be told theirs before they listen: below Linux's ephemeral
 * range (32768-60999), which the kernel takes outgoing connections' ports from. A port picked inside it
 * (the kernel's own pick for port 0) could be taken by any process's next outgoing connection before
 * the service bound it: a devnet started right after a busy test failed with EADDRINUSE once so.
 */
const PICKED_PORTS = { from: 20_000, to: 32_767 }
/** Tries before giving up: a taken port is rare, 16 in a row means the range is full. */
const PICK_TRIES = 16
/**
 * The next port to try: picks go up from a random start, so a process never hands out one port twice
 * (a port handed out is not bound until its service starts), and processes start apart.
 */
let nextPick = PICKED_PORTS.from + Math.floor(Math.random() * (PICKED_PORTS.to - PICKED_PORTS.from + 1))

/** A TCP port free on 127.0.0.1 right now, for a process that must be told its port before it listens. */
export async function freeTcpPort (): Promise<number> {
  return await pickPort(async port => {
    const server = createServer()
    const bound = await new Promise<boolean>(resolve => {
      server.once('error', () => { resolve(false) })
      server.listen(port, '127.0.0.1', () => { resolve(true) })
    })
    if (bound) await new Promise<void>(resolve => server.close(() => { resolve() }))
    return bound
  })
}

/** A UDP port free on 127.0.0.1 right now, for SRT and UDP listeners. */
export async function freeUdpPort (): Promise<number> {
  return await pickPort(async port => {
    const socket = createSocket('udp4')
    const bound = await new Promise<boolean>(resolve => {
      socket.once('error', () => { resolve(false) })
      socket.bind(port, '127.0.0.1', () => { resolve(true) })
    })
    await new Promise<void>(resolve => { try { socket.close(() => { resolve() }) } catch { resolve() } })
    return bound
  })
}

async function pickPort (isFree: (port: number) => Promise<boolean>): Promise<number> {
  for (let i = 0; i < PICK_TRIES; i++) {
    const port = nextPick
    nextPick = port === PICKED_PORTS.to ? PICKED_PORTS.from : port + 1
    if (await isFree(port)) return port
  }
  throw new Error(`no free port on 127.0.0.1 in ${PICKED_PORTS.from}-${PICKED_PORTS.to} after ${PICK_TRIES} tries`)
}
