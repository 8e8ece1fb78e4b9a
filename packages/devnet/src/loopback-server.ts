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

/** A TCP port free on 127.0.0.1 right now, for a process that must be told its port before it listens. */
export async function freeTcpPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

/** A UDP port free on 127.0.0.1 right now, for SRT and UDP listeners. */
export async function freeUdpPort (): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise<void>(resolve => socket.close(() => { resolve() }))
  return port
}
