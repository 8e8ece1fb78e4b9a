/**
 * Attacks on the player's signed window: a relay replays a genuine window of an old session as live,
 * and a primary and a hot-standby origin (both room keys) sign the same sequence number. The player
 * must refuse the old window as not live, and pick the same announcement for the seq whatever order
 * the two arrive in (the later one, by signed program date time), never "first seen".
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { rawCid, signAnnouncement } from '@hivecast/shared'
import { loadOrCreateIdentity } from '@hivecast/shared/node'
import type { Identity } from '@hivecast/shared/node'
import type { SegmentAnnouncement, SignedEnvelope } from '@hivecast/shared'
import { AnnouncementBook } from '../../packages/player/src/announcement-book.ts'

const RENDITION = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }

const windowOf = (envelopes: SignedEnvelope[]): unknown => ({ room: 'janson', renditions: { '360p': envelopes.map(envelope => ({ envelope, storedAt: 1 })) } })

describe('replayed and conflicting signed windows', () => {
  const dirs: string[] = []
  let primary: Identity
  let standby: Identity
  const sign = async (who: Identity, seq: number, pdt: number, bytes: number): Promise<SignedEnvelope> => {
    const cid = (await rawCid(new Uint8Array([bytes, seq & 0xff]))).toString()
    const announcement: SegmentAnnouncement = { kind: 'segment', room: 'janson', rendition: RENDITION, seq, cid, size: 2, duration: 2, pdt, discontinuity: false, end: false }
    return await signAnnouncement(announcement, who.privateKey, who.id)
  }

  before(async () => {
    const ids = await Promise.all([0, 1].map(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'hivecast-replay-'))
      dirs.push(dir)
      return await loadOrCreateIdentity(dir)
    }))
    primary = ids[0]!
    standby = ids[1]!
  })
  after(async () => { await Promise.all(dirs.map(async dir => { await rm(dir, { recursive: true, force: true }) })) })

  it('refuses a genuine window from a session a day old as not live', async () => {
    const dayAgo = Date.now() - 24 * 3600_000
    const old = await Promise.all([100, 101, 102].map(async (seq, i) => await sign(primary, seq, dayAgo + i * 2000, 1)))
    const book = new AnnouncementBook('janson', [primary.id])
    await book.addWindow(windowOf(old))
    const envelope = old[2]!
    const cid = (JSON.parse(envelope.payload) as { cid: string }).cid
    assert.equal(book.backs('360p', 102, cid), false, 'a day-old signed segment is backed as live')
    assert.equal(book.entry('360p', 100), undefined)
  })

  it('keeps a live window whose origin clock is a minute ahead', async () => {
    const ahead = Date.now() + 60_000
    const live = await Promise.all([5, 6].map(async (seq, i) => await sign(primary, seq, ahead + i * 2000, 2)))
    const book = new AnnouncementBook('janson', [primary.id])
    await book.addWindow(windowOf(live))
    assert.notEqual(book.entry('360p', 6), undefined)
  })

  it('resolves primary and standby signing one seq the same way in either order', async () => {
    const now = Date.now()
    const fromPrimary = await sign(primary, 50, now - 4000, 3)
    const fromStandby = await sign(standby, 50, now - 1000, 4)
    const picks: Array<string | undefined> = []
    for (const order of [[fromPrimary, fromStandby], [fromStandby, fromPrimary]]) {
      const book = new AnnouncementBook('janson', [primary.id, standby.id])
      for (const envelope of order) await book.addWindow(windowOf([envelope]))
      picks.push(book.entry('360p', 50)?.cid)
    }
    assert.equal(picks[0], picks[1], 'the announcement kept for seq 50 depends on which relay answered first')
    const standbyCid = (JSON.parse(fromStandby.payload) as { cid: string }).cid
    assert.equal(picks[0], standbyCid, 'the later signed segment stands')
  })
})
