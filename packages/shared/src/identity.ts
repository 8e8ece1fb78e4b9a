/**
 * A node's Ed25519 key, kept in its data directory so the libp2p identity (and, for an origin, the
 * room key) survives restarts. Written atomically and readable only by the owner.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'

export interface Identity {
  privateKey: PrivateKey
  /** The peer id string, which is also the public key relays and players check signatures with. */
  id: string
}

export async function loadOrCreateIdentity (dataDir: string): Promise<Identity> {
  const file = join(dataDir, 'key.pb')
  await mkdir(dataDir, { recursive: true })
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(await readFile(file))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read the key in ${file}: ${(err as Error).message}. Restore it from a backup, or move it away to start with a new identity.`)
    }
    privateKey = await generateKeyPair('Ed25519')
    await writeFile(`${file}.tmp`, privateKeyToProtobuf(privateKey), { mode: 0o600 })
    await rename(`${file}.tmp`, file)
  }
  return { privateKey, id: peerIdFromPrivateKey(privateKey).toString() }
}
