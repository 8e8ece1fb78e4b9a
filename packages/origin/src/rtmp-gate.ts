/**
 * The stream-key gate in front of ffmpeg's RTMP listener. ffmpeg (5.1) accepts a publish to any
 * stream name and takes one connection per run, so the origin speaks RTMP itself until the key is
 * known to be right: it does the handshake, parses the chunk stream (honouring Set Chunk Size, so a
 * command split over many chunks is still read whole), answers `connect`, `releaseStream`,
 * `FCPublish` and `createStream` the way ffmpeg's listener does, and checks the stream name of each
 * command that names one. Only a right key makes it open a connection to ffmpeg on loopback: it
 * does the client handshake there, replays the publisher's session byte for byte with the name
 * overwritten by a same-length placeholder (so the key is never in ffmpeg's argv nor its log, and
 * ffmpeg's view of the chunk stream stays in step with the publisher's), waits for ffmpeg to start
 * the publish, tells the publisher so and then forwards the publisher's bytes. ffmpeg's answers to
 * the replayed commands were already given by the gate, so they are read and dropped.
 *
 * Unauthenticated connections are bounded: per address, in total, in time and in bytes; a refusal
 * is logged (without the name given) and counted.
 */
import { createServer, connect as tcpConnect } from 'node:net'
import { ListenError, formatHostPort } from '@hivecast/shared'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { AddressInfo, Server, Socket } from 'node:net'
import { ChunkReader, MessageType, RtmpProtocolError, decodeAmf0, encodeAmf0, encodeMessage, overwritePayload } from './rtmp-chunk-stream.ts'
import type { AmfValue, RtmpMessage } from './rtmp-chunk-stream.ts'

export interface RtmpGateOptions {
  host: string
  port: number
  key: string
  log: (line: string) => void
  /** Connections not yet past `publish`, per remote address. Default 4. */
  maxPendingPerAddress?: number
  /** Connections not yet past `publish`, in total. Default 32. */
  maxPending?: number
  /** Time for handshake and a right `publish`, in ms. Default 10 s. */
  publishWithinMs?: number
}

const HANDSHAKE_SIZE = 1536
const RTMP_VERSION = 3
/** A publisher's session up to `publish` is a few hundred bytes; more is not a publisher. */
const MAX_BEFORE_PUBLISH = 64 * 1024
const MAX_COMMAND = 4096
/** ffmpeg's answers before its publish starts are small too. */
const MAX_FFMPEG_MESSAGE = 64 * 1024
/** A publisher silent this long is gone (cable pulled): closing lets ffmpeg see the end of the stream. */
const IDLE_MS = 10_000
/** What ffmpeg's listener answers, so that a publisher sees the same whether or not the gate is in front. */
const WINDOW_ACK_SIZE = 2_500_000
/** ffmpeg's listener gives the first stream id 1 (0 and 2 are reserved). */
const STREAM_ID = 1
const COMMANDS_WITH_NAME = new Set(['releaseStream', 'FCPublish', 'publish'])

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

function control (type: number, payload: Buffer): Buffer {
  return encodeMessage(2, type, 0, payload)
}

function uint32 (...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4)
  values.forEach((v, i) => b.writeUInt32BE(v, i * 4))
  return b
}

function command (values: AmfValue[], streamId = 0): Buffer {
  return encodeMessage(3, MessageType.amf0Command, streamId, encodeAmf0(values))
}

/** S0+S1+S2 for a C1: the simple handshake (S1's version field 0 tells clients not to expect a digest). */
function serverHandshake (c1: Buffer): Buffer {
  const s1 = Buffer.concat([Buffer.alloc(8), randomBytes(HANDSHAKE_SIZE - 8)])
  return Buffer.concat([Buffer.from([RTMP_VERSION]), s1, c1])
}

/** A command message's name, transaction id and arguments, or undefined for other messages. */
function readCommand (message: RtmpMessage): { name: string, transaction: number, args: AmfValue[], offsets: number[], skip: number } | undefined {
  if (message.type !== MessageType.amf0Command && message.type !== MessageType.amf3Command) return undefined
  // An AMF3 command message starts with one format byte, then AMF0 values.
  const skip = message.type === MessageType.amf3Command ? 1 : 0
  const { values, offsets } = decodeAmf0(message.payload.subarray(skip))
  const [name, transaction] = values
  if (typeof name !== 'string') throw new RtmpProtocolError('command message without a command name')
  return { name, transaction: typeof transaction === 'number' ? transaction : 0, args: values.slice(2), offsets: offsets.slice(2), skip }
}

class GateRefusal extends Error {
  readonly code = 'RTMP_REFUSED'
}

export class RtmpGate {
  readonly #options: RtmpGateOptions
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #pending = new Map<string, number>()
  #pendingTotal = 0
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
      this.#server.once('error', err => reject(new ListenError(`cannot listen for RTMP on ${formatHostPort(this.#options)}: ${err.message}. Choose another input listen address.`, { cause: err })))
      this.#server.listen(this.#options.port, this.#options.host, resolve)
    })
  }

  async close (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
  }

  #handle (client: Socket): void {
    const { log } = this.#options
    const address = client.remoteAddress ?? '?'
    const who = `${address}:${client.remotePort ?? '?'}`
    const perAddress = this.#pending.get(address) ?? 0
    if (perAddress >= (this.#options.maxPendingPerAddress ?? 4) || this.#pendingTotal >= (this.#options.maxPending ?? 32)) {
      this.refused++
      log(`RTMP publisher ${who} refused: too many connections that have not published yet`)
      client.destroy()
      return
    }
    this.#pending.set(address, perAddress + 1)
    this.#pendingTotal++
    let stillPending = true
    const settle = (): void => {
      if (!stillPending) return
      stillPending = false
      this.#pendingTotal--
      const left = (this.#pending.get(address) ?? 1) - 1
      if (left === 0) this.#pending.delete(address)
      else this.#pending.set(address, left)
    }
    this.#sockets.add(client)
    let upstream: Socket | undefined
    const close = (): void => {
      clearTimeout(deadline)
      settle()
      client.destroy()
      upstream?.destroy()
      this.#sockets.delete(client)
      if (upstream !== undefined) this.#sockets.delete(upstream)
    }
    const refuse = (why: string): void => {
      if (client.destroyed) return
      this.refused++
      log(`RTMP publisher ${who} refused: ${why}`)
      close()
    }
    const within = this.#options.publishWithinMs ?? 10_000
    const deadline = setTimeout(() => refuse(`no accepted publish within ${within / 1000} s`), within)
    client.setTimeout(IDLE_MS, () => {
      log(`RTMP publisher ${who} silent for ${IDLE_MS / 1000} s; closed`)
      close()
    })
    client.on('close', close)
    client.on('error', () => {})

    let handshake = Buffer.alloc(0)
    let handshaken = false
    /** Everything after C2 until ffmpeg takes over: replayed to ffmpeg. */
    let session = Buffer.alloc(0)
    const reader = new ChunkReader(MAX_COMMAND)
    let joining = false
    /** Once the session has gone to ffmpeg, the publisher's bytes follow it directly. */
    let replayed = false
    client.on('data', (chunk: Buffer) => {
      try {
        if (joining) {
          if (replayed) upstream?.write(chunk)
          else session = Buffer.concat([session, chunk])
          if (session.length > MAX_BEFORE_PUBLISH * 4) throw new GateRefusal('sent too much while ffmpeg was being reached')
          return
        }
        if (!handshaken) {
          handshake = Buffer.concat([handshake, chunk])
          if (handshake[0] !== RTMP_VERSION) throw new GateRefusal(`not RTMP (first byte ${handshake[0]}, expected version ${RTMP_VERSION})`)
          if (handshake.length >= 1 + HANDSHAKE_SIZE && !client.writableEnded && handshake.length - chunk.length < 1 + HANDSHAKE_SIZE) {
            client.write(serverHandshake(handshake.subarray(1, 1 + HANDSHAKE_SIZE)))
          }
          if (handshake.length < 1 + 2 * HANDSHAKE_SIZE) return
          handshaken = true
          chunk = handshake.subarray(1 + 2 * HANDSHAKE_SIZE)
          handshake = Buffer.alloc(0)
        }
        const start = session.length
        session = Buffer.concat([session, chunk])
        if (session.length > MAX_BEFORE_PUBLISH) throw new GateRefusal(`no publish in the first ${MAX_BEFORE_PUBLISH} bytes`)
        for (const message of reader.push(session.subarray(start))) {
          if (this.#answer(message, session, client)) {
            joining = true
            this.#join(client, () => session, () => { session = Buffer.alloc(0); replayed = true }, refuse, () => {
              clearTimeout(deadline)
              settle()
              this.accepted++
              log(`RTMP publisher ${who} accepted`)
            }, socket => {
              upstream = socket
              this.#sockets.add(socket)
            })
            return
          }
        }
      } catch (err) {
        if (err instanceof GateRefusal || err instanceof RtmpProtocolError) refuse(err.message)
        else throw err
      }
    })
  }

  /** Answers one message of the publisher's; true once a `publish` with the right key has arrived. */
  #answer (message: RtmpMessage, session: Buffer, client: Socket): boolean {
    if (message.type === MessageType.audio || message.type === MessageType.video || message.type === MessageType.dataAmf0) {
      throw new GateRefusal('media before publish')
    }
    const cmd = readCommand(message)
    if (cmd === undefined) return false
    if (cmd.name === 'connect') {
      client.write(Buffer.concat([
        control(MessageType.windowAckSize, uint32(WINDOW_ACK_SIZE)),
        control(MessageType.setPeerBandwidth, Buffer.concat([uint32(WINDOW_ACK_SIZE), Buffer.from([2])])),
        control(MessageType.userControl, Buffer.from([0, 0, 0, 0, 0, 0])),
        command(['_result', cmd.transaction, { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
          { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 }])
      ]))
      return false
    }
    if (COMMANDS_WITH_NAME.has(cmd.name)) {
      const name = cmd.args[1]
      if (typeof name !== 'string') throw new GateRefusal(`${cmd.name} without a stream name`)
      if (!sameKey(name, this.#options.key)) throw new GateRefusal(`wrong stream key in ${cmd.name}`)
      // The AMF0 string's 2-byte length comes first; the name keeps its length, so nothing else moves.
      const nameAt = cmd.skip + (cmd.offsets[1] ?? 0) + 3
      overwritePayload(session, message, nameAt, Buffer.from(placeholderName('x'.repeat(Buffer.byteLength(name)))))
      if (cmd.name === 'publish') return true
      client.write(command(['_result', cmd.transaction, null]))
      return false
    }
    if (cmd.name === 'createStream') client.write(command(['_result', cmd.transaction, null, STREAM_ID]))
    return false
  }

  /**
   * Connects to ffmpeg, replays the session and hands over once ffmpeg has started the publish.
   * `session()` is what the publisher sent so far; `replayed` says it has been written.
   */
  #join (client: Socket, session: () => Buffer, replayed: () => void, refuse: (why: string) => void,
    accepted: () => void, attach: (socket: Socket) => void): void {
    const upstream = tcpConnect(this.internalPort, '127.0.0.1')
    attach(upstream)
    upstream.on('error', err => refuse(`ffmpeg is not listening yet (${err.message}); the publisher should retry`))
    upstream.on('close', () => { if (!client.destroyed) client.destroy() })
    const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(HANDSHAKE_SIZE - 8)])
    upstream.write(Buffer.concat([Buffer.from([RTMP_VERSION]), c1]))
    let answer = Buffer.alloc(0)
    let started = false
    const reader = new ChunkReader(MAX_FFMPEG_MESSAGE)
    upstream.on('data', (chunk: Buffer) => {
      // After the publish has started, ffmpeg's messages go nowhere: its chunk stream to the publisher
      // would not follow on from the gate's, and a publisher needs nothing more from the server.
      if (started) return
      try {
        if (answer.length < 1 + 2 * HANDSHAKE_SIZE) {
          answer = Buffer.concat([answer, chunk])
          if (answer.length < 1 + 2 * HANDSHAKE_SIZE) return
          upstream.write(answer.subarray(1, 1 + HANDSHAKE_SIZE))
          upstream.write(session())
          replayed()
          chunk = answer.subarray(1 + 2 * HANDSHAKE_SIZE)
        }
        for (const message of reader.push(chunk)) {
          const cmd = readCommand(message)
          if (cmd?.name !== 'onStatus') continue
          const info = cmd.args[1]
          const code = typeof info === 'object' && info !== null && !Array.isArray(info) ? info.code : undefined
          if (code !== 'NetStream.Publish.Start') return refuse(`ffmpeg did not start the publish (${String(code)})`)
          started = true
          client.write(encodeMessage(5, MessageType.amf0Command, STREAM_ID, encodeAmf0(['onStatus', 0, null,
            { level: 'status', code: 'NetStream.Publish.Start', description: 'Started publishing stream.', details: 'stream' }])))
          accepted()
          return
        }
      } catch (err) {
        if (err instanceof RtmpProtocolError) refuse(`ffmpeg answered with broken RTMP: ${err.message}`)
        else throw err
      }
    })
  }
}
