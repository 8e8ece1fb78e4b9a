/**
 * Which NAT a home really is: a program in the home's computer sends UDP from one socket to two ports
 * of a host outside, which notes the outside port each packet came from. The same port for both is an
 * endpoint-independent mapping (hole punching works); different ports, a symmetric one (TURN needed).
 * Run as a script (`node nat-probe.ts <host> <port> <port>`) it is the sender.
 */
import { createSocket } from 'node:dgram'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import type { NatKind } from './home-network.ts'
import { inNamespace } from './namespaces.ts'

const run = promisify(execFile)
const SELF = fileURLToPath(import.meta.url)
const PROBE_TEXT = 'hvlab-nat-probe'

/** Sends from namespace `ns` to two UDP ports on `host` (an address of this namespace) and compares the outside ports seen. */
export async function probeNat (ns: string, host: string): Promise<NatKind> {
  const seen = [new Set<number>(), new Set<number>()]
  const sockets = await Promise.all([0, 1].map(async i => await new Promise<ReturnType<typeof createSocket>>((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.on('message', (message, remote) => { if (message.toString() === PROBE_TEXT) seen[i]!.add(remote.port) })
    socket.once('error', reject)
    socket.bind(0, host, () => resolve(socket))
  })))
  try {
    const ports = sockets.map(s => (s.address() as AddressInfo).port)
    await run(inNamespace(ns)[0]!, [...inNamespace(ns).slice(1), process.execPath, SELF, host, String(ports[0]), String(ports[1])])
    await new Promise(resolve => setTimeout(resolve, 200))
  } finally {
    for (const socket of sockets) socket.close()
  }
  const [a, b] = seen.map(s => [...s])
  if (a?.length !== 1 || b?.length !== 1) throw new Error(`NAT probe from ${ns}: expected one outside port per destination, saw ${JSON.stringify([a, b])}`)
  return a[0] === b[0] ? 'endpoint-independent' : 'symmetric'
}

if (process.argv[1] === SELF) {
  const [host, first, second] = process.argv.slice(2)
  const socket = createSocket('udp4')
  socket.bind(0, () => {
    let sent = 0
    // A few times each, in case one is lost; the outside port of one socket to one destination does not change.
    const timer = setInterval(() => {
      socket.send(PROBE_TEXT, Number(first), host)
      socket.send(PROBE_TEXT, Number(second), host)
      if (++sent === 3) {
        clearInterval(timer)
        setTimeout(() => socket.close(), 50)
      }
    }, 30)
  })
}
