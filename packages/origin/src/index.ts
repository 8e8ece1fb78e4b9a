/**
 * @packageDocumentation
 * The Hivecast origin for one room: runs one ffmpeg on the room's input (RTMP push behind a
 * stream-key gate, SRT listener or caller, MPEG-TS over UDP/TCP, HTTP pull, a looped file, or the
 * built-in test pattern with a burned-in wall clock), cuts 1 s H.264/AAC MPEG-TS segments for a
 * rendition ladder (x264 renditions at the input's frame rate, and optionally the input's H.264 passed
 * through untouched), stores each finished segment as a raw IPFS block and announces it, signed with
 * the room key, on the room's gossipsub topic, with a room thumbnail every 10 s. While no input
 * arrives it can publish a slate; a hot standby origin (listed with `roomKeys`) numbers its segments
 * after the primary's. With a conference schedule (`schedule`), talks whose speakers opted out, or
 * that are live only, are kept out of every recording. The origin's libp2p identity, kept in its data
 * directory, is the room key. Rooms can be described in a YAML file (`loadRoomConfig`); `/metrics`
 * serves Prometheus metrics.
 *
 * @example
 * ```ts
 * import { startOrigin } from '@hivecast/origin'
 *
 * const origin = await startOrigin({
 *   room: 'janson',
 *   dataDir: './.data/origin-janson',
 *   renditions: ['720p', '360p'],
 *   input: { kind: 'rtmp', listen: '0.0.0.0:1935', key: 'change-me-to-a-secret' }
 * })
 * console.log(origin.key, origin.multiaddrs[0], origin.url) // relays list origin.key for the room
 * await origin.stop()
 * ```
 */
export { startOrigin } from './origin.ts'
export type { InputStatus, Origin, OriginStatus } from './origin.ts'
export { assertSegmentDuration, assertThumbnailInterval, DEFAULT_HTTP, DEFAULT_LISTEN, DEFAULT_THUMBNAIL_INTERVAL, ORIGIN_FLAGS } from './origin-options.ts'
export type { OriginFlag, OriginOptions } from './origin-options.ts'
export type { EnqueueFlags, PublishedSegment } from './segment-publisher.ts'
export type { RecordingStatus, WithheldTalk } from './session-recorder.ts'
export type { ScheduleStatus } from './recording-consent.ts'
export { DEFAULT_RENDITIONS, RENDITION_PRESETS, renditionInfo, resolveRenditions } from './rendition-ladder.ts'
export type { RenditionPreset } from './rendition-ladder.ts'
export { assertAudioTracks, audioTrackRendition, parseAudioTrack } from './audio-tracks.ts'
export type { AudioTrack } from './audio-tracks.ts'
export { assertCaptionLanguage, captionText, parseCaptionLanguage, renderWebVtt } from './caption-track.ts'
export type { CaptionLanguage, Cue } from './caption-track.ts'
export { assertStreamInput, describeInput, inputListenAddresses, parseInputUrl, InvalidInputFieldError, INPUT_KINDS } from './stream-input.ts'
export type { InputKind, StreamInput } from './stream-input.ts'
export { loadRoomConfig, parseRoomConfig, pickRoom } from './room-config.ts'
export type { RoomConfig } from './room-config.ts'
export { FfmpegNotFoundError, locateFfmpeg, locateFfprobe } from './ffmpeg-binary.ts'
export { ladderArgs } from './ladder-command.ts'
export type { LadderCommandOptions } from './ladder-command.ts'
export type { PreparedInput } from './stream-input.ts'
export type { FfmpegBinary } from './ffmpeg-binary.ts'
