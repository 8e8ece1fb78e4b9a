/**
 * @packageDocumentation
 * The Hivecast wire protocol, shared by origin, relay and player (browser-safe): the announcement
 * schema, Ed25519 signed envelopes, CID helpers and the playlist model. Node-only pieces (the libp2p
 * node and key storage) are in `@hivecast/shared/node`.
 *
 * @example
 * ```ts
 * import { verifyEnvelope, verifyRawBlock } from '@hivecast/shared'
 *
 * const result = await verifyEnvelope(messageBytes, room.keys)
 * if (result.ok && await verifyRawBlock(result.value.announcement.cid, segmentBytes)) {
 *   // the bytes are what the room's origin announced
 * }
 * ```
 */
export * from './announcement.ts'
export * from './cid.ts'
export * from './config-file.ts'
export * from './directory-record.ts'
export * from './errors.ts'
export * from './host-port.ts'
export * from './logger.ts'
export * from './names.ts'
export * from './part-announcement.ts'
export * from './playlist.ts'
export * from './recording-playlist.ts'
export * from './relay-contract.ts'
export * from './ice-servers.ts'
export * from './room.ts'
export * from './schedule.ts'
export { parseDateTime } from './schedule-time.ts'
export * from './signed-envelope.ts'
export * from './viewer-count.ts'
export * from './viewer-swarm.ts'
export * from './viewer-token.ts'
