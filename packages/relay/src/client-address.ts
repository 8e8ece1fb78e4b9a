/**
 * The client address a relay limits by. Behind a reverse proxy every request comes from the proxy, so
 * per-address limits would lump all viewers together; with `--trusted-proxy` the relay takes the
 * address the proxy saw from `X-Forwarded-For`, but only when the connection comes from a configured
 * proxy (anyone else could write any address there), and only the rightmost hop that is not itself a
 * trusted proxy (hops further left are whatever the client chose to send).
 */
import { BlockList, isIP } from 'node:net'
import { InvalidOptionError } from '@hivecast/shared'

/** An IPv4 address as Node shows it on a dual-stack socket (`::ffff:127.0.0.1`) is the IPv4 address. */
function plain (address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

/** Checks one `--trusted-proxy` value: `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
export function assertTrustedProxy (value: string): string {
  const [ip = '', bits, ...more] = value.split('/')
  const family = isIP(ip)
  const prefix = Number(bits)
  const max = family === 4 ? 32 : 128
  if (family === 0 || more.length > 0 || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || prefix > max))) {
    throw new InvalidOptionError(`trusted proxy "${value}" is not an IP address or CIDR range, e.g. 127.0.0.1 or 10.0.0.0/8`)
  }
  return value
}

export class TrustedProxies {
  readonly #list = new BlockList()
  readonly #any: boolean

  /** `proxies`: IP addresses and CIDR ranges (checked; a bad one throws InvalidOptionError). */
  constructor (proxies: readonly string[] = []) {
    for (const value of proxies) {
      assertTrustedProxy(value)
      const [ip, bits] = value.split('/') as [string, string | undefined]
      const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6'
      if (bits === undefined) this.#list.addAddress(ip, type)
      else this.#list.addSubnet(ip, Number(bits), type)
    }
    this.#any = proxies.length > 0
  }

  /** True when `address` is a configured proxy. */
  trusts (address: string): boolean {
    if (!this.#any) return false
    const ip = plain(address)
    const family = isIP(ip)
    return family !== 0 && this.#list.check(ip, family === 4 ? 'ipv4' : 'ipv6')
  }

  /** The client behind `peer` (the socket's address): the rightmost untrusted `X-Forwarded-For` hop. */
  clientAddress (peer: string, forwardedFor: string | string[] | undefined): string {
    let nearest = plain(peer)
    if (!this.trusts(nearest) || forwardedFor === undefined) return nearest
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',')
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i]!.trim())
      // Garbage in the header: the last trusted hop is the best address known.
      if (isIP(hop) === 0) return nearest
      nearest = hop
      if (!this.trusts(hop)) return hop
    }
    return nearest
  }
}
