/**
 * What the origin tests share: a scratch directory whose processes and nodes are stopped after the
 * test (with the origin's log shown when it failed), and a libp2p peer of the origin that collects the
 * room's announcements verified against the origin's key, as a relay receives them.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { roomTopic, verifyRoomMessage } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
import type { TestContext } from 'node:test'
import type { SegmentAnnouncement, ThumbnailAnnouncement } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import type { Origin } from '../src/index.ts'

export interface Scratch {
  dir: string
  /** The origin's log lines (pass `line => scratch.logs.push(line)` as its `log`). */
  logs: string[]
  /** Stopped after the test, in the order added. */
  running: Set<{ stop: () => Promise<unknown> }>
  /** Call at the end of the test: the log is shown only when it did not get there. */
  passed: () => void
}

export async function scratch (t: TestContext, prefix: string, cleanup?: () => void): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), `hivecast-${prefix}-`))
  let ok = false
  const made: Scratch = { dir, logs: [], running: new Set(), passed: () => { ok = true } }
  t.after(async () => {
    cleanup?.()
    for (const thing of made.running) await thing.stop().catch(() => {})
    // libp2p still writes a peer store entry to the datastore about 1 s after stop() resolves.
    await new Promise(resolve => setTimeout(resolve, 1500))
    await rm(dir, { recursive: true, force: true })
    if (!ok) t.diagnostic(`origin log:\n${made.logs.join('\n')}`)
  })
  return made
}

export interface RoomListener {
  peer: P2PNode
  segments: SegmentAnnouncement[]
  thumbnails: ThumbnailAnnouncement[]
}

/** A peer dialled to `origin`, subscribed to `room`; stopped with the scratch. */
export async function listenToRoom (origin: Origin, room: string, space: Scratch): Promise<RoomListener> {
  const peerDir = join(space.dir, 'peer')
  const peer = await createP2PNode({ identity: await loadOrCreateIdentity(peerDir), dataDir: peerDir, listen: ['/ip4/127.0.0.1/tcp/0'], peers: [origin.multiaddrs[0]!] })
  space.running.add(peer)
  const listener: RoomListener = { peer, segments: [], thumbnails: [] }
  peer.libp2p.services.pubsub.addEventListener('message', event => {
    if (event.detail.topic !== roomTopic(room)) return
    void verifyRoomMessage(event.detail.data, [origin.key]).then(result => {
      if (result.ok && result.value.announcement.kind === 'segment') listener.segments.push(result.value.announcement)
      if (result.ok && result.value.announcement.kind === 'thumbnail') listener.thumbnails.push(result.value.announcement)
    })
  })
  peer.libp2p.services.pubsub.subscribe(roomTopic(room))
  return listener
}
