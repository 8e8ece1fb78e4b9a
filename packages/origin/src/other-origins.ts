/**
 * A hot standby pair: each origin numbers no segment below what the other has announced, heard over
 * gossipsub and, from each peer that joins (a relay holds the other origin's recent window), asked.
 * Relays that switch between the two then see the sequence numbers keep rising. The end of the other's
 * newest segment is noted too: an ffmpeg run started after it stamps its timestamps past it.
 */
import { errorMessage, verifyRoomMessage } from '@hivecast/shared'
import { WINDOW_PROTOCOL, requestWindow } from '@hivecast/shared/node'
import type { P2PNode } from '@hivecast/shared/node'
import { MAX_END_AHEAD_MS } from './media-timeline.ts'
import type { SequenceState } from './sequence-state.ts'

export interface OtherOriginsOptions {
  room: string
  topic: string
  /** The other origins' keys. */
  roomKeys: readonly string[]
  /** This origin's renditions: another's announcement of a rendition not among them is ignored. */
  renditions: readonly string[]
  state: SequenceState
  log: (line: string) => void
}

/** Raises `state` to above each verified segment announcement of another origin of the room. */
export async function followOtherOrigin (data: Uint8Array, options: OtherOriginsOptions): Promise<void> {
  const result = await verifyRoomMessage(data, [...options.roomKeys])
  if (!result.ok || result.value.announcement.kind !== 'segment' || result.value.announcement.room !== options.room) return
  const { rendition, seq, pdt, duration } = result.value.announcement
  if (!options.renditions.includes(rendition.name)) return
  // Our next ffmpeg run's timestamps start past theirs, unless their clock is far ahead of ours.
  const end = pdt + duration * 1000
  if (end <= Date.now() + MAX_END_AHEAD_MS) options.state.noteEnd(end)
  await options.state.atLeast(rendition.name, seq + 1)
}

/** Listens on the room topic and asks each peer that serves windows; nothing when there are no other origins. */
export function followOtherOrigins (p2p: P2PNode, options: OtherOriginsOptions): void {
  if (options.roomKeys.length === 0) return
  const failed = (err: unknown): void => { options.log(`following another origin's sequence numbers failed: ${errorMessage(err)}`) }
  p2p.libp2p.services.pubsub.addEventListener('message', event => {
    if (event.detail.topic === options.topic) followOtherOrigin(event.detail.data, options).catch(failed)
  })
  p2p.libp2p.addEventListener('peer:identify', event => {
    if (!event.detail.protocols.includes(WINDOW_PROTOCOL)) return
    void (async () => {
      for (const data of await requestWindow(p2p, event.detail.peerId, options.room)) await followOtherOrigin(data, options)
    })().catch(failed)
  })
  options.log(`other origins of room ${options.room}: ${options.roomKeys.join(', ')}; sequence numbers and timestamps follow theirs`)
}
