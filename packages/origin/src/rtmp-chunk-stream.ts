/**
 * Just enough RTMP to judge a publisher before ffmpeg sees it: the chunk stream (all four chunk
 * header formats, 1/2/3-byte chunk stream ids, extended timestamps, Set Chunk Size) reassembled into
 * messages, and AMF0 values for the commands. Each message remembers where its payload bytes lay in
 * the raw stream, so a value inside a message split over many chunks can be overwritten in place.
 */

export class RtmpProtocolError extends Error {
  readonly code = 'RTMP_PROTOCOL'
}

/** The RTMP message types the gate reads or writes. */
export const MessageType = {
  setChunkSize: 1,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  userControl: 4,
  audio: 8,
  video: 9,
  amf3Command: 17,
  dataAmf0: 18,
  amf0Command: 20
} as const

export interface RtmpMessage {
  chunkStreamId: number
  type: number
  streamId: number
  payload: Buffer
  /** Where the payload lay in the raw stream, piece by piece: offsets count from the reader's first byte. */
  pieces: Array<{ at: number, length: number }>
}

interface ChunkStreamState {
  timestamp: number
  length: number
  type: number
  streamId: number
  extended: boolean
  parts: Buffer[]
  received: number
  pieces: Array<{ at: number, length: number }>
}

const DEFAULT_CHUNK_SIZE = 128

/** Reassembles messages from one direction of an RTMP connection, after the handshake. */
export class ChunkReader {
  readonly #maxMessage: number
  readonly #streams = new Map<number, ChunkStreamState>()
  #chunkSize = DEFAULT_CHUNK_SIZE
  #buffer: Buffer = Buffer.alloc(0)
  /** Raw offset of #buffer[0]. */
  #consumed = 0

  /** `maxMessage`: longer messages are a protocol error (a publisher's commands are small). */
  constructor (maxMessage: number) {
    this.#maxMessage = maxMessage
  }

  /** Feeds raw bytes; returns the messages they complete. Throws RtmpProtocolError on nonsense. */
  push (data: Buffer): RtmpMessage[] {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data])
    const messages: RtmpMessage[] = []
    for (;;) {
      const message = this.#next()
      if (message === false) break
      if (message !== undefined) messages.push(message)
    }
    return messages
  }

  /** One chunk: false when incomplete, undefined when it completes no message. */
  #next (): RtmpMessage | undefined | false {
    const b = this.#buffer
    if (b.length < 1) return false
    const fmt = b[0]! >> 6
    let csid = b[0]! & 0x3f
    let at = 1
    if (csid === 0) {
      if (b.length < 2) return false
      csid = 64 + b[1]!
      at = 2
    } else if (csid === 1) {
      if (b.length < 3) return false
      csid = 64 + b[1]! + b[2]! * 256
      at = 3
    }
    const headerLength = [11, 7, 3, 0][fmt]!
    if (b.length < at + headerLength) return false
    const previous = this.#streams.get(csid)
    if (fmt !== 0 && previous === undefined) throw new RtmpProtocolError(`chunk of format ${fmt} on chunk stream ${csid} before any format-0 chunk`)
    const state: ChunkStreamState = previous ?? { timestamp: 0, length: 0, type: 0, streamId: 0, extended: false, parts: [], received: 0, pieces: [] }
    let timestampField = 0
    let length = state.length
    let type = state.type
    let streamId = state.streamId
    if (fmt <= 2) timestampField = b.readUIntBE(at, 3)
    if (fmt <= 1) {
      length = b.readUIntBE(at + 3, 3)
      type = b[at + 6]!
    }
    if (fmt === 0) streamId = b.readUInt32LE(at + 7)
    at += headerLength
    const extended = fmt <= 2 ? timestampField === 0xffffff : state.extended
    if (extended) {
      if (b.length < at + 4) return false
      timestampField = b.readUInt32BE(at)
      at += 4
    }
    if (fmt !== 3 && state.received > 0) throw new RtmpProtocolError(`new message on chunk stream ${csid} before the last one was complete`)
    if (length > this.#maxMessage) throw new RtmpProtocolError(`message of ${length} bytes (type ${type}) is larger than the ${this.#maxMessage} allowed here`)
    const take = Math.min(this.#chunkSize, length - state.received)
    if (b.length < at + take) return false
    // The whole chunk is here: commit it.
    if (fmt === 0) state.timestamp = timestampField
    else if (fmt !== 3 || state.received === 0) state.timestamp += timestampField
    Object.assign(state, { length, type, streamId, extended })
    state.parts.push(b.subarray(at, at + take))
    state.pieces.push({ at: this.#consumed + at, length: take })
    state.received += take
    this.#streams.set(csid, state)
    this.#buffer = b.subarray(at + take)
    this.#consumed += at + take
    if (state.received < length) return undefined
    const message: RtmpMessage = { chunkStreamId: csid, type, streamId, payload: Buffer.concat(state.parts), pieces: state.pieces }
    state.parts = []
    state.pieces = []
    state.received = 0
    if (type === MessageType.setChunkSize) {
      if (message.payload.length < 4) throw new RtmpProtocolError('Set Chunk Size message shorter than 4 bytes')
      const size = message.payload.readUInt32BE(0) & 0x7fffffff
      if (size < 1) throw new RtmpProtocolError('Set Chunk Size of 0')
      this.#chunkSize = size
    }
    return message
  }
}

/** Overwrites `bytes` at payload offset `from` of `message` in `raw` (which starts at raw offset 0). */
export function overwritePayload (raw: Buffer, message: RtmpMessage, from: number, bytes: Buffer): void {
  let payloadAt = 0
  for (const piece of message.pieces) {
    for (let i = 0; i < piece.length; i++) {
      const k = payloadAt + i - from
      if (k >= 0 && k < bytes.length) raw[piece.at + i] = bytes[k]!
    }
    payloadAt += piece.length
  }
}

/** Encodes one message as format-0 chunk then format-3 continuations of `chunkSize`. */
export function encodeMessage (chunkStreamId: number, type: number, streamId: number, payload: Buffer, chunkSize = DEFAULT_CHUNK_SIZE): Buffer {
  const header = Buffer.alloc(12)
  header[0] = chunkStreamId
  header.writeUIntBE(0, 1, 3)
  header.writeUIntBE(payload.length, 4, 3)
  header[7] = type
  header.writeUInt32LE(streamId, 8)
  const parts: Buffer[] = [header]
  for (let at = 0; at < payload.length; at += chunkSize) {
    if (at > 0) parts.push(Buffer.from([0xc0 | chunkStreamId]))
    parts.push(payload.subarray(at, at + chunkSize))
  }
  return Buffer.concat(parts)
}

export type AmfValue = number | boolean | string | null | undefined | { [key: string]: AmfValue } | AmfValue[]

const MAX_AMF_DEPTH = 8

/** Decodes the AMF0 values of a command message. `offsets[i]`: where value i starts in `payload`. */
export function decodeAmf0 (payload: Buffer): { values: AmfValue[], offsets: number[] } {
  let at = 0
  const need = (n: number): void => {
    if (at + n > payload.length) throw new RtmpProtocolError('AMF0 value runs past the end of its message')
  }
  const shortString = (): string => {
    need(2)
    const length = payload.readUInt16BE(at)
    need(2 + length)
    const text = payload.toString('utf8', at + 2, at + 2 + length)
    at += 2 + length
    return text
  }
  const properties = (depth: number): { [key: string]: AmfValue } => {
    const object: { [key: string]: AmfValue } = {}
    for (;;) {
      const key = shortString()
      need(1)
      if (key === '' && payload[at] === 0x09) {
        at++
        return object
      }
      object[key] = value(depth + 1)
    }
  }
  const value = (depth: number): AmfValue => {
    if (depth > MAX_AMF_DEPTH) throw new RtmpProtocolError('AMF0 values nested too deeply')
    need(1)
    const marker = payload[at++]
    switch (marker) {
      case 0x00: need(8); at += 8; return payload.readDoubleBE(at - 8)
      case 0x01: need(1); return payload[at++] !== 0
      case 0x02: return shortString()
      case 0x03: return properties(depth)
      case 0x05: return null
      case 0x06: return undefined
      case 0x08: need(4); at += 4; return properties(depth)
      case 0x0a: {
        need(4)
        const count = payload.readUInt32BE(at)
        at += 4
        const items: AmfValue[] = []
        for (let i = 0; i < count; i++) items.push(value(depth + 1))
        return items
      }
      case 0x0b: need(10); at += 10; return payload.readDoubleBE(at - 10)
      case 0x0c: {
        need(4)
        const length = payload.readUInt32BE(at)
        need(4 + length)
        at += 4 + length
        return payload.toString('utf8', at - length, at)
      }
      default: throw new RtmpProtocolError(`AMF0 type 0x${(marker ?? 0).toString(16)} is not supported`)
    }
  }
  const values: AmfValue[] = []
  const offsets: number[] = []
  while (at < payload.length) {
    offsets.push(at)
    values.push(value(0))
  }
  return { values, offsets }
}

export function encodeAmf0 (values: AmfValue[]): Buffer {
  const parts: Buffer[] = []
  const shortString = (text: string): void => {
    const bytes = Buffer.from(text)
    const length = Buffer.alloc(2)
    length.writeUInt16BE(bytes.length)
    parts.push(length, bytes)
  }
  const value = (v: AmfValue): void => {
    if (typeof v === 'number') {
      const b = Buffer.alloc(9)
      b.writeDoubleBE(v, 1)
      parts.push(b)
    } else if (typeof v === 'boolean') {
      parts.push(Buffer.from([0x01, v ? 1 : 0]))
    } else if (typeof v === 'string') {
      parts.push(Buffer.from([0x02]))
      shortString(v)
    } else if (v === null) {
      parts.push(Buffer.from([0x05]))
    } else if (v === undefined) {
      parts.push(Buffer.from([0x06]))
    } else if (Array.isArray(v)) {
      throw new RtmpProtocolError('encoding AMF0 arrays is not needed here')
    } else {
      parts.push(Buffer.from([0x03]))
      for (const [key, item] of Object.entries(v)) {
        shortString(key)
        value(item)
      }
      parts.push(Buffer.from([0x00, 0x00, 0x09]))
    }
  }
  for (const v of values) value(v)
  return Buffer.concat(parts)
}
