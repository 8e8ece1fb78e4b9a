/**
 * The nodes of the push simulation on a LinkScheduler: each relay's `PushNetwork` (the seam the real
 * `SegmentPushes` and block fetcher run on) and the origin's `OriginPushNetwork`. The segment push
 * goes offer -> answer -> block, as on a libp2p stream. Bitswap is modelled as helia's behaves: a want
 * goes to the given providers (or to every connected node); each one that holds the block at that
 * moment sends it, one that does not answers "don't have" and never sends it later. Every block
 * received, pushed or wanted, is counted per node, and verified against its CID before it is stored.
 */
import { verifyRawBlock } from '@hivecast/shared'
import { multiaddr } from '@multiformats/multiaddr'
import { LinkDown } from './link-scheduler.ts'
import type { LinkScheduler } from './link-scheduler.ts'
import type { PushNetwork } from '../../../packages/relay/src/push-network.ts'
import type { OriginPushNetwork } from '../../../packages/origin/src/segment-pusher.ts'
import type { PushDecision, PushOutcome, PushTransport } from '@hivecast/shared/node'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

/** Bytes an offer, an answer or a want counts on a link. */
const CONTROL_BYTES = 100

export interface NodeCounts {
  /** Block bytes that arrived at this node, every copy. */
  receivedBytes: number
  /** Block bytes this node sent. */
  sentBytes: number
  /** Bitswap wants this node sent (fetches the push did not serve), and to how many peers in all. */
  wants: number
  wantedPeers: number
}

/** When and how a node came to hold a block. */
export interface Holding {
  at: number
  /** Links the block crossed from the origin: 1 for a block the origin sent. */
  hops: number
}

export class SimulatedNetwork {
  readonly links: LinkScheduler
  readonly origin: string
  readonly #handlers = new Map<string, { decide: PushDecision, leaf: () => boolean }>()
  readonly #blocks = new Map<string, Map<string, Uint8Array>>()
  readonly holdings = new Map<string, Map<string, Holding>>()
  readonly counts = new Map<string, NodeCounts>()
  /** Hops of a pushed block on its way into the receiver's store, by `node cid`. */
  readonly #arriving = new Map<string, number>()

  constructor (links: LinkScheduler, origin: string) {
    this.links = links
    this.origin = origin
  }

  /** The origin publishes a block: it holds it from now on. */
  publish (cid: CID, bytes: Uint8Array): void {
    this.#store(this.origin, cid, bytes, 0)
  }

  holds (node: string, cid: CID): boolean {
    return this.#blocks.get(node)?.has(cid.toString()) === true
  }

  count (node: string): NodeCounts {
    let counts = this.counts.get(node)
    if (counts === undefined) {
      counts = { receivedBytes: 0, sentBytes: 0, wants: 0, wantedPeers: 0 }
      this.counts.set(node, counts)
    }
    return counts
  }

  #store (node: string, cid: CID, bytes: Uint8Array, hops: number): void {
    const key = cid.toString()
    let blocks = this.#blocks.get(node)
    if (blocks === undefined) {
      blocks = new Map()
      this.#blocks.set(node, blocks)
    }
    if (blocks.has(key)) return
    blocks.set(key, bytes)
    let held = this.holdings.get(key)
    if (held === undefined) {
      held = new Map()
      this.holdings.set(key, held)
    }
    held.set(node, { at: Date.now(), hops })
  }

  #hops (node: string, cid: CID): number {
    return this.holdings.get(cid.toString())?.get(node)?.hops ?? 0
  }

  /** Moves a block's bytes: counted on both ends once they arrived. */
  async #carry (from: string, to: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.links.send(from, to, bytes.length, signal)
    this.count(from).sentBytes += bytes.length
    this.count(to).receivedBytes += bytes.length
  }

  transport (self: string): PushTransport {
    return {
      push: async (peer, cid, bytes, { signal, beforeSend }) => {
        await this.links.send(self, peer, CONTROL_BYTES, signal)
        const handler = this.#handlers.get(peer)
        if (handler === undefined || !this.links.alive(peer)) throw new LinkDown(self, peer)
        const receiver = await handler.decide({ cid, size: bytes.length }, self)
        const outcome: PushOutcome = receiver === undefined ? 'declined' : handler.leaf() ? 'taken-by-leaf' : 'taken'
        await this.links.send(peer, self, CONTROL_BYTES, signal)
        if (receiver === undefined) return outcome
        try {
          await beforeSend?.()
          const hops = this.#hops(self, cid) + 1
          await this.#carry(self, peer, bytes, signal)
          const arriving = `${peer} ${cid.toString()}`
          this.#arriving.set(arriving, hops)
          try {
            await receiver.take(bytes)
          } finally {
            this.#arriving.delete(arriving)
          }
          return outcome
        } catch (err) {
          receiver.abandon()
          throw err
        }
      },
      serve: async (decide, leaf) => { this.#handlers.set(self, { decide, leaf }) }
    }
  }

  /** The seam a relay's real SegmentPushes and block fetcher run on. */
  relay (self: string, peers: () => readonly string[]): PushNetwork {
    return {
      self,
      transport: this.transport(self),
      blocks: {
        has: cid => this.holds(self, cid),
        put: (cid, bytes) => { this.#store(self, cid, bytes, this.#arriving.get(`${self} ${cid.toString()}`) ?? 0) }
      },
      connected: peer => this.links.connected(self, peer),
      getBlock: async (cid, { signal, providers }) => await this.#want(self, cid, signal, providers === undefined ? [this.origin, ...peers()] : providers.map(peerOf), providers !== undefined)
    }
  }

  originNetwork (relays: () => string[]): OriginPushNetwork {
    return { transport: this.transport(this.origin), relays }
  }

  /** Bitswap as helia's: the first verified copy is stored and returned; later copies still arrive. */
  async #want (self: string, cid: CID, signal: AbortSignal, asked: readonly string[], session: boolean): Promise<Uint8Array> {
    signal.throwIfAborted()
    return await new Promise<Uint8Array>((resolve, reject) => {
      let done = false
      const onAbort = (): void => {
        done = true
        reject(signal.reason instanceof Error ? signal.reason : new Error('want aborted'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      const peers = asked.filter(p => p !== self && this.links.connected(self, p))
      this.count(self).wants++
      this.count(self).wantedPeers += peers.length
      // A session (a want to given providers) fails once every provider answered "don't have"; a
      // broadcast want stays on the want list until aborted.
      let pending = peers.length
      if (pending === 0 && session) {
        reject(new Error(`no provider for ${cid.toString()} is connected`))
        return
      }
      const dontHave = (): void => {
        if (--pending > 0 || !session || done) return
        done = true
        signal.removeEventListener('abort', onAbort)
        reject(new Error(`no provider has ${cid.toString()}`))
      }
      for (const peer of peers) {
        const ask = async (): Promise<void> => {
          await this.links.send(self, peer, CONTROL_BYTES)
          const bytes = this.#blocks.get(peer)?.get(cid.toString())
          if (bytes === undefined) {
            await this.links.send(peer, self, CONTROL_BYTES)
            dontHave()
            return
          }
          const hops = this.#hops(peer, cid) + 1
          await this.#carry(peer, self, bytes)
          if (done || !(await verifyRawBlock(cid, bytes))) return
          done = true
          this.#store(self, cid, bytes, hops)
          signal.removeEventListener('abort', onAbort)
          resolve(bytes)
        }
        ask().catch(dontHave)
      }
    })
  }
}

const addresses = new Map<string, Multiaddr>()

/** A simulated node's address, as the fetcher's providers carry it (parsed once: parsing is slow). */
export function simAddress (peer: string): Multiaddr {
  let address = addresses.get(peer)
  if (address === undefined) {
    address = multiaddr(`/ip4/198.18.0.1/tcp/4001/p2p/${peer}`)
    addresses.set(peer, address)
  }
  return address
}

function peerOf (address: Multiaddr): string {
  const id = address.getComponents().find(c => c.name === 'p2p')?.value
  if (id === undefined) throw new Error(`provider ${address.toString()} has no /p2p/ part`)
  return id
}
