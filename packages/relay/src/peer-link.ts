/**
 * The relay's links to its origins and to other relays: the configured ones (`--origin`, `--peer`) are
 * dialed at start and re-dialed every 2 s while unreachable or after their connection drops, so a relay
 * started before its origin (or outliving a restart) catches up by itself instead of exiting. Relays
 * learned from the directory are dialed whenever their record arrives while not connected; bitswap asks
 * every connected peer, so a segment another relay already holds comes from that relay.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { P2PNode } from '@hivecast/shared/node'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export const REDIAL_INTERVAL_MS = 2_000
const DIAL_TIMEOUT_MS = 5_000
/** While a configured peer stays down, repeat the "still retrying" line this rarely. */
const QUIET_LOG_MS = 30_000
/** Relays learned from the directory that this relay keeps connections to, at most. */
export const MAX_LEARNED_PEERS = 16

export type LinkRole = 'origin' | 'relay'

interface Link {
  role: LinkRole
  address: Multiaddr
  peerId: PeerId
  timer: NodeJS.Timeout | undefined
  dialing: boolean
  /** When the current outage was last reported, or undefined while connected. */
  reportedAt: number | undefined
}

/** The peer id in a multiaddr's `/p2p/` part, or undefined when it has none. Throws on a non-multiaddr. */
export function addressPeerId (address: string): string | undefined {
  return multiaddr(address).getComponents().findLast(c => c.name === 'p2p')?.value
}

export class PeerLink {
  readonly #node: P2PNode
  readonly #links: Link[]
  readonly #learnedDialing = new Set<string>()
  /** Learned relays this relay has connected to (some may have disconnected since). */
  readonly #learned = new Map<string, PeerId>()
  readonly #log: (line: string) => void
  #stopped = false

  constructor (node: P2PNode, configured: { origins: readonly string[], peers: readonly string[] }, log: (line: string) => void) {
    this.#node = node
    this.#log = log
    const link = (role: LinkRole) => (address: string): Link => {
      const id = addressPeerId(address)
      if (id === undefined) throw new Error(`${role} address ${address} has no /p2p/<peer id> part`)
      return { role, address: multiaddr(address), peerId: peerIdFromString(id), timer: undefined, dialing: false, reportedAt: undefined }
    }
    this.#links = [...configured.origins.map(link('origin')), ...configured.peers.map(link('relay'))]
  }

  start (): void {
    this.#node.libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#node.libp2p.addEventListener('peer:connect', this.#onConnect)
    for (const link of this.#links) this.#dial(link)
  }

  stop (): void {
    this.#stopped = true
    this.#node.libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#node.libp2p.removeEventListener('peer:connect', this.#onConnect)
    for (const link of this.#links) clearTimeout(link.timer)
  }

  /** True when at least one configured link of `role` is connected (or none is configured). */
  connected (role: LinkRole): boolean {
    const links = this.#links.filter(l => l.role === role)
    return links.length === 0 || links.some(l => this.#isConnected(l))
  }

  /** Whether any origin or relay link is configured for `role`. */
  has (role: LinkRole): boolean {
    return this.#links.some(l => l.role === role)
  }

  /** The configured addresses of `role` not connected right now. */
  down (role: LinkRole): string[] {
    return this.#links.filter(l => l.role === role && !this.#isConnected(l)).map(l => l.address.toString())
  }

  /** True when `peer` is one of the configured origins. */
  isOrigin (peer: PeerId): boolean {
    return this.#links.some(l => l.role === 'origin' && l.peerId.equals(peer))
  }

  /**
   * A relay heard of in the directory: dialed once now when not connected (its next record, a few
   * seconds later, tries again), up to MAX_LEARNED_PEERS connections to learned relays.
   */
  learn (peerIdText: string, addresses: readonly string[]): void {
    if (this.#stopped || this.#learnedDialing.has(peerIdText) || addresses.length === 0) return
    let peer: PeerId
    try {
      peer = peerIdFromString(peerIdText)
    } catch {
      return
    }
    if (peer.equals(this.#node.libp2p.peerId) || this.#node.libp2p.getConnections(peer).length > 0) return
    // Count only learned relays still connected: viewers' browser connections must not crowd them out.
    for (const [id, known] of this.#learned) if (this.#node.libp2p.getConnections(known).length === 0) this.#learned.delete(id)
    if (this.#learned.size >= MAX_LEARNED_PEERS) return
    let targets: Multiaddr[]
    try {
      targets = addresses.map(a => multiaddr(a)).filter(a => addressPeerId(a.toString()) === peerIdText)
    } catch {
      return
    }
    if (targets.length === 0) return
    this.#learnedDialing.add(peerIdText)
    this.#node.libp2p.dial(targets, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).then(() => {
      this.#learned.set(peerIdText, peer)
      this.#log(`connected to relay ${peerIdText}, learned from the directory`)
    }, () => {
      // Unreachable relays are common (NAT, firewalls); its next record gives it another chance.
    }).finally(() => { this.#learnedDialing.delete(peerIdText) })
  }

  #isConnected (link: Link): boolean {
    return this.#node.libp2p.getConnections(link.peerId).length > 0
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    if (this.#stopped) return
    for (const link of this.#links.filter(l => l.peerId.equals(event.detail))) {
      this.#log(`lost the connection to ${link.role} ${link.address.toString()}; re-dialing every ${REDIAL_INTERVAL_MS / 1000} s`)
      link.reportedAt = Date.now()
      this.#dial(link)
    }
  }

  readonly #onConnect = (event: CustomEvent<PeerId>): void => {
    for (const link of this.#links.filter(l => l.peerId.equals(event.detail))) {
      clearTimeout(link.timer)
      link.timer = undefined
      this.#log(`connected to ${link.role} ${link.address.toString()}`)
      link.reportedAt = undefined
    }
  }

  #dial (link: Link): void {
    if (this.#stopped || link.dialing) return
    clearTimeout(link.timer)
    link.timer = undefined
    link.dialing = true
    this.#node.libp2p.dial(link.address, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).then(() => {
      link.dialing = false
    }, (err: Error) => {
      link.dialing = false
      if (this.#stopped) return
      const now = Date.now()
      if (link.reportedAt === undefined || now - link.reportedAt >= QUIET_LOG_MS) {
        this.#log(`${link.role} ${link.address.toString()} is not reachable (${err.message}); retrying every ${REDIAL_INTERVAL_MS / 1000} s`)
        link.reportedAt = now
      }
      link.timer = setTimeout(() => { this.#dial(link) }, REDIAL_INTERVAL_MS)
    })
  }
}
