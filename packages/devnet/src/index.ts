/**
 * @packageDocumentation
 * A whole Hivecast on one machine, as real processes on 127.0.0.1: origin (test pattern), relays and
 * the site. Used by `npm start`, the multi-process and browser tests, and the benchmarks.
 *
 * @example
 * ```ts
 * import { startDevnet } from '@hivecast/devnet'
 *
 * const net = await startDevnet({ relays: 2, renditions: '360p', site: true })
 * console.log(net.relays[0].url + '/hls/demo/master.m3u8')
 * await net.stop()
 * ```
 */
export * from './devnet.ts'
export * from './service-process.ts'
export * from './service-ready.ts'
export * from './site-server.ts'
export * from './counting-proxy.ts'
export * from './loopback-server.ts'
export * from './relay-proxy.ts'
export * from './eventually.ts'
export * from './gossip-peer.ts'
export * from './turn-server.ts'
export * from './sample-summary.ts'
export * from './published-tally.ts'
