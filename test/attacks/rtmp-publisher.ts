/**
 * A hand-written RTMP publisher for attack tests, independent of the origin's own RTMP code: the
 * handshake, Set Chunk Size (8 by default, so every command is split by chunk headers), connect,
 * releaseStream, FCPublish, createStream, publish(name), then the audio/video tags of an FLV file.
 */
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'

export interface PublishOptions {
  port: number
  name: string
  /** FLV file contents whose tags are sent once the publish has started. */
  flv: Buffer
  chunkSize?: number
  /** The name given in releaseStream and FCPublish (default: `name`). */
  preparedName?: string
  /** Give up waiting for an answer after this long. */
  timeoutMs?: number
}

export interface PublishResult {
  /** The server said NetStream.Publish.Start and the media went out. */
  published: boolean
  /** The server closed the connection before the end. */
  closedByServer: boolean
}

function amfString (s: string): Buffer {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([0x02, b.length >> 8, b.length & 0xff]), b])
}

function amfNumber (n: number): Buffer {
  const b = Buffer.alloc(9)
  b.writeDoubleBE(n, 1)
  return b
}

function amfObject (props: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([0x03])]
  for (const [k, v] of Object.entries(props)) parts.push(Buffer.from([k.length >> 8, k.length & 0xff]), Buffer.from(k), amfString(v))
  parts.push(Buffer.from([0, 0, 0x09]))
  return Buffer.concat(parts)
}

const NULL = Buffer.from([0x05])

/** One message: a format-0 chunk, then format-3 chunks of `chunkSize`. */
function chunks (csid: number, type: number, streamId: number, timestamp: number, payload: Buffer, chunkSize: number): Buffer {
  const header = Buffer.alloc(12)
  header[0] = csid
  header.writeUIntBE(Math.min(timestamp, 0xffffff), 1, 3)
  header.writeUIntBE(payload.length, 4, 3)
  header[7] = type
  header.writeUInt32LE(streamId, 8)
  const parts: Buffer[] = [header]
  for (let at = 0; at < payload.length; at += chunkSize) {
    if (at > 0) parts.push(Buffer.from([0xc0 | csid]))
    parts.push(payload.subarray(at, at + chunkSize))
  }
  return Buffer.concat(parts)
}

/** FLV tags: [type, timestamp, data]. */
export function flvTags (flv: Buffer): Array<{ type: number, timestamp: number, data: Buffer }> {
  const tags = []
  let at = flv.readUInt32BE(5) + 4
  while (at + 11 <= flv.length) {
    const type = flv[at]!
    const size = flv.readUIntBE(at + 1, 3)
    const timestamp = flv.readUIntBE(at + 4, 3) | (flv[at + 7]! << 24)
    if (at + 11 + size > flv.length) break
    tags.push({ type, timestamp, data: flv.subarray(at + 11, at + 11 + size) })
    at += 11 + size + 4
  }
  return tags
}

export async function publishRtmp (options: PublishOptions): Promise<PublishResult> {
  const { port, name, flv } = options
  const chunkSize = options.chunkSize ?? 8
  const timeoutMs = options.timeoutMs ?? 15_000
  const socket: Socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  let received = Buffer.alloc(0)
  let closed = false
  const waiters: Array<() => void> = []
  socket.on('data', (d: Buffer) => { received = Buffer.concat([received, d]); for (const w of waiters.splice(0)) w() })
  socket.on('close', () => { closed = true; for (const w of waiters.splice(0)) w() })
  const until = async (ready: () => boolean): Promise<boolean> => {
    const end = Date.now() + timeoutMs
    while (!ready()) {
      if (closed || Date.now() > end) return false
      await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, 200) })
    }
    return true
  }
  const done = async (published: boolean): Promise<PublishResult> => {
    const closedByServer = closed
    socket.destroy()
    return { published, closedByServer }
  }
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(8), randomBytes(1528)]))
  if (!await until(() => received.length >= 3073)) return await done(false)
  socket.write(received.subarray(1, 1537))
  received = received.subarray(3073)
  const size = Buffer.alloc(4)
  size.writeUInt32BE(chunkSize)
  const command = (parts: Buffer[], csid = 3, streamId = 0): Buffer => chunks(csid, 20, streamId, 0, Buffer.concat(parts), chunkSize)
  socket.write(Buffer.concat([
    chunks(2, 1, 0, 0, size, 128),
    command([amfString('connect'), amfNumber(1), amfObject({ app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; FMSc/1.0)', tcUrl: `rtmp://127.0.0.1:${port}/live` })]),
    command([amfString('releaseStream'), amfNumber(2), NULL, amfString(options.preparedName ?? name)]),
    command([amfString('FCPublish'), amfNumber(3), NULL, amfString(options.preparedName ?? name)]),
    command([amfString('createStream'), amfNumber(4), NULL]),
    // ffmpeg's listener hands out stream id 1 first; an attacker need not wait to learn it.
    command([amfString('publish'), amfNumber(5), NULL, amfString(name), amfString('live')], 8, 1)
  ]))
  if (!await until(() => received.includes('NetStream.Publish.Start'))) return await done(false)
  for (const tag of flvTags(flv)) {
    if (tag.type !== 8 && tag.type !== 9 && tag.type !== 18) continue
    const ok = socket.write(chunks(tag.type === 8 ? 4 : tag.type === 9 ? 6 : 5, tag.type, 1, tag.timestamp, tag.data, chunkSize))
    if (!ok) await new Promise(resolve => socket.once('drain', resolve))
    if (closed) return await done(false)
  }
  // Let the receiver take it all in before the end of stream.
  await new Promise(resolve => setTimeout(resolve, 2000))
  return await done(!closed)
}
