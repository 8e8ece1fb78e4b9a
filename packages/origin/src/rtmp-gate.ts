/**
 * The stream-key gate in front of ffmpeg's RTMP listener. ffmpeg (5.1) accepts a publish to any
 * stream name and only logs "Unexpected stream", so the origin listens itself and relays each
 * connection to ffmpeg on loopback, reading along the publisher's bytes. The handshake and `connect`
 * pass through (the publisher needs ffmpeg's answers to get further); the first command that names
 * a stream (`releaseStream`, `FCPublish` or `publish`) decides: the room's key goes on, anything
 * else closes the connection, logged and counted, before ffmpeg sees the name or a media byte.
 * Accepted names are overwritten with a same-length placeholder, so the key is never on ffmpeg's
 * command line (visible in ps) nor in its log.
 *
 * Known limit: ffmpeg's listener takes one connection per run, so a refused publisher costs a
 * restart of ffmpeg (about a second) before the next one can publish.
 */
import { createServer, connect as tcpConnect } from 'node:net'
import { timingSafeEqual } from 'node:crypto'
import type { AddressInfo, Server, Socket } from 'node:net'

export interface RtmpGateOptions {
  host: string
  port: number
  key: string
  log: (line: string) => void
}

/** AMF0 strings of the commands that carry a stream name: type 0x02, 16-bit length, the name. */
const COMMANDS = ['releaseStream', 'FCPublish', 'publish'].map(name => {
  const bytes = Buffer.from(name)
  return { name, marker: Buffer.concat([Buffer.from([0x02, 0x00, bytes.length]), bytes]) }
})
/** The client's half of the RTMP handshake: C0 (1 byte) + C1 (1536), then C2 (1536). */
const HANDSHAKE_BYTES = 1 + 1536 + 1536
/** A publisher names its stream within a few kilobytes; anything else is not an RTMP publisher. */
const MAX_BEFORE_PUBLISH = 64 * 1024
const PUBLISH_WITHIN_MS = 10_000
/** A publisher silent this long is gone (cable pulled): closing lets ffmpeg see the end of the stream. */
const IDLE_MS = 10_000

export type StreamNameScan =
  | { found: false }
  /** `name` undefined: the command is not shaped as RTMP clients send it. `end`: first byte after the name. */
  | { found: true, command: string, name: string | undefined, nameAt: number, end: number }

/**
 * Finds the first stream-naming command in what a publisher sent. Each is the command name, a
 * transaction id (AMF0 number: 0x00 + 8 bytes), null (0x05), then the stream name (AMF0 string).
 * These messages are far below RTMP's smallest chunk size (128), so no chunk header splits them.
 */
export function scanStreamName (bytes: Buffer): StreamNameScan {
  let first: { name: string, marker: Buffer, at: number } | undefined
  for (const command of COMMANDS) {
    const at = bytes.indexOf(command.marker)
    if (at >= 0 && (first === undefined || at < first.at)) first = { ...command, at }
  }
  if (first === undefined) return { found: false }
  const start = first.at + first.marker.length + 9 + 1
  if (bytes.length < start + 3) return { found: false }
  if (bytes[first.at + first.marker.length] !== 0x00 || bytes[start - 1] !== 0x05 || bytes[start] !== 0x02) {
    return { found: true, command: first.name, name: undefined, nameAt: start, end: start }
  }
  const length = bytes.readUInt16BE(start + 1)
  if (bytes.length < start + 3 + length) return { found: false }
  return { found: true, command: first.name, name: bytes.subarray(start + 3, start + 3 + length).toString('latin1'), nameAt: start + 3, end: start + 3 + length }
}

/** Where the forwardable part of `bytes` ends: before a command marker or a tail that may start one. */
function forwardableLength (bytes: Buffer): number {
  let end = bytes.length
  for (const { marker } of COMMANDS) {
    const at = bytes.indexOf(marker)
    if (at >= 0) end = Math.min(end, at)
    for (let n = Math.min(marker.length - 1, bytes.length); n > 0; n--) {
      if (bytes.subarray(bytes.length - n).equals(marker.subarray(0, n))) {
        end = Math.min(end, bytes.length - n)
        break
      }
    }
  }
  return end
}

/** The stream name ffmpeg listens for: as long as the key, but not the key. */
export function placeholderName (key: string): string {
  return 'x'.repeat(key.length)
}

function sameKey (name: string, key: string): boolean {
  // OBS and others may append a query string to the key.
  const given = Buffer.from(name.split('?')[0] ?? '')
  const expected = Buffer.from(key)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export class RtmpGate {
  readonly #options: RtmpGateOptions
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  /** Loopback port ffmpeg listens on; chosen at start. */
  internalPort = 0
  accepted = 0
  refused = 0

  constructor (options: RtmpGateOptions) {
    this.#options = options
    this.#server = createServer(socket => this.#handle(socket))
  }

  async start (): Promise<void> {
    // A port the OS says is free for ffmpeg: bound and released at once. ffmpeg binds it at every run.
    const probe = createServer()
    await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.listen(0, '127.0.0.1', resolve) })
    this.internalPort = (probe.address() as AddressInfo).port
    await new Promise<void>(resolve => probe.close(() => resolve()))
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', err => reject(new Error(`cannot listen for RTMP on ${this.#options.host}:${this.#options.port}: ${err.message}. Choose another input listen address.`)))
      this.#server.listen(this.#options.port, this.#options.host, resolve)
    })
  }

  async close (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
  }

  #handle (client: Socket): void {
    const { log, key } = this.#options
    const who = `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`
    const upstream = tcpConnect(this.internalPort, '127.0.0.1')
    this.#sockets.add(client)
    this.#sockets.add(upstream)
    let pending = Buffer.alloc(0)
    let handshake = HANDSHAKE_BYTES
    let open = false
    const close = (): void => {
      clearTimeout(deadline)
      client.destroy()
      upstream.destroy()
      this.#sockets.delete(client)
      this.#sockets.delete(upstream)
    }
    const refuse = (why: string): void => {
      this.refused++
      log(`RTMP publisher ${who} refused: ${why}`)
      close()
    }
    const deadline = setTimeout(() => refuse(`no publish command within ${PUBLISH_WITHIN_MS / 1000} s`), PUBLISH_WITHIN_MS)
    client.setTimeout(IDLE_MS, () => {
      log(`RTMP publisher ${who} silent for ${IDLE_MS / 1000} s; closed`)
      close()
    })
    client.on('close', close)
    upstream.on('close', close)
    client.on('error', () => {})
    upstream.on('error', err => {
      if (!open) log(`RTMP publisher ${who} turned away: ffmpeg is not listening yet (${err.message}); the publisher should retry`)
    })
    upstream.pipe(client)
    client.on('data', (chunk: Buffer) => {
      if (handshake > 0) {
        // C0+C1 and C2 go through untouched and unread: ffmpeg expects each in one piece.
        const through = chunk.subarray(0, handshake)
        handshake -= through.length
        upstream.write(through)
        chunk = chunk.subarray(through.length)
        if (chunk.length === 0) return
      }
      if (open) {
        upstream.write(chunk)
        return
      }
      pending = Buffer.concat([pending, chunk])
      for (;;) {
        const scan = scanStreamName(pending)
        if (!scan.found) break
        if (scan.name === undefined) return refuse(`malformed ${scan.command} command`)
        if (!sameKey(scan.name, key)) return refuse(`wrong stream key in ${scan.command}`)
        pending.fill(0x78, scan.nameAt, scan.end)
        upstream.write(pending.subarray(0, scan.end))
        pending = pending.subarray(scan.end)
        if (scan.command === 'publish') {
          open = true
          clearTimeout(deadline)
          this.accepted++
          log(`RTMP publisher ${who} accepted`)
          upstream.write(pending)
          pending = Buffer.alloc(0)
          return
        }
      }
      if (pending.length > MAX_BEFORE_PUBLISH) return refuse(`no publish command in the first ${MAX_BEFORE_PUBLISH} bytes`)
      // Hold back only what may be the start of a stream-naming command: holding back more would
      // stall a publisher that waits for ffmpeg's answer to a message it sent whole.
      const through = forwardableLength(pending)
      if (through > 0) {
        upstream.write(pending.subarray(0, through))
        pending = pending.subarray(through)
      }
    })
  }
}
