/**
 * The relay's links to its origins and to other relays: the configured ones (`--origin`, `--peer`) are
 * dialed at start and re-dialed every 2 s while unreachable or after their connection drops, so a relay
 * started before its origin (or outliving a restart) catches up by itself instead of exiting. Relays
 * learned from the directory are dialed whenever their record arrives while not connected; bitswap asks
 * every connected peer, so a segment another relay already holds comes from that relay.
 *
 * A directory record's addresses are chosen by whoever signed it, so they are dialed only when they
 * are plain `/ip4|/ip6` + `/tcp` (optionally `/ws`) addresses ending in the signer's own `/p2p/` id,
 * at most MAX_LEARNED_ADDRESSES per record, and in the relay's dial scope: loopback or private
 * addresses only when the relay itself may reach such a scope (a public relay never dials them). Each
 * learned peer is dialed at most once per LEARNED_REDIAL_MS, and all learned dials together at most
 * MAX_LEARNED_DIALS per LEARNED_REDIAL_MS.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { P2PNode } from '@hivecast/shared/node'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@hivecast/shared'

export const REDIAL_INTERVAL_MS = 2_000
const DIAL_TIMEOUT_MS = 5_000
/** While a configured peer stays down, repeat the "still retrying" line this rarely. */
const QUIET_LOG_MS = 30_000
/** Relays learned from the directory that this relay keeps connections to, at most. */
export const MAX_LEARNED_PEERS = 16

/** Addresses of one directory record dialed at most. */
export const MAX_LEARNED_ADDRESSES = 4
/** A learned peer is dialed at most once per this long. */
export const LEARNED_REDIAL_MS = 10_000
/** Learned dials, all peers together, per LEARNED_REDIAL_MS at most. */
const MAX_LEARNED_DIALS = 32

export type LinkRole = 'origin' | 'relay'

/**
 * How far a relay may dial addresses learned from the directory: `public` only public addresses,
 * `private` public and private/link-local ones too, `loopback` everything (a relay on one machine).
 */
export type DialScope = 'public' | 'private' | 'loopback'
type AddressScope = 'public' | 'private' | 'loopback'

const PRIVATE_IP4 = [/^10\./, /^172\.(1[6-9]|2\d|3[01])\./, /^192\.168\./, /^169\.254\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, /^0\./]

/** The scope of an IP address as text. */
export function ipScope (ip: string): AddressScope {
  const lower = ip.toLowerCase()
  if (/^127\./.test(lower) || lower === '::1' || lower === '::') return 'loopback'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)?.[1]
  if (mapped !== undefined) return ipScope(mapped)
  if (PRIVATE_IP4.some(r => r.test(lower)) || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower)) return 'private'
  return 'public'
}

/** The dial scope implied by the relay's own addresses: the widest scope it listens on. */
export function dialScopeOf (addresses: readonly Multiaddr[]): DialScope {
  const scopes = addresses.flatMap(a => a.getComponents().filter(c => c.name === 'ip4' || c.name === 'ip6').map(c => ipScope(c.value ?? '')))
  if (scopes.includes('loopback')) return 'loopback'
  return scopes.includes('private') ? 'private' : 'public'
}

const REACH: Record<DialScope, readonly AddressScope[]> = { public: ['public'], private: ['public', 'private'], loopback: ['public', 'private', 'loopback'] }

/** True when `address` is a form a relay listens on, names `peerId`, and lies within `scope`. */
export function dialable (address: Multiaddr, peerId: string, scope: DialScope): boolean {
  const parts = address.getComponents()
  const names = parts.map(c => c.name).join('/')
  if (!/^ip[46]\/tcp(\/ws)?\/p2p$/.test(names)) return false
  if (parts.at(-1)?.value !== peerId) return false
  return REACH[scope].includes(ipScope(parts[0]!.value ?? ''))
}

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
  /** When each learned peer was last dialed; entries older than LEARNED_REDIAL_MS are dropped. */
  readonly #learnedDialedAt = new Map<string, number>()
  readonly #log: Logger
  readonly #dialScope: DialScope | undefined
  #stopped = false

  /** `dialScope` undefined: what the relay's own listen addresses imply, checked at each dial. */
  constructor (node: P2PNode, configured: { origins: readonly string[], peers: readonly string[], dialScope?: DialScope }, log: Logger) {
    this.#node = node
    this.#log = log
    this.#dialScope = configured.dialScope
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
   * A relay heard of in the directory: dialed when not connected and not dialed in the last
   * LEARNED_REDIAL_MS, only at addresses within the dial scope, up to MAX_LEARNED_PEERS connections.
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
    const now = Date.now()
    for (const [id, at] of this.#learnedDialedAt) if (now - at >= LEARNED_REDIAL_MS) this.#learnedDialedAt.delete(id)
    if (this.#learnedDialedAt.has(peerIdText) || this.#learnedDialedAt.size >= MAX_LEARNED_DIALS) return
    const scope = this.#dialScope ?? dialScopeOf(this.#node.libp2p.getMultiaddrs())
    let targets: Multiaddr[]
    try {
      targets = addresses.slice(0, MAX_LEARNED_ADDRESSES).map(a => multiaddr(a)).filter(a => dialable(a, peerIdText, scope))
    } catch {
      return
    }
    if (targets.length === 0) return
    this.#learnedDialedAt.set(peerIdText, now)
    this.#learnedDialing.add(peerIdText)
    this.#node.libp2p.dial(targets, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).then(() => {
      this.#learned.set(peerIdText, peer)
      this.#log.info(`connected to relay ${peerIdText}, learned from the directory`)
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
      this.#log.warn(`lost the connection to ${link.role} ${link.address.toString()}; re-dialing every ${REDIAL_INTERVAL_MS / 1000} s`)
      link.reportedAt = Date.now()
      this.#dial(link)
    }
  }

  readonly #onConnect = (event: CustomEvent<PeerId>): void => {
    for (const link of this.#links.filter(l => l.peerId.equals(event.detail))) {
      clearTimeout(link.timer)
      link.timer = undefined
      this.#log.info(`connected to ${link.role} ${link.address.toString()}`)
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
        this.#log.warn(`${link.role} ${link.address.toString()} is not reachable (${err.message}); retrying every ${REDIAL_INTERVAL_MS / 1000} s`)
        link.reportedAt = now
      }
      link.timer = setTimeout(() => { this.#dial(link) }, REDIAL_INTERVAL_MS)
    })
  }
}
