/**
 * Checks of single relay options, shared by the command line, the config file (which prefixes the
 * field's path) and `startRelay`. Each throws an Error that says what to write instead.
 */
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import { peerIdFromString } from '@libp2p/peer-id'
import { addressPeerId } from './peer-link.ts'

/** A room to follow, with further keys allowed to sign its announcements (besides the origins'). */
export interface RoomOption {
  slug: string
  keys?: string[]
}

/** PEM files for the relay's own HTTPS listener. */
export interface TlsFiles {
  cert: string
  key: string
}

/** `host:port` or `[v6]:port`; an empty host means 127.0.0.1. */
export function parseHostPort (value: string): { host: string, port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value)
  const port = Number(match?.[3])
  if (match === null || port > 65535) throw new Error(`"${value}" is not host:port, e.g. 127.0.0.1:8081 or [::1]:8081`)
  return { host: match[1] ?? (match[2] === '' ? '127.0.0.1' : match[2]!), port }
}

/** An origin or relay address: a multiaddr that ends in `/p2p/<peer id>`. */
export function assertPeerAddress (role: 'origin' | 'peer', address: string): string {
  const who = role === 'origin' ? 'origin' : 'relay'
  let id: string | undefined
  try {
    id = addressPeerId(address)
  } catch (err) {
    throw new Error(`${role} "${address}" is not a multiaddr (${(err as Error).message}); copy the line the ${who} prints, e.g. /ip4/127.0.0.1/tcp/9090/p2p/12D3KooW...`)
  }
  if (id === undefined) throw new Error(`${role} "${address}" has no /p2p/<peer id> part; ${role === 'origin' ? 'it names the room key, so ' : ''}copy the full address the ${who} prints`)
  return id
}

export function assertRoomKey (key: string): string {
  let valid = false
  try {
    valid = peerIdFromString(key).publicKey !== undefined
  } catch {
    valid = false
  }
  if (!valid) throw new Error(`room key "${key}" is not an Ed25519 peer id (they look like 12D3KooW...)`)
  return key
}

export function assertPublicUrl (url: string): string {
  if (!/^https?:\/\/[^\s/]+\/?\S*$/.test(url)) throw new Error(`public URL "${url}" is not an http(s) URL, e.g. https://relay.example.org/`)
  return url
}

/** Reads the certificate (chain) and key and checks they make a usable pair before anything listens. */
export async function loadTls (files: TlsFiles): Promise<{ cert: Buffer, key: Buffer }> {
  const read = async (what: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path)
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; give a readable PEM file (e.g. certbot's fullchain.pem and privkey.pem)`)
    }
  }
  const cert = await read('certificate', files.cert)
  const key = await read('key', files.key)
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    throw new Error(`the TLS certificate ${files.cert} and key ${files.key} are not a usable PEM pair (${(err as Error).message}); give the certificate chain (fullchain.pem) and its private key (privkey.pem)`)
  }
  return { cert, key }
}
