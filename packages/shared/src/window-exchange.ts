/**
 * The window exchange (`/hivecast/window/1.0.0`): a node that joins late or restarts asks a peer for
 * the signed announcements of a room's recent window instead of waiting for new ones. The answer is
 * not trusted: every envelope goes through the same checks as one from gossipsub.
 *
 * Request: one length-prefixed JSON message `{"room":"<slug>"}`. Answer: a length-prefixed JSON
 * count, then that many length-prefixed envelopes (each at most MAX_ENVELOPE_BYTES).
 */
import { lpStream } from '@libp2p/utils'
import { isRoomSlug } from './room.ts'
import { encodeEnvelope, MAX_ENVELOPE_BYTES } from './signed-envelope.ts'
import type { P2PNode } from './p2p-node.ts'
import type { SignedEnvelope } from './signed-envelope.ts'
import type { PeerId } from '@libp2p/interface'

export const WINDOW_PROTOCOL = '/hivecast/window/1.0.0'
/** Most envelopes one answer may carry: a few renditions of a generous window. */
export const MAX_WINDOW_ENVELOPES = 1024
const TIMEOUT_MS = 5_000

/** The envelopes of a room's current window, oldest first; empty for a room this node does not carry. */
export type WindowSource = (room: string) => SignedEnvelope[]

function encodeJson (value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value))
}

/** Answers window requests from `source`. A malformed request closes the stream unanswered. */
export async function serveWindow (node: P2PNode, source: WindowSource): Promise<void> {
  await node.libp2p.handle(WINDOW_PROTOCOL, async (stream) => {
    const signal = AbortSignal.timeout(TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: 256 })
    try {
      const request: unknown = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray()))
      const room = (request as { room?: unknown } | null)?.room
      if (typeof room !== 'string' || !isRoomSlug(room)) throw new Error('bad window request')
      const envelopes = source(room).slice(-MAX_WINDOW_ENVELOPES)
      await lp.writeV([encodeJson(envelopes.length), ...envelopes.map(encodeEnvelope)], { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}

/** Asks `peer` for a room's window; returns the envelopes as received bytes, still to be verified. */
export async function requestWindow (node: P2PNode, peer: PeerId, room: string): Promise<Uint8Array[]> {
  const signal = AbortSignal.timeout(TIMEOUT_MS)
  const stream = await node.libp2p.dialProtocol(peer, WINDOW_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
    await lp.write(encodeJson({ room }), { signal })
    const count: unknown = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray()))
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_WINDOW_ENVELOPES) {
      throw new Error(`peer announced ${String(count)} envelopes`)
    }
    const envelopes: Uint8Array[] = []
    for (let i = 0; i < count; i++) envelopes.push((await lp.read({ signal })).subarray())
    await stream.close({ signal })
    return envelopes
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
