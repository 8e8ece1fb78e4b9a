/**
 * `host:port` as the services' `--http` (and similar) options take it. One parser for origin and
 * relay, so an address that works for one works for the other:
 * - `127.0.0.1:8090`, `relay.example.org:80`, `[::1]:8090` (IPv6 in brackets);
 * - `:8090` means 127.0.0.1: a service listens on loopback unless told otherwise;
 * - port 0 asks the system for a free port;
 * - a host with whitespace or URL punctuation (`/ ? # @`) is refused: it ends up in URLs.
 */
import { InvalidAddressError } from './errors.ts'

export interface HostPort {
  host: string
  port: number
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/?#@]*)):(\d{1,5})$/

/** Parses `host:port`; throws InvalidAddressError saying what to write instead. */
export function parseHostPort (value: string): HostPort {
  const match = HOST_PORT.exec(value)
  const port = Number(match?.[3])
  if (match === null || port > 65535) {
    throw new InvalidAddressError(`"${value}" is not host:port: use e.g. 127.0.0.1:8090 or [::1]:8090 (port 0 picks a free one)`)
  }
  return { host: match[1] ?? (match[2] === '' ? '127.0.0.1' : match[2]!), port }
}

/** `host:port` for a URL: an IPv6 host goes in brackets. */
export function formatHostPort ({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}
