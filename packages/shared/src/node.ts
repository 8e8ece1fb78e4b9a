/**
 * @packageDocumentation
 * The Node-only half of `@hivecast/shared`: the Helia + libp2p node origins and relays run, and the
 * key each keeps in its data directory.
 *
 * @example
 * ```ts
 * import { createP2PNode, loadOrCreateIdentity } from '@hivecast/shared/node'
 *
 * const identity = await loadOrCreateIdentity('./data')
 * const node = await createP2PNode({ identity, dataDir: './data', listen: ['/ip4/127.0.0.1/tcp/9090'] })
 * ```
 */
export * from './identity.ts'
export * from './p2p-node.ts'
export * from './window-exchange.ts'
export * from './segment-push.ts'
export * from './viewer-directory.ts'
export * from './package-version.ts'
export * from './ready-file.ts'
export * from './p2p-traffic.ts'
