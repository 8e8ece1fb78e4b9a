/**
 * A TCP proxy in front of a real node that counts the bytes the node sends through it: how the tests
 * measure an origin's upload without trusting any libp2p accounting.
 */
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'

export class CountingProxy {
  /** Bytes the target sent to the clients, over every connection so far. */
  downstreamBytes = 0
  readonly #server: Server
  readonly #sockets = new Set<Socket>()

  private constructor (server: Server) {
    this.#server = server
  }

  static async start (targetPort: number): Promise<CountingProxy> {
    const server = createServer()
    const proxy = new CountingProxy(server)
    server.on('connection', client => {
      const upstream = connect(targetPort, '127.0.0.1')
      proxy.#sockets.add(client).add(upstream)
      upstream.on('data', (chunk: Buffer) => { proxy.downstreamBytes += chunk.length })
      client.pipe(upstream)
      upstream.pipe(client)
      const close = (): void => {
        client.destroy()
        upstream.destroy()
        proxy.#sockets.delete(client)
        proxy.#sockets.delete(upstream)
      }
      client.on('error', close).on('close', close)
      upstream.on('error', close).on('close', close)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get port (): number {
    return (this.#server.address() as AddressInfo).port
  }

  /** Client connections open through the proxy right now. */
  get connections (): number {
    return this.#sockets.size / 2
  }

  async stop (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise(resolve => this.#server.close(resolve))
  }
}
