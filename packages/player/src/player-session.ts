/**
 * One player's playback: hls.js with the relay-failover loaders attached to a video element, and the
 * state the viewer sees (connecting, live, buffering, waiting for signal, ended, offline) worked out
 * from hls.js and media events. It dispatches `hivecast:state` and `hivecast:stats` on the player's
 * root element.
 */
// The full build: the light one has no alternate audio (interpretation); see audio-tracks.ts.
import Hls from 'hls.js'
import type { ErrorData, Level } from 'hls.js'
import { AudioTracks } from './audio-tracks.ts'
import { SubtitleTracks } from './subtitle-tracks.ts'
import type { AudioChoice } from './audio-tracks.ts'
import { hasWebCryptoDigest, isDirectoryCid, isRoomSlug, relayRoutes, relayUrl } from '@hivecast/shared'
import { AnnouncementBook } from './announcement-book.ts'
import { PartBook } from './part-book.ts'
import { LIVE_MASTER, LivePlaylists } from './live-playlists.ts'
import { LiveRewind } from './live-rewind.ts'
import { createPlaylistLoader } from './playlist-loader.ts'
import type { PlaylistSource, PlaylistTrustCounters } from './playlist-loader.ts'
import { RECORDING_MASTER, RecordingPlaylists } from './recording-playlists.ts'
import { RelayPool } from './relay-pool.ts'
import { SegmentLedger } from './segment-ledger.ts'
import type { PlaybackStats, PlayerState, PlayerStats } from './segment-ledger.ts'
import { createSegmentLoader, PEERS_SOURCE } from './segment-loader.ts'
import { loadPeerSource } from './peer-source.ts'
import type { PeerSource, PeerStats } from './peer-source-contract.ts'
import type { PlayerOptions } from './player-options.ts'

export interface PlayerHandle {
  /** A snapshot of what the player fetched, verified and rejected. */
  stats: () => PlayerStats
  /** Stops playback. From `mountPlayer` it also removes the player; a `Player` stays until unmounted. */
  destroy: () => void
}

/** What the viewer is told. `retry` is set when pressing Retry could help. */
export interface PlayerView {
  state: PlayerState
  message: string
  retry: boolean
}

export interface PlayerStateEventDetail {
  state: PlayerState
  message: string
}

/** How long the player waits before it tries a room again after it could not load it. */
const RETRY_AFTER_MS = 10_000
/** A live playlist that has not grown for this many target durations (and at least 6 s): no signal. */
const STALL_TARGET_DURATIONS = 3
const MIN_STALL_MS = 6_000
/** The fastest hls.js plays a low-latency viewer who fell behind its target, to get back to it. */
const LOW_LATENCY_CATCH_UP_RATE = 1.15

/** One rendition in the quality menu. */
export interface QualityOption {
  /** hls.js level index. */
  index: number
  label: string
}

/** Stats before anything played (also what a removed player reports when it never ran). */
export function emptyStats (state: PlayerState = 'connecting'): PlayerStats {
  return {
    state,
    latencyMs: null,
    catchUps: 0,
    bufferSeconds: 0,
    bitrate: null,
    bandwidthEstimate: null,
    rendition: null,
    auto: true,
    audioTrack: null,
    announcementsVerified: 0,
    announcementsRefused: 0,
    entriesRejected: 0,
    keyChecked: false,
    hashing: hasWebCryptoDigest() ? 'webcrypto' : 'js',
    p2p: 'off',
    peers: noPeers(),
    segmentsVerified: 0,
    segmentsRejected: 0,
    bytesBySource: {},
    segments: []
  }
}

/** `360p`, or `360p AV1` for an AV1 rendition beside H.264 ones of the same height. */
function levelLabel (level: Level): string {
  const size = level.height > 0 ? `${level.height}p` : level.name ?? `${Math.round(level.bitrate / 1000)} kb/s`
  return level.videoCodec?.startsWith('av01') === true ? `${size} AV1` : size
}

function noPeers (): PeerStats {
  return { peers: 0, uploadedBytes: 0, uploadedSegments: 0, rejectedPeers: 0, benchedPeers: 0, badMessages: 0 }
}

export class PlayerSession {
  readonly #video: HTMLVideoElement
  readonly #root: HTMLElement
  readonly #options: PlayerOptions
  readonly #onView: (view: PlayerView) => void
  readonly #pool: RelayPool
  readonly #ledger: SegmentLedger
  readonly #book: AnnouncementBook | undefined
  /** Signed LL-HLS parts of the live stream; undefined for a recording. */
  readonly #parts: PartBook | undefined
  readonly #trust: PlaylistTrustCounters = { entriesRejected: 0 }
  readonly #source: PlaylistSource
  readonly #media = new AbortController()
  /** When the live playlist last grew (performance.now()), and its newest sequence number then. */
  #lastGrowth = 0
  #newestSeq = -1
  #targetDuration = 1
  #ticker: ReturnType<typeof setInterval> | undefined
  #hls: Hls | undefined
  #view: PlayerView
  #played = false
  #mediaRecoveries = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #destroyed = false
  #p2p: PlaybackStats['p2p'] = 'off'
  #swarm: PeerSource | undefined
  /** The viewer's sound (language, audio only) and captions (shown or hidden). */
  readonly audio = new AudioTracks()
  readonly captions = new SubtitleTracks()
  /** Going back in the live stream and to its live edge again; undefined for a recording. */
  readonly rewind: LiveRewind | undefined

  constructor (video: HTMLVideoElement, root: HTMLElement, options: PlayerOptions, onView: (view: PlayerView) => void) {
    this.#video = video
    this.#root = root
    this.#options = options
    this.#onView = onView
    this.#pool = new RelayPool({ relays: options.relays })
    // Signed windows cover live segments only; a recording is checked from its CID, which the page took
    // from the room's signed recording announcement.
    const keys = (options.roomKey ?? '').split(/\s+/).filter(key => key !== '')
    const { recording } = options
    if (recording === undefined) {
      this.#book = new AnnouncementBook(options.room, keys)
      // Parts are checked and kept in either mode: the viewer is offered the choice once they come.
      this.#parts = new PartBook(options.room, keys)
      const live = new LivePlaylists(this.#pool, this.#book, this.#trust, { shapeMaster: this.audio.shapeMaster, parts: this.#parts, lowLatency: (options.latency ?? 'lowest') === 'lowest' })
      this.#source = live
      this.rewind = new LiveRewind(live, video, () => this.#hls, { restartAt: position => { this.retry(position) }, play: () => { this.play() } })
    } else {
      this.rewind = undefined
      this.#book = undefined
      this.#parts = undefined
      this.#source = new RecordingPlaylists(this.#pool, recording.cid, recording, this.#trust)
    }
    this.#ledger = new SegmentLedger(() => { this.#emitStats() })
    this.#view = { state: 'connecting', message: `Connecting to ${options.room}…`, retry: false }
    video.muted = options.muted ?? true
    this.#listenToMedia()
    this.#announce()
    this.#start()
    this.#ticker = setInterval(() => {
      this.#checkSignal()
      this.rewind?.keepLive(this.#bufferAhead())
    }, 1000)
    if ((options.p2p ?? 'on') === 'on' && options.recording === undefined && isRoomSlug(options.room)) this.#startSwarm()
  }

  get view (): PlayerView {
    return this.#view
  }

  stats (): PlayerStats {
    return { ...this.#playback(), ...this.#ledger.snapshot() }
  }

  /** The renditions on offer, best first, once the master playlist is in. */
  /** True once the origin's signed parts came: the viewer may choose the latency (`PlayerOptions.latency`). */
  get lowLatencyOffered (): boolean {
    return this.#parts?.offered === true
  }

  qualities (): QualityOption[] {
    const levels = this.#hls?.levels ?? []
    return levels
      .map((level, index) => ({ index, label: levelLabel(level), bitrate: level.bitrate }))
      .sort((a, b) => b.bitrate - a.bitrate)
      .map(({ index, label }) => ({ index, label }))
  }

  /** -1 when the player picks the rendition, else the hls.js level index the viewer chose. */
  get quality (): number {
    const hls = this.#hls
    return hls === undefined || hls.autoLevelEnabled ? -1 : hls.nextLevel
  }

  /** Picks a rendition (-1: automatic). Switches at the next segment, so playback does not stall. */
  setQuality (index: number): void {
    const hls = this.#hls
    if (hls === undefined || index < -1 || index >= hls.levels.length) return
    hls.nextLevel = index
  }

  /** Keeps the viewer's sound; a language switches in place, audio only on or off loads the room again. */
  setAudio (choice: AudioChoice): void {
    if (this.audio.choose(choice)) this.retry()
    else if (this.#hls !== undefined) this.audio.apply(this.#hls)
  }

  /** The room's thumbnail on the preferred relay (shown instead of the picture when playing audio only). */
  thumbnailUrl (at: number): string | undefined {
    const relay = this.#pool.order()[0]
    return relay === undefined ? undefined : relayUrl(relay, relayRoutes.thumbnail(this.#options.room, at))
  }

  #playback (): PlaybackStats {
    const hls = this.#hls
    const playing = hls?.playingDate ?? null
    const bufferSeconds = this.#bufferAhead()
    const level = hls === undefined || hls.currentLevel < 0 ? undefined : hls.levels[hls.currentLevel]
    const estimate = hls?.bandwidthEstimate
    return {
      state: this.#view.state,
      latencyMs: playing === null || !this.#played ? null : Date.now() - playing.getTime(),
      catchUps: this.rewind?.catchUps ?? 0,
      bufferSeconds: Math.round(bufferSeconds * 10) / 10,
      bitrate: level?.bitrate ?? null,
      bandwidthEstimate: estimate === undefined || !Number.isFinite(estimate) ? null : Math.round(estimate),
      rendition: level === undefined ? null : levelLabel(level),
      auto: hls?.autoLevelEnabled ?? true,
      audioTrack: hls === undefined ? null : hls.audioTracks[hls.audioTrack]?.name ?? null,
      announcementsVerified: this.#book?.verified ?? 0,
      announcementsRefused: this.#book?.refused ?? 0,
      entriesRejected: this.#trust.entriesRejected,
      keyChecked: (this.#book?.keys.length ?? 0) > 0,
      hashing: hasWebCryptoDigest() ? 'webcrypto' : 'js',
      p2p: this.#p2p,
      peers: this.#swarm?.stats() ?? noPeers()
    }
  }

  #emitStats (): void {
    this.#root.dispatchEvent(new CustomEvent('hivecast:stats', { detail: this.stats(), bubbles: true, composed: true }))
  }

  /** Seconds buffered ahead of the playhead. */
  #bufferAhead (): number {
    const video = this.#video
    for (let i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= video.currentTime + 0.1 && video.buffered.end(i) > video.currentTime) {
        return video.buffered.end(i) - video.currentTime
      }
    }
    return 0
  }

  /** Loads the viewer swarm's chunk; without it (or until it runs) segments come from relays. */
  #startSwarm (): void {
    this.#p2p = 'starting'
    const stats = (): void => { this.#emitStats() }
    loadPeerSource({
      room: this.#options.room,
      relays: [...this.#pool.relays],
      received: () => {
        const bySource = this.#ledger.snapshot().bytesBySource
        const peers = bySource[PEERS_SOURCE] ?? 0
        return { relays: Object.values(bySource).reduce((a, b) => a + b, 0) - peers, peers }
      },
      onChange: stats,
      log: line => { console.debug(`hivecast p2p: ${line}`) }
    }).then(swarm => {
      if (this.#destroyed) {
        swarm.stop()
        return
      }
      this.#swarm = swarm
      this.#p2p = 'on'
      stats()
    }, (error: unknown) => {
      if (this.#destroyed) return
      this.#p2p = 'unavailable'
      console.info(`hivecast: sharing with other viewers is unavailable, playing from relays only: ${error instanceof Error ? error.message : String(error)}`)
      stats()
    })
  }

  /** Drops the current attempt and loads the room again from the best relay (at `startPosition` s, else live). */
  retry (startPosition = -1): void {
    if (this.#destroyed) return
    this.#stopHls()
    this.#played = false
    this.#mediaRecoveries = 0
    this.#setView('connecting', `Connecting to ${this.#options.room}…`)
    this.#start(startPosition)
  }

  /** Starts playback after the browser refused to autoplay. */
  play (): void {
    this.#video.play().catch((error: unknown) => { this.#playRefused(error) })
  }

  destroy (): void {
    this.#destroyed = true
    clearInterval(this.#ticker)
    this.#stopHls()
    this.#swarm?.stop()
    this.#media.abort()
    this.#video.removeAttribute('src')
    this.#video.load()
  }

  #start (startPosition = -1): void {
    const { room, recording } = this.#options
    if (recording !== undefined && !isDirectoryCid(recording.cid)) {
      this.#setView('error', `"${recording.cid.slice(0, 80)}" is not a recording's CID (a CIDv1 UnixFS directory). Check the link you followed.`)
      return
    }
    if (!isRoomSlug(room)) {
      this.#setView('error', `"${room}" is not a room name (lowercase letters, digits and dashes). Check the link you followed.`)
      return
    }
    if (this.#pool.relays.length === 0) {
      this.#setView('error', 'No relay address is configured for this player. The page needs at least one http(s) relay URL.')
      return
    }
    if (!Hls.isSupported()) {
      this.#setView('error', 'This browser cannot play this stream (it lacks Media Source Extensions). Try a current Firefox, Chrome, Edge or Safari.')
      return
    }
    const lowest = (this.#options.latency ?? 'lowest') === 'lowest' && this.#options.recording === undefined
    const hls = new Hls({
      pLoader: createPlaylistLoader(this.#source),
      fLoader: createSegmentLoader(this.#pool, this.#ledger, this.#source, {
        source: () => this.#swarm,
        bufferAhead: () => this.#bufferAhead()
      }),
      // The ESM build has no inline worker; 1 s TS segments transmux cheaply on the main thread.
      enableWorker: false,
      // Used only where the playlists list parts, which they do only in the `lowest` latency mode.
      lowLatencyMode: lowest,
      // Set while the playlists list parts (below).
      maxLiveSyncPlaybackRate: 1,
      backBufferLength: 30,
      startPosition
    })
    this.#hls = hls
    this.captions.attach(hls)
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      if (this.#options.autoplay ?? true) this.play()
      else this.#setView('paused', 'Press play to start watching.')
    })
    hls.on(Hls.Events.ERROR, (_event, data) => { this.#onHlsError(hls, data) })
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => { this.audio.apply(hls) })
    hls.on(Hls.Events.LEVEL_UPDATED, (_event, data) => {
      const details = data.details
      this.#targetDuration = details.targetduration
      // Near the edge the buffer is too thin for LiveRewind's catch-up (it wants 4 s): while parts are
      // played, hls.js's own brings a viewer who fell behind (a slow part, a wait for another viewer)
      // back to the hold-back. It reads the setting at every check. Without parts LiveRewind does it.
      hls.config.maxLiveSyncPlaybackRate = lowest && (details.partList?.length ?? 0) > 0 ? LOW_LATENCY_CATCH_UP_RATE : 1
      if (details.endSN > this.#newestSeq) {
        this.#newestSeq = details.endSN
        this.#lastGrowth = performance.now()
        if (this.#view.state === 'no-signal' && this.#played) this.#setView('buffering', 'Buffering: the signal is back, loading the next segment…')
      }
    })
    hls.attachMedia(this.#video)
    this.#lastGrowth = performance.now()
    // Names the player answers itself from verified data (verified-names.ts), never a relay's URL.
    hls.loadSource(recording === undefined ? LIVE_MASTER : RECORDING_MASTER)
  }

  /** Buffering for longer than the origin takes to send a segment means the signal is gone, not slow. */
  #checkSignal (): void {
    // A recording does not grow: a slow segment is just slow.
    if (this.#destroyed || this.#view.state !== 'buffering' || this.#options.recording !== undefined) return
    const quiet = performance.now() - this.#lastGrowth
    if (quiet > Math.max(MIN_STALL_MS, STALL_TARGET_DURATIONS * this.#targetDuration * 1000)) {
      this.#setView('no-signal', `Waiting for signal: the room's origin has sent nothing new for ${Math.round(quiet / 1000)} s. Playback resumes by itself when it does.`)
    }
  }

  #stopHls (): void {
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#hls?.destroy()
    this.#hls = undefined
  }

  #listenToMedia (): void {
    const video = this.#video
    const signal = this.#media.signal
    video.addEventListener('playing', () => {
      this.#played = true
      this.#setView('live', this.#options.recording === undefined ? 'Live' : 'Playing the recording')
    }, { signal })
    video.addEventListener('waiting', () => {
      if (this.#view.state === 'error' || this.#view.state === 'offline' || this.#view.state === 'no-signal') return
      if (this.#played) this.#setView('buffering', 'Buffering: waiting for the next segment from the relays…')
      else this.#setView('connecting', `Connecting to ${this.#options.room}…`)
    }, { signal })
    video.addEventListener('pause', () => {
      if (this.#view.state === 'error' || video.ended) return
      this.rewind?.paused()
      this.#setView('paused', 'Paused. Press play to continue.')
    }, { signal })
    video.addEventListener('ended', () => {
      this.#setView('ended', this.#options.recording === undefined ? 'The stream has ended. Thank you for watching.' : 'End of the recording.')
    }, { signal })
  }

  #playRefused (error: unknown): void {
    if (this.#destroyed) return
    // Sound is what browsers refuse to autoplay; start muted rather than not at all.
    if (error instanceof DOMException && error.name === 'NotAllowedError' && !this.#video.muted) {
      this.#video.muted = true
      this.#video.play().catch(() => { this.#setView('paused', 'Press play to start watching.') })
      return
    }
    if (error instanceof DOMException && error.name === 'AbortError') return
    this.#setView('paused', 'Press play to start watching.')
  }

  #onHlsError (hls: Hls, data: ErrorData): void {
    if (this.#destroyed || hls !== this.#hls) return
    if (!data.fatal) {
      if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR && this.#played) {
        this.#setView('buffering', 'Buffering: waiting for the next segment from the relays…')
      }
      return
    }
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.#mediaRecoveries < 2) {
      this.#mediaRecoveries++
      hls.recoverMediaError()
      return
    }
    const room = this.#options.room
    const relays = this.#pool.relays.length
    let state: PlayerState = 'error'
    let message: string
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      message = 'The video could not be decoded. Reload the page, or try another browser.'
    } else if (this.#options.recording !== undefined && data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && data.response?.code === 404) {
      message = `This recording is not on ${relays === 1 ? 'its relay' : `any of its ${relays} relays`}: only relays that pin recordings (--archive) serve them, once they have fetched it. Try again in a minute.`
    } else if (data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && (data.response?.code === 404 || data.response?.code === 503)) {
      state = 'no-signal'
      message = `Waiting for signal: room ${room} is not on air on ${relays === 1 ? 'its relay' : `any of its ${relays} relays`} yet. Checking again every ${RETRY_AFTER_MS / 1000} s; keep this page open.`
    } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      state = 'offline'
      message = `Offline: no relay delivered the stream (${relays === 1 ? 'one relay' : `${relays} relays`} tried). Check your connection; trying again in ${RETRY_AFTER_MS / 1000} s.`
    } else {
      message = `Playback stopped (${data.details}). Press Retry, or reload the page.`
    }
    this.#setView(state, message, true)
    this.#stopHls()
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      this.#retryTimer = setTimeout(() => { this.retry() }, RETRY_AFTER_MS)
    }
  }

  #setView (state: PlayerState, message: string, retry = false): void {
    if (this.#destroyed) return
    const changed = state !== this.#view.state || message !== this.#view.message
    this.#view = { state, message, retry }
    if (changed) this.#announce()
  }

  #announce (): void {
    this.#onView(this.#view)
    const detail: PlayerStateEventDetail = { state: this.#view.state, message: this.#view.message }
    this.#root.dispatchEvent(new CustomEvent('hivecast:state', { detail, bubbles: true, composed: true }))
  }
}
