/**
 * One room's origin: ffmpeg encodes the input into the rendition ladder, each segment ffmpeg finishes
 * is stored as a raw block on the origin's Helia node and announced, signed with the room key, on the
 * room's gossipsub topic. An HTTP endpoint reports health and recent segments.
 */
import { constants } from 'node:fs'
import { access, chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { InvalidOptionError, MissingResourceError, assertRoomSlug, errorMessage, logger, parseHostPort, roomPartsTopic, roomTopic } from '@hivecast/shared'
import { createP2PNode, loadOrCreateIdentity, ORIGIN_PUSH_FANOUT, P2PTraffic, serveWindow } from '@hivecast/shared/node'
import { CID } from 'multiformats/cid'
import type { RenditionInfo } from '@hivecast/shared'
import type { P2PNode, P2PTrafficTotals } from '@hivecast/shared/node'
import { describeFfmpeg, locateFfmpeg, locateFfprobe } from './ffmpeg-binary.ts'
import type { FfmpegProgress } from './ffmpeg-progress.ts'
import { FfmpegSupervisor } from './ffmpeg-supervisor.ts'
import { continuousOutputFd, ladderArgs, renditionDir } from './ladder-command.ts'
import { runTimestampOffset } from './media-timeline.ts'
import { PlaylistWatcher } from './playlist-watcher.ts'
import { DEFAULT_RENDITIONS, renditionInfo, resolveRenditions } from './rendition-ladder.ts'
import { assertAudioTracks } from './audio-tracks.ts'
import { probeSegment } from './segment-probe.ts'
import { SegmentDescriber } from './segment-describer.ts'
import { InputWatch } from './input-watch.ts'
import { PublishedWindow } from './published-window.ts'
import { followOtherOrigins } from './other-origins.ts'
import { ThumbnailPublisher } from './thumbnail-publisher.ts'
import { SegmentPublisher } from './segment-publisher.ts'
import { PartPublisher } from './part-publisher.ts'
import type { PartLatency, PublishedPart } from './part-publisher.ts'
import { StreamSegmenter } from './stream-segmenter.ts'
import { Slate } from './slate.ts'
import type { PublishedSegment } from './segment-publisher.ts'
import { SequenceState } from './sequence-state.ts'
import { SessionRecorder } from './session-recorder.ts'
import type { RecordingStatus, WithheldTalk } from './session-recorder.ts'
import { RecordingConsent, assertScheduleSource } from './recording-consent.ts'
import type { ScheduleStatus } from './recording-consent.ts'
import { consentAdmin, loadAdminToken } from './consent-admin.ts'
import { loadBearerToken } from './authenticated-endpoint.ts'
import { CaptionTrack } from './caption-track.ts'
import { captioner } from './captioner.ts'
import { startStatusServer } from './status-server.ts'
import type { Health, StatusServer } from './status-server.ts'
import { OriginMetrics } from './origin-metrics.ts'
import { SegmentPusher, libp2pOriginPushNetwork } from './segment-pusher.ts'
import type { PushCounts } from './segment-pusher.ts'
import { RtmpGate } from './rtmp-gate.ts'
import { inputSecrets, secretRedactor } from './input-secrets.ts'
import { assertStreamInput, describeInput, findFont, inputListenAddresses, isListening, prepareInput } from './stream-input.ts'
import type { StreamInput } from './stream-input.ts'
import {
  DEFAULT_HTTP, DEFAULT_LISTEN, DEFAULT_PART_DURATION, DEFAULT_RECORDING_INTERVAL, DEFAULT_SEGMENT_DURATION, DEFAULT_THUMBNAIL_INTERVAL, TEST_PATTERN_FRAME_RATE,
  assertPartDuration, assertPeerId, assertPushFanout, assertRecordingInterval, assertSegmentDuration, assertThumbnailInterval
} from './origin-options.ts'
import type { OriginOptions } from './origin-options.ts'

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
  dropped: { playlistEntries: number, streamBytes: number, segments: number, parts: number, publishErrors: number, thumbnails: number }
  /** The last segments published, oldest first. */
  recent: PublishedSegment[]
  /**
   * The session being recorded, the recordings announced by this process (oldest first), and the talks
   * whose segments the schedule kept out of them.
   */
  recording: { session: string, recordings: RecordingStatus[], withheld: WithheldTalk[] }
  /** The schedule that decides what is recorded, or null without --schedule. */
  schedule: ScheduleStatus | null
  /** The segment push: offers to first-hop relays, taken, and failed. */
  push: PushCounts
  /** libp2p bytes in and out, out per protocol, and bitswap blocks sent: where the uplink goes. */
  p2p: P2PTrafficTotals
  /** LL-HLS parts: seconds per part, parts announced, and read -> published latency over the last ones; null when off. */
  parts: { duration: number, published: number, publishErrors: number, latencyMs: PartLatency | null } | null
  /** The subtitle rendition and its captioner, or null without --captions. */
  captions: { rendition: string, typed: number, refused: number, dropped: number, fromInput: number } | null
}

export interface Origin {
  room: string
  /** The room key: the origin's peer id, which signs every announcement. */
  key: string
  /** Base URL of the status endpoint, e.g. `http://127.0.0.1:8090/`. */
  url: string
  /** libp2p addresses, each ending in `/p2p/<key>`. */
  multiaddrs: string[]
  /** Where the origin listens for its input (`rtmp://0.0.0.0:1935/live`, ...), without secrets; empty for inputs it pulls or makes. */
  inputs: string[]
  status: () => OriginStatus
  health: () => Health
  /** Stops ffmpeg, publishes what it finished, stops libp2p and the HTTP endpoint. */
  stop: () => Promise<void>
}

/** Thumbnails are this wide; the height keeps the picture's aspect ratio. */
const THUMBNAIL_WIDTH = 320
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

export async function startOrigin (options: OriginOptions): Promise<Origin> {
  const log = logger('origin', { level: options.logLevel, ...(options.log === undefined ? {} : { write: options.log }) })
  const room = assertRoomSlug(options.room)
  const audioTracks = assertAudioTracks(options.audioTracks ?? [])
  const presets = resolveRenditions(options.renditions ?? [...DEFAULT_RENDITIONS], audioTracks)
  const segmentDuration = assertSegmentDuration(options.segmentDuration ?? DEFAULT_SEGMENT_DURATION)
  const partDuration = assertPartDuration(options.partDuration ?? DEFAULT_PART_DURATION, segmentDuration)
  const recordingInterval = assertRecordingInterval(options.recordingInterval ?? DEFAULT_RECORDING_INTERVAL)
  const pushFanout = assertPushFanout(options.pushFanout ?? ORIGIN_PUSH_FANOUT)
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
      throw new MissingResourceError(`cannot read the slate ${slateFile} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}): give a video or image file the origin can read`, { cause: err })
    }
  }
  const generated = input.kind === 'test-pattern'
  if (generated && presets.some(p => p.copy === true)) throw new InvalidOptionError('the test pattern is not H.264: the passthrough rendition "source" needs an H.264 input; drop it from the renditions or give --input')
  // Other inputs keep their own frame rate: it is announced once a segment has been probed.
  const renditions = presets.map(p => renditionInfo(p, generated ? TEST_PATTERN_FRAME_RATE : 0))
  const names = presets.map(p => p.name)
  // The test pattern is generated at the largest encoded size; a thumbnail is decoded from the
  // smallest H.264 rendition (its segments are whole MPEG-TS files, an AV1 one needs its init section).
  const top = presets.filter(p => p.copy !== true).sort((a, b) => b.height - a.height)[0] ?? presets[0]!
  const thumbnailRendition = presets.filter(p => p.av1 !== true && p.audioOnly !== true).at(-1)?.name
  // Subtitle segments follow the best H.264 rendition's cuts and clock (MPEG-TS timestamps).
  const captionReference = presets.find(p => p.av1 !== true && p.audioOnly !== true)?.name
  if (options.captions !== undefined && captionReference === undefined) throw new InvalidOptionError('captions follow an H.264 rendition\'s segments, and this ladder has none: add one, e.g. 360p')
  if (options.captionTokenFile !== undefined && options.captions === undefined) throw new InvalidOptionError('--caption-token-file turns on the captioner of the subtitle rendition: give --captions too, e.g. --captions en:English')

  const ffmpeg = await locateFfmpeg()
  log.info(describeFfmpeg(ffmpeg))
  const ffprobe = await locateFfprobe(ffmpeg)
  if (ffprobe === undefined) log.warn('no ffprobe found beside ffmpeg or on PATH: renditions are announced with their presets\' values, and a passthrough without its size and codec profile')
  const font = await findFont()
  if (font === undefined) log.warn('no DejaVu font found (install fonts-dejavu-core): the test pattern runs without the burned-in clock')
  // Read before anything is recorded: without it the origin would record talks it must not.
  const adminToken = options.adminTokenFile === undefined ? undefined : await loadAdminToken(resolve(options.adminTokenFile), log.warn)
  const captionToken = options.captionTokenFile === undefined ? undefined : await loadBearerToken(resolve(options.captionTokenFile), 'captioner token', log.warn)
  const consent = options.schedule === undefined && adminToken === undefined
    ? undefined
    : await RecordingConsent.open({
      ...(options.schedule === undefined ? {} : { source: assertScheduleSource(options.schedule) }),
      room: { slug: room, title },
      log: log.child('schedule'),
      store: join(dataDir, 'opt-outs.json')
    })
  const state = await SequenceState.load(join(dataDir, 'state.json'), room)
  const identity = await loadOrCreateIdentity(dataDir)
  const topic = roomTopic(room)

  let node: P2PNode | undefined
  let server: StatusServer | undefined
  let gate: RtmpGate | undefined
  let lastProgress: FfmpegProgress | undefined
  const published = new PublishedWindow()
  let recordingTimer: NodeJS.Timeout | undefined
  let watch: InputWatch | undefined
  // What the uplink carries, per protocol: the figure the design exists to keep at one copy of the stream.
  const traffic = new P2PTraffic()
  try {
    const captions = options.captions === undefined
      ? undefined
      : new CaptionTrack({ captions: options.captions, dataDir, clock: generated, enqueue: (segment, flags) => { publisher.enqueue(segment, flags) }, log: log.child('captions').info })
    const captionEndpoint = captions === undefined || captionToken === undefined ? undefined : captioner({ token: captionToken, track: captions, log: log.child('captioner') })
    // Every rendition's sequence numbers, the subtitles' included: aligned at each run, raised by other origins'.
    const sequenced = captions === undefined ? names : [...names, captions.rendition]
    node = await createP2PNode({ identity, dataDir, listen: options.listen ?? [DEFAULT_LISTEN], allowPublishToZeroTopicPeers: true, metrics: traffic })
    // Subscribing to our own topic puts the origin in the mesh that relays join.
    node.libp2p.services.pubsub.subscribe(topic)
    if (partDuration > 0) node.libp2p.services.pubsub.subscribe(roomPartsTopic(room))
    const p2p = node
    followOtherOrigins(p2p, { room, topic, roomKeys, renditions: sequenced, state, log: log.child('other-origins').info })
    if (input.kind === 'rtmp') {
      const { host, port } = parseHostPort(input.listen)
      gate = new RtmpGate({ host, port, key: input.key, log: log.child('rtmp-gate').info })
      await gate.start()
    }
    const rtmpGate = gate
    if (thumbnailInterval > 0 && thumbnailRendition === undefined) log.warn('thumbnails are taken from an H.264 rendition, and this ladder has none: no thumbnails')
    const thumbnails = thumbnailInterval > 0 && thumbnailRendition !== undefined
      ? new ThumbnailPublisher({ node: p2p, identity, room, topic, ffmpeg: ffmpeg.path, everySeconds: thumbnailInterval, width: THUMBNAIL_WIDTH, log: log.child('thumbnails').info })
      : undefined
    // The newest thumbnail rides along, so a relay that joins has one before the next is taken.
    await serveWindow(p2p, slug => slug === room ? published.envelopes().concat(thumbnails?.latest === undefined ? [] : [thumbnails.latest.envelope]) : [])
    const recorder = await SessionRecorder.open({ node: p2p, identity, room, topic, dataDir, log: log.child('recordings').info, withhold: consent === undefined ? undefined : (from, to) => consent.withholding(from, to) })
    const interimSnapshot = (): void => {
      recorder.snapshot(false).catch((err: unknown) => { log.warn(`recordings: interim recording failed: ${errorMessage(err)}`) })
    }
    recordingTimer = setInterval(interimSnapshot, recordingInterval * 1000)

    const describer = new SegmentDescriber({ presets, probe: ffprobe === undefined ? undefined : async (bytes, init) => await probeSegment(ffprobe, bytes, init), log: log.child('describer').info })

    const pusher = new SegmentPusher(libp2pOriginPushNetwork(p2p, topic, roomKeys), { fanout: pushFanout, log: log.child('segment-push').debug })
    if (captions !== undefined) await mkdir(captions.dir, { recursive: true })
    const publisher = new SegmentPublisher({
      node: p2p,
      identity,
      room,
      topic,
      renditions: captions === undefined ? renditions : [...renditions, captions.info],
      state,
      log: log.child('publisher').info,
      describe: describer.describe,
      record: async announcement => await recorder.record(announcement),
      // Offered before it is announced: a relay holds an offer up to half a second for the announcement,
      // and the offer's stream is being opened while the announcement goes out.
      onStored: (cid, bytes) => { pusher.offer(cid, bytes) },
      onPublished: (segment, envelope, bytes) => {
        // The smallest rendition: its first frame is the cheapest to decode into a thumbnail.
        if (segment.rendition === thumbnailRendition) thumbnails?.offer(bytes)
        if (segment.rendition === captionReference) captions?.follow(segment, bytes).catch((err: unknown) => { log.warn(`captions: no subtitle segment for ${segment.seq}: ${errorMessage(err)}`) })
        published.add(segment, envelope)
        metrics.published(segment.rendition, segment.size, segment.finishedAt, segment.publishedAt)
      }
    })

    const onPart = (part: PublishedPart, bytes: Uint8Array): void => {
      pusher.offer(CID.parse(part.cid), bytes)
      metrics.partPublished(part.rendition, part.seenAt, part.publishedAt)
    }
    const parts = partDuration === 0 ? undefined : new PartPublisher({ node: p2p, identity, room, topic: roomPartsTopic(room), session: publisher.session, seqFor: (rendition, file) => publisher.seqFor(rendition, file), log: log.child('parts').info, onPublished: onPart })
    const fresh = new Set(sequenced.filter(name => state.isFresh(name)))
    /**
     * Per rendition index, what finishes its segments: ffmpeg's playlist, or with parts on (MPEG-TS
     * renditions) the origin's own cut of ffmpeg's continuous stream, so parts go out as they are encoded.
     */
    let watchers: Array<PlaylistWatcher | undefined> = []
    let segmenters: Array<StreamSegmenter | undefined> = []
    /** The segmenters reading this run's streams: done when ffmpeg has closed them. */
    let segmenting: Array<Promise<void>> = []
    /** Unusable playlist entries and stream bytes seen by the watchers and segmenters of earlier runs. */
    let invalidEntries = 0
    let invalidStreamBytes = 0
    let stopping = false
    const supervisor = new FfmpegSupervisor({
      path: ffmpeg.path,
      log: log.info,
      redact: secretRedactor(inputSecrets(input)),
      prepare: async run => {
        // ffmpeg numbers segments from 0 in every run: start from an empty directory.
        await rm(hlsDir, { recursive: true, force: true })
        for (const index of names.keys()) await mkdir(renditionDir(hlsDir, index), { recursive: true })
        describer.reset()
        await state.align(sequenced)
        inputWatch.runStarted()
        for (const name of sequenced) if (run > 1 || !fresh.has(name)) publisher.markDiscontinuity(name)
        const timestampOffset = runTimestampOffset(Date.now(), state.announcedEnd)
        const cutHere = (index: number): boolean => parts !== undefined && presets[index]!.av1 !== true
        watchers = names.map((name, index) => cutHere(index)
          ? undefined
          : new PlaylistWatcher({
            rendition: name,
            dir: renditionDir(hlsDir, index),
            log: log.child('playlist').info,
            // A stop ends the session: ffmpeg's last segment before it exits carries the end flag.
            onSegments: segments => {
              inputWatch.received(segments)
              for (const s of segments) publisher.enqueue(s, { end: stopping && s.last, discontinuity: inputWatch.discontinuity(s.rendition) })
            }
          }))
        segmenters = names.map((name, index) => parts === undefined || !cutHere(index)
          ? undefined
          : new StreamSegmenter({
            rendition: name,
            dir: renditionDir(hlsDir, index),
            run,
            segmentDuration,
            partDuration,
            video: presets[index]!.audioOnly !== true,
            // The run's timestamps start at its offset: the program date time follows them, unless
            // ffmpeg may wait for a sender for a long while first.
            ...isListening(input) ? {} : { startedAt: timestampOffset * 1000 },
            log: log.child('segmenter').info,
            onParts: (file, cut, seenAt) => { parts.enqueue(name, file, cut, seenAt) },
            // A segment is announced after its last part.
            onSegment: s => {
              inputWatch.received([s])
              publisher.enqueue(s, { end: stopping && s.last, discontinuity: inputWatch.discontinuity(name), after: parts.settled(name) })
            }
          }))
        segmenting = []
        for (const w of watchers) w?.start()
        const prepared = prepareInput(input, { room, width: top.width, height: top.height, frameRate: TEST_PATTERN_FRAME_RATE, now: new Date(), font, rtmpInternalPort: rtmpGate?.internalPort, audioStreams: 1 + Math.max(0, ...audioTracks.map(t => t.stream)), inputFile: join(dataDir, 'input.ffconcat') })
        if (prepared.file !== undefined) {
          await writeFile(prepared.file.path, prepared.file.content, { mode: 0o600 })
          // The mode above applies only when the file is created.
          await chmod(prepared.file.path, 0o600)
        }
        log.info(`ffmpeg run ${run}: ${prepared.description} -> ${names.join(', ')}, ${segmentDuration} s segments${isListening(input) ? '; waiting for signal' : ''}`)
        const args = ladderArgs({
          input: prepared,
          renditions: presets,
          frameRate: generated ? TEST_PATTERN_FRAME_RATE : undefined,
          segmentDuration,
          hlsDir,
          runId: run,
          progress: true,
          timestampOffset,
          continuous: parts !== undefined
        })
        const outputs = new Map<number, (stream: Readable) => void>()
        segmenters.forEach((segmenter, index) => {
          if (segmenter !== undefined) outputs.set(continuousOutputFd(index), stream => { segmenting.push(segmenter.consume(stream)) })
        })
        return { args, outputs }
      },
      maxBackoffMs: isListening(input) ? LISTENER_MAX_BACKOFF_MS : undefined,
      onProgress: progress => {
        lastProgress = progress
        metrics.progress(progress)
      },
      exited: async () => {
        lastProgress = undefined
        metrics.reset()
        await Promise.all(segmenting)
        const lastSegments = await Promise.all(watchers.map(async w => await w?.stop() ?? []))
        for (const w of watchers) invalidEntries += w?.invalid ?? 0
        for (const s of segmenters) invalidStreamBytes += s?.invalidBytes ?? 0
        watchers = []
        segmenters = []
        for (const s of lastSegments.flat()) publisher.enqueue(s, { end: stopping && s.last })
        await publisher.drain()
        await parts?.drain()
      }
    })

    const inputWatch = new InputWatch({
      renditions: names,
      segmentDuration,
      running: () => supervisor.running,
      slate: slateFile === undefined
        ? undefined
        : {
            file: slateFile,
            start: onSegments => {
              const slate = new Slate({ ffmpeg: ffmpeg.path, file: slateFile, renditions: presets, segmentDuration, dir: join(dataDir, 'slate'), log: log.child('slate').info, onSegments, timestampOffset: () => runTimestampOffset(Date.now(), state.announcedEnd) })
              slate.start()
              return slate
            }
          },
      publishSlate: (segment, discontinuity) => publisher.enqueue(segment, { slate: true, discontinuity }),
      onSourceChange: () => describer.reset(),
      published: () => published.count,
      log: log.info
    })
    watch = inputWatch
    inputWatch.start()
    const dropped = (): OriginStatus['dropped'] => ({
      playlistEntries: invalidEntries + watchers.reduce((n, w) => n + (w?.invalid ?? 0), 0),
      streamBytes: invalidStreamBytes + segmenters.reduce((n, s) => n + (s?.invalidBytes ?? 0), 0),
      segments: publisher.dropped,
      parts: parts?.dropped ?? 0,
      publishErrors: publisher.publishErrors,
      thumbnails: thumbnails?.dropped ?? 0
    })
    const inputStatus = (): InputStatus => {
      const up = inputWatch.up()
      return { kind: input.kind, description: describeInput(input), up, state: up ? 'receiving' : 'waiting for signal', slate: inputWatch.showingSlate, refused: rtmpGate?.refused ?? 0, fps: lastProgress?.fps }
    }
    const metrics = new OriginMetrics(room, {
      ffmpegUp: () => supervisor.running,
      ffmpegRestarts: () => supervisor.restarts,
      peers: () => p2p.libp2p.getPeers().length,
      inputUp: () => inputWatch.up(),
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
      segmentsPublished: published.count,
      thumbnail: thumbnails?.latest === undefined ? null : (({ cid, at, width, height }) => ({ cid, at, width, height }))(thumbnails.latest.announcement),
      peers: p2p.libp2p.getPeers().length,
      dropped: dropped(),
      recent: published.recent(),
      recording: { session: recorder.session, recordings: recorder.recordings(), withheld: recorder.withheld() },
      schedule: consent?.status() ?? null,
      push: { ...pusher.counts },
      p2p: traffic.totals(),
      parts: parts === undefined ? null : { duration: partDuration, published: parts.published, publishErrors: parts.publishErrors, latencyMs: parts.latency() },
      captions: captions === undefined ? null : { rendition: captions.rendition, typed: captions.typed, refused: captionEndpoint?.counts.refused ?? 0, dropped: captions.droppedCues, fromInput: captions.fromInput }
    })
    const health = (): Health => {
      if (!supervisor.running) return { ok: false, reason: `ffmpeg is not running${supervisor.lastExit === undefined ? '' : ` (it ${supervisor.lastExit})`}` }
      // Viewers see the slate, but the room's input is down: worth an operator's attention.
      if (inputWatch.showingSlate) return { ok: false, reason: `showing the slate: waiting for signal from ${describeInput(input)}` }
      if (published.lastPublishedAt === 0) return { ok: false, reason: 'no segment published yet' }
      const age = Date.now() - published.lastPublishedAt
      if (age > HEALTHY_WITHIN_MS) return { ok: false, reason: `no segment published for ${(age / 1000).toFixed(1)} s: waiting for signal from ${describeInput(input)}` }
      return { ok: true }
    }
    const admin = consent === undefined || adminToken === undefined ? undefined : consentAdmin({ token: adminToken, consent, log: log.child('admin'), onOptOut: async talk => await recorder.withdraw(talk.start, talk.end) })
    const routes = [admin, captionEndpoint?.routes].filter(r => r !== undefined)
    server = await startStatusServer({ ...httpAddress, status, health, metrics: () => metrics.text(), routes: (req, res, path) => routes.some(route => route(req, res, path)) })
    supervisor.start()

    let stopped: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      stopping = true
      clearInterval(recordingTimer)
      await inputWatch.stop()
      const before = published.count
      await supervisor.stop()
      await thumbnails?.settled()
      // The session ends with the stop: its final recording holds every segment announced.
      const recorded = await recorder.snapshot(true).catch((err: unknown) => { log.warn(`recordings: final recording failed: ${errorMessage(err)}`) })
      if (recorded !== undefined) await new Promise(resolve => setTimeout(resolve, RECORDING_LINGER_MS))
      else if (published.count > before) await new Promise(resolve => setTimeout(resolve, SHUTDOWN_FLUSH_MS))
      consent?.stop()
      await server?.close()
      await rtmpGate?.close()
      await p2p.stop()
    }
    return {
      room,
      key: identity.id,
      url: server.url,
      multiaddrs: p2p.libp2p.getMultiaddrs().map(String),
      inputs: inputListenAddresses(input),
      status,
      health,
      stop: () => (stopped ??= stop())
    }
  } catch (err) {
    clearInterval(recordingTimer)
    consent?.stop()
    await watch?.stop()
    await server?.close()
    await gate?.close()
    await node?.stop()
    throw err
  }
}
