/**
 * One room's origin: ffmpeg encodes the input into the rendition ladder, each segment ffmpeg finishes
 * is stored as a raw block on the origin's Helia node and announced, signed with the room key, on the
 * room's gossipsub topic. An HTTP endpoint reports health and recent segments.
 */
import { constants } from 'node:fs'
import { access, mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { assertRoomSlug, isRoomKey, roomTopic, verifyRoomMessage } from '@hivecast/shared'
import { WINDOW_PROTOCOL, createP2PNode, loadOrCreateIdentity, requestWindow, serveWindow } from '@hivecast/shared/node'
import type { RenditionInfo, SignedEnvelope } from '@hivecast/shared'
import type { P2PNode } from '@hivecast/shared/node'
import { describeFfmpeg, locateFfmpeg, locateFfprobe } from './ffmpeg-binary.ts'
import type { FfmpegProgress } from './ffmpeg-progress.ts'
import { FfmpegSupervisor } from './ffmpeg-supervisor.ts'
import { ladderArgs, renditionDir } from './ladder-command.ts'
import { PlaylistWatcher } from './playlist-watcher.ts'
import { DEFAULT_RENDITIONS, passthroughBandwidth, renditionInfo, resolveRenditions } from './rendition-ladder.ts'
import { probeSegment } from './segment-probe.ts'
import { ThumbnailPublisher } from './thumbnail-publisher.ts'
import { SegmentPublisher } from './segment-publisher.ts'
import { Slate } from './slate.ts'
import type { PublishedSegment } from './segment-publisher.ts'
import type { FinishedSegment } from './playlist-watcher.ts'
import { SequenceState } from './sequence-state.ts'
import { SessionRecorder } from './session-recorder.ts'
import type { RecordingStatus } from './session-recorder.ts'
import { parseHostPort, startStatusServer } from './status-server.ts'
import type { Health, StatusServer } from './status-server.ts'
import { OriginMetrics } from './origin-metrics.ts'
import { RtmpGate } from './rtmp-gate.ts'
import { assertStreamInput, describeInput, findFont, isListening, prepareInput } from './stream-input.ts'
import type { StreamInput } from './stream-input.ts'

export interface OriginOptions {
  /** Room slug, e.g. `janson`. */
  room: string
  /** Human name of the room, e.g. `Janson (main hall)`; shown in /status. Default: the slug. */
  title?: string
  /** Key, blocks, sequence state and ffmpeg's working files. */
  dataDir: string
  /** `host:port` of the status endpoint; port 0 picks a free one. Default `127.0.0.1:8090`. */
  http?: string
  /** libp2p listen multiaddrs. Default `/ip4/127.0.0.1/tcp/9090`. */
  listen?: string[]
  /** Rendition preset names. Default `720p,360p`. */
  renditions?: string[]
  /** Seconds per segment (and per GOP). Default 1. */
  segmentDuration?: number
  /** Seconds between room thumbnails (JPEG, announced for room lists); 0 turns them off. Default 10. */
  thumbnailInterval?: number
  /** Seconds between interim recordings of a live session (a final one follows its end). Default 600. */
  recordingInterval?: number
  /**
   * Keys (peer ids) of the room's other origins: a hot standby and its primary list each other. Their
   * segment announcements on the room topic keep this origin's sequence numbers at or above theirs,
   * so relays that switch between them see the numbers keep rising.
   */
  roomKeys?: string[]
  /**
   * A video (looped) or still image published while no input arrives, instead of nothing; the status
   * still says "waiting for signal". Default: none.
   */
  slate?: string
  /** What to encode. Default: the test pattern. */
  input?: StreamInput
  /** Where log lines go. Default: stdout. */
  log?: (line: string) => void
}

export interface InputStatus {
  kind: StreamInput['kind']
  /** Where the input comes from, without secrets. */
  description: string
  /** True while segments arrive; false while ffmpeg waits for a sender or the input stalled. */
  up: boolean
  state: 'receiving' | 'waiting for signal'
  /** True while the slate is published in the input's place. */
  slate: boolean
  /** RTMP publishers turned away (wrong stream key); 0 for other kinds. */
  refused: number
  /** Frames per second ffmpeg encodes, from its -progress output, while it reports one. */
  fps: number | undefined
}

export interface OriginStatus {
  room: string
  title: string
  key: string
  multiaddrs: string[]
  ffmpeg: { path: string, running: boolean, restarts: number, pid: number | undefined }
  renditions: RenditionInfo[]
  input: InputStatus
  segmentsPublished: number
  /** The newest room thumbnail announced, or null before the first (or with thumbnails off). */
  thumbnail: { cid: string, at: number, width: number, height: number } | null
  /** Connected libp2p peers. */
  peers: number
  /** Bad input skipped and counted (each one is logged): unusable playlist entries, segments not stored, failed publishes. */
  dropped: { playlistEntries: number, segments: number, publishErrors: number, thumbnails: number }
  /** The last segments published, oldest first. */
  recent: PublishedSegment[]
  /** The session being recorded and the recordings announced by this process, oldest first. */
  recording: { session: string, recordings: RecordingStatus[] }
}

export interface Origin {
  room: string
  /** The room key: the origin's peer id, which signs every announcement. */
  key: string
  /** Base URL of the status endpoint, e.g. `http://127.0.0.1:8090/`. */
  url: string
  /** libp2p addresses, each ending in `/p2p/<key>`. */
  multiaddrs: string[]
  status: () => OriginStatus
  health: () => Health
  /** Stops ffmpeg, publishes what it finished, stops libp2p and the HTTP endpoint. */
  stop: () => Promise<void>
}

export const DEFAULT_HTTP = '127.0.0.1:8090'
export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/9090'
export const DEFAULT_RECORDING_INTERVAL = 600
export const DEFAULT_THUMBNAIL_INTERVAL = 10
/** Thumbnails are this wide; the height keeps the picture's aspect ratio. */
const THUMBNAIL_WIDTH = 320
/** The test pattern's frame rate (other inputs keep their own). */
const FRAME_RATE = 30
const RECENT_SIZE = 60
/** Announcements per rendition handed to a relay that asks for the recent window. */
const WINDOW_SIZE = 30
const HEALTHY_WITHIN_MS = 10_000
/** After the last announcements on shutdown, time for gossipsub to write them out before libp2p closes. */
const SHUTDOWN_FLUSH_MS = 300
/**
 * After the final recording's announcement, time for archiving relays to fetch its new blocks (the
 * directory and playlists; the segments they hold already) before the origin goes offline.
 */
const RECORDING_LINGER_MS = 2000
/** Listening inputs wait for a sender at no cost: restart them soon, so a returning sender is taken within seconds. */
const LISTENER_MAX_BACKOFF_MS = 2000

/** Checks a segment duration: positive, at most 10 s, and a whole number of frames per GOP. */
export function assertSegmentDuration (value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > 10 || !Number.isInteger(Math.round(value * FRAME_RATE * 1000) / 1000)) {
    throw new Error(`invalid segment duration ${value}: use seconds between 0 and 10 that are a whole number of frames at ${FRAME_RATE} fps, e.g. 1 or 2`)
  }
  return value
}

/** Checks the thumbnail interval: 0 (off) or 1 s to 1 hour. */
export function assertThumbnailInterval (value: number): number {
  if (!Number.isFinite(value) || value < 0 || (value > 0 && value < 1) || value > 3600) throw new Error(`invalid thumbnail interval ${value}: use seconds between 1 and 3600, e.g. 10, or 0 for no thumbnails`)
  return value
}

/** Checks a peer id given as another origin's key; throws saying what one looks like. */
export function assertPeerId (value: string): string {
  if (!isRoomKey(value)) throw new Error(`room key "${value}" is not an Ed25519 peer id: copy the "room key: 12D3KooW..." line the other origin prints`)
  return value
}

/** Checks the interim recording interval: 1 s to 1 day. */
export function assertRecordingInterval (value: number): number {
  if (!Number.isFinite(value) || value < 1 || value > 86_400) throw new Error(`invalid recording interval ${value}: use seconds between 1 and 86400, e.g. 600`)
  return value
}

export async function startOrigin (options: OriginOptions): Promise<Origin> {
  const log = options.log ?? ((line: string) => console.log(line))
  const room = assertRoomSlug(options.room)
  const presets = resolveRenditions(options.renditions ?? [...DEFAULT_RENDITIONS])
  const segmentDuration = assertSegmentDuration(options.segmentDuration ?? 1)
  const recordingInterval = assertRecordingInterval(options.recordingInterval ?? DEFAULT_RECORDING_INTERVAL)
  const httpAddress = parseHostPort(options.http ?? DEFAULT_HTTP)
  const dataDir = resolve(options.dataDir)
  const hlsDir = join(dataDir, 'hls')
  const input = assertStreamInput(options.input ?? { kind: 'test-pattern' })
  const thumbnailInterval = assertThumbnailInterval(options.thumbnailInterval ?? DEFAULT_THUMBNAIL_INTERVAL)
  const title = options.title ?? room
  const roomKeys = (options.roomKeys ?? []).map(assertPeerId)
  const slateFile = options.slate === undefined ? undefined : resolve(options.slate)
  if (slateFile !== undefined) {
    try {
      await access(slateFile, constants.R_OK)
    } catch (err) {
      throw new Error(`cannot read the slate ${slateFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): give a video or image file the origin can read`)
    }
  }
  const generated = input.kind === 'test-pattern'
  if (generated && presets.some(p => p.copy === true)) throw new Error('the test pattern is not H.264: the passthrough rendition "source" needs an H.264 input; drop it from the renditions or give --input')
  // Other inputs keep their own frame rate: it is announced once a segment has been probed.
  const renditions = presets.map(p => renditionInfo(p, generated ? FRAME_RATE : 0))
  const names = presets.map(p => p.name)
  // The test pattern is generated at the largest encoded size; a thumbnail is decoded from the
  // smallest H.264 rendition (its segments are whole MPEG-TS files, an AV1 one needs its init section).
  const top = presets.filter(p => p.copy !== true).sort((a, b) => b.height - a.height)[0] ?? presets[0]!
  const thumbnailRendition = presets.filter(p => p.av1 !== true).at(-1)?.name

  const ffmpeg = await locateFfmpeg()
  log(describeFfmpeg(ffmpeg))
  const ffprobe = await locateFfprobe(ffmpeg)
  if (ffprobe === undefined) log('no ffprobe found beside ffmpeg or on PATH: renditions are announced with their presets\' values, and a passthrough without its size and codec profile')
  const font = await findFont()
  if (font === undefined) log('no DejaVu font found (install fonts-dejavu-core): the test pattern runs without the burned-in clock')
  const state = await SequenceState.load(join(dataDir, 'state.json'), room)
  const identity = await loadOrCreateIdentity(dataDir)
  const topic = roomTopic(room)

  let node: P2PNode | undefined
  let server: StatusServer | undefined
  let gate: RtmpGate | undefined
  /** When a watcher last saw ffmpeg finish a segment: the input is up while this is recent. */
  let lastFinishedAt = 0
  let lastProgress: FfmpegProgress | undefined
  const inputUpWithinMs = segmentDuration * 3000 + 2000
  const recent: PublishedSegment[] = []
  let segmentsPublished = 0
  let lastPublishedAt = 0
  let recordingTimer: NodeJS.Timeout | undefined
  let slateTimer: NodeJS.Timeout | undefined
  try {
    node = await createP2PNode({ identity, dataDir, listen: options.listen ?? [DEFAULT_LISTEN], allowPublishToZeroTopicPeers: true })
    // Subscribing to our own topic puts the origin in the mesh that relays join.
    node.libp2p.services.pubsub.subscribe(topic)
    const p2p = node
    if (roomKeys.length > 0) {
      // A hot standby pair: number no segment below what the other origin has announced, heard over
      // gossipsub and, from each peer that joins (a relay holds the other origin's recent window), asked.
      const follow = async (data: Uint8Array): Promise<void> => {
        const result = await verifyRoomMessage(data, roomKeys)
        if (!result.ok || result.value.announcement.kind !== 'segment' || result.value.announcement.room !== room) return
        const { rendition, seq } = result.value.announcement
        if (names.includes(rendition.name)) await state.atLeast(rendition.name, seq + 1)
      }
      const failed = (err: Error): void => { log(`following another origin's sequence numbers failed: ${err.message}`) }
      p2p.libp2p.services.pubsub.addEventListener('message', event => {
        if (event.detail.topic === topic) follow(event.detail.data).catch(failed)
      })
      p2p.libp2p.addEventListener('peer:identify', event => {
        if (!event.detail.protocols.includes(WINDOW_PROTOCOL)) return
        void (async () => { for (const data of await requestWindow(p2p, event.detail.peerId, room)) await follow(data) })().catch(failed)
      })
      log(`other origins of room ${room}: ${roomKeys.join(', ')}; sequence numbers follow theirs`)
    }
    if (input.kind === 'rtmp') {
      const { host, port } = parseHostPort(input.listen)
      gate = new RtmpGate({ host, port, key: input.key, log })
      await gate.start()
    }
    const rtmpGate = gate
    // Relays that join late or restart ask for the recent window rather than wait for new segments.
    const windows = new Map<string, SignedEnvelope[]>()
    if (thumbnailInterval > 0 && thumbnailRendition === undefined) log('thumbnails are taken from an H.264 rendition, and this ladder has none: no thumbnails')
    const thumbnails = thumbnailInterval > 0 && thumbnailRendition !== undefined
      ? new ThumbnailPublisher({ node: p2p, identity, room, topic, ffmpeg: ffmpeg.path, everySeconds: thumbnailInterval, width: THUMBNAIL_WIDTH, log })
      : undefined
    // The newest thumbnail rides along, so a relay that joins has one before the next is taken.
    await serveWindow(p2p, slug => slug === room ? [...windows.values()].flat().concat(thumbnails?.latest === undefined ? [] : [thumbnails.latest.envelope]) : [])
    const recorder = await SessionRecorder.open({ node: p2p, identity, room, topic, dataDir, log })
    const interimSnapshot = (): void => {
      recorder.snapshot(false).catch((err: Error) => log(`recordings: interim recording failed: ${err.message}`))
    }
    recordingTimer = setInterval(interimSnapshot, recordingInterval * 1000)

    /** Renditions probed in this ffmpeg run: the first segment of each says what the run carries. */
    const probed = new Map<string, Awaited<ReturnType<typeof probeSegment>>>()
    /** Passthrough renditions whose bandwidth has been measured in this process. */
    const measured = new Set<string>()
    const describe = async (segment: FinishedSegment, bytes: Uint8Array, info: RenditionInfo, init?: Uint8Array): Promise<RenditionInfo> => {
      const preset = presets.find(p => p.name === segment.rendition)
      if (ffprobe === undefined || preset === undefined) return info
      let video = probed.get(segment.rendition)
      if (video === undefined) {
        try {
          video = await probeSegment(ffprobe, bytes, init)
        } catch (err) {
          log(`${segment.rendition}: cannot probe ${segment.file} (${(err as Error).message}); announced as before`)
          return info
        }
        probed.set(segment.rendition, video)
      }
      const next = { ...info, frameRate: video.frameRate > 0 ? video.frameRate : info.frameRate }
      // SVT-AV1 picks the level: announce the one the init section names.
      if (preset.av1 === true) return video.videoCodec === undefined ? next : { ...next, codecs: `${video.videoCodec},mp4a.40.2` }
      if (preset.copy !== true) return next
      if (video.codec !== 'h264') throw new Error(`the input's video is ${video.codec}, not H.264: the passthrough rendition "source" copies H.264 only; drop it from the renditions`)
      const bandwidth = passthroughBandwidth(measured.has(segment.rendition) ? info.bandwidth : undefined, bytes.length, segment.duration)
      measured.add(segment.rendition)
      return { ...next, width: video.width, height: video.height, codecs: `${video.videoCodec ?? 'avc1.640028'},mp4a.40.2`, bandwidth }
    }

    const publisher = new SegmentPublisher({
      node: p2p,
      identity,
      room,
      topic,
      renditions,
      state,
      log,
      describe,
      record: async announcement => await recorder.record(announcement),
      onPublished: (segment, envelope, bytes) => {
        // The smallest rendition: its first frame is the cheapest to decode into a thumbnail.
        if (segment.rendition === thumbnailRendition) thumbnails?.offer(bytes)
        const window = windows.get(segment.rendition) ?? []
        window.push(envelope)
        if (window.length > WINDOW_SIZE) window.shift()
        windows.set(segment.rendition, window)
        segmentsPublished++
        lastPublishedAt = segment.publishedAt
        metrics.published(segment.rendition, segment.size, segment.finishedAt, segment.publishedAt)
        recent.push(segment)
        if (recent.length > RECENT_SIZE) recent.shift()
      }
    })

    const fresh = new Set(names.filter(name => state.isFresh(name)))
    let watchers: PlaylistWatcher[] = []
    /** Unusable playlist entries seen by the watchers of earlier runs. */
    let invalidEntries = 0
    let stopping = false
    /** The slate while it shows. */
    let slate: Slate | undefined
    /** When the input last finished a segment, or the origin started: the slate comes on after a silence. */
    let inputSeenAt = Date.now()
    /** Renditions whose next segment joins input and slate: it carries a discontinuity. */
    const joins = new Set<string>()
    const slateOff = (): void => {
      if (slate === undefined) return
      const showing = slate
      slate = undefined
      for (const name of names) joins.add(name)
      probed.clear()
      log('input is back: slate off')
      showing.stop().catch((err: Error) => log(`stopping the slate failed: ${err.message}`))
    }
    const supervisor = new FfmpegSupervisor({
      path: ffmpeg.path,
      log,
      prepare: async run => {
        // ffmpeg numbers segments from 0 in every run: start from an empty directory.
        await rm(hlsDir, { recursive: true, force: true })
        for (const index of names.keys()) await mkdir(renditionDir(hlsDir, index), { recursive: true })
        probed.clear()
        await state.align(names)
        // A new run has received nothing yet: the input counts as down until its first segment.
        lastFinishedAt = 0
        for (const name of names) if (run > 1 || !fresh.has(name)) publisher.markDiscontinuity(name)
        watchers = names.map((name, index) => new PlaylistWatcher({
          rendition: name,
          dir: renditionDir(hlsDir, index),
          log,
          // A stop ends the session: ffmpeg's last segment before it exits carries the end flag.
          onSegments: segments => {
            slateOff()
            inputSeenAt = Date.now()
            for (const s of segments) {
              lastFinishedAt = Math.max(lastFinishedAt, s.finishedAt)
              publisher.enqueue(s, { end: stopping && s.last, discontinuity: joins.delete(s.rendition) })
            }
          }
        }))
        for (const w of watchers) w.start()
        const prepared = prepareInput(input, { room, width: top.width, height: top.height, frameRate: FRAME_RATE, now: new Date(), font, rtmpInternalPort: rtmpGate?.internalPort })
        log(`ffmpeg run ${run}: ${prepared.description} -> ${names.join(', ')}, ${segmentDuration} s segments${isListening(input) ? '; waiting for signal' : ''}`)
        return ladderArgs({
          input: prepared,
          renditions: presets,
          frameRate: generated ? FRAME_RATE : undefined,
          segmentDuration,
          hlsDir,
          runId: run,
          progress: true
        })
      },
      maxBackoffMs: isListening(input) ? LISTENER_MAX_BACKOFF_MS : undefined,
      onProgress: progress => {
        lastProgress = progress
        metrics.progress(progress)
      },
      exited: async () => {
        lastProgress = undefined
        metrics.reset()
        const lastSegments = await Promise.all(watchers.map(w => w.stop()))
        for (const w of watchers) invalidEntries += w.invalid
        watchers = []
        for (const s of lastSegments.flat()) publisher.enqueue(s, { end: stopping && s.last })
        await publisher.drain()
      }
    })

    const inputUp = (): boolean => supervisor.running && Date.now() - lastFinishedAt < inputUpWithinMs
    if (slateFile !== undefined) {
      slateTimer = setInterval(() => {
        if (stopping || slate !== undefined || inputUp() || Date.now() - inputSeenAt < inputUpWithinMs) return
        log(`no input for ${((Date.now() - inputSeenAt) / 1000).toFixed(0)} s: showing the slate ${slateFile} (waiting for signal)`)
        if (segmentsPublished > 0) for (const name of names) joins.add(name)
        probed.clear()
        const showing: Slate = new Slate({
          ffmpeg: ffmpeg.path,
          file: slateFile,
          renditions: presets,
          segmentDuration,
          dir: join(dataDir, 'slate'),
          log,
          onSegments: segments => {
            if (slate !== showing) return
            for (const s of segments) publisher.enqueue(s, { slate: true, discontinuity: joins.delete(s.rendition) })
          }
        })
        slate = showing
        showing.start()
      }, 1000)
    }
    const dropped = (): OriginStatus['dropped'] => ({
      playlistEntries: invalidEntries + watchers.reduce((n, w) => n + w.invalid, 0),
      segments: publisher.dropped,
      publishErrors: publisher.publishErrors,
      thumbnails: thumbnails?.dropped ?? 0
    })
    const inputStatus = (): InputStatus => {
      const up = inputUp()
      return { kind: input.kind, description: describeInput(input), up, state: up ? 'receiving' : 'waiting for signal', slate: slate !== undefined, refused: rtmpGate?.refused ?? 0, fps: lastProgress?.fps }
    }
    const metrics = new OriginMetrics(room, {
      ffmpegUp: () => supervisor.running,
      ffmpegRestarts: () => supervisor.restarts,
      peers: () => p2p.libp2p.getPeers().length,
      inputUp,
      dropped,
      rtmpRefused: () => rtmpGate?.refused ?? 0
    })
    const status = (): OriginStatus => ({
      room,
      title,
      key: identity.id,
      multiaddrs: p2p.libp2p.getMultiaddrs().map(String),
      ffmpeg: { path: ffmpeg.path, running: supervisor.running, restarts: supervisor.restarts, pid: supervisor.pid },
      renditions: publisher.renditions(),
      input: inputStatus(),
      segmentsPublished,
      thumbnail: thumbnails?.latest === undefined ? null : (({ cid, at, width, height }) => ({ cid, at, width, height }))(thumbnails.latest.announcement),
      peers: p2p.libp2p.getPeers().length,
      dropped: dropped(),
      recent: [...recent],
      recording: { session: recorder.session, recordings: recorder.recordings() }
    })
    const health = (): Health => {
      if (!supervisor.running) return { ok: false, reason: `ffmpeg is not running${supervisor.lastExit === undefined ? '' : ` (it ${supervisor.lastExit})`}` }
      // Viewers see the slate, but the room's input is down: worth an operator's attention.
      if (slate !== undefined) return { ok: false, reason: `showing the slate: waiting for signal from ${describeInput(input)}` }
      if (lastPublishedAt === 0) return { ok: false, reason: 'no segment published yet' }
      const age = Date.now() - lastPublishedAt
      if (age > HEALTHY_WITHIN_MS) return { ok: false, reason: `no segment published for ${(age / 1000).toFixed(1)} s: waiting for signal from ${describeInput(input)}` }
      return { ok: true }
    }
    server = await startStatusServer({ ...httpAddress, status, health, metrics: () => metrics.text() })
    supervisor.start()

    let stopped: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      stopping = true
      clearInterval(recordingTimer)
      clearInterval(slateTimer)
      await slate?.stop()
      const before = segmentsPublished
      await supervisor.stop()
      await thumbnails?.settled()
      // The session ends with the stop: its final recording holds every segment announced.
      const recorded = await recorder.snapshot(true).catch((err: Error) => { log(`recordings: final recording failed: ${err.message}`) })
      if (recorded !== undefined) await new Promise(resolve => setTimeout(resolve, RECORDING_LINGER_MS))
      else if (segmentsPublished > before) await new Promise(resolve => setTimeout(resolve, SHUTDOWN_FLUSH_MS))
      await server?.close()
      await rtmpGate?.close()
      await p2p.stop()
    }
    return {
      room,
      key: identity.id,
      url: server.url,
      multiaddrs: p2p.libp2p.getMultiaddrs().map(String),
      status,
      health,
      stop: () => (stopped ??= stop())
    }
  } catch (err) {
    clearInterval(recordingTimer)
    clearInterval(slateTimer)
    await server?.close()
    await gate?.close()
    await node?.stop()
    throw err
  }
}
