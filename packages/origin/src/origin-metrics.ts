/**
 * The origin's Prometheus metrics (`GET /metrics`), in a registry of its own so that several origins
 * in one process (tests) do not share counters. Every series carries the room as a label. Counts kept
 * elsewhere (restarts, drops, refusals) are read when Prometheus scrapes.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { FfmpegProgress } from './ffmpeg-progress.ts'
import type { OriginStatus } from './origin.ts'

export interface MetricSources {
  ffmpegUp: () => boolean
  ffmpegRestarts: () => number
  peers: () => number
  inputUp: () => boolean
  dropped: () => OriginStatus['dropped']
  rtmpRefused: () => number
}

export class OriginMetrics {
  readonly registry = new Registry()
  readonly #segments: Counter<'rendition'>
  readonly #bytes: Counter<'rendition'>
  readonly #latency: Histogram<'rendition'>
  readonly #partLatency: Histogram<'rendition'>
  readonly #fps: Gauge
  readonly #speed: Gauge

  constructor (room: string, sources: MetricSources) {
    const registers = [this.registry]
    this.registry.setDefaultLabels({ room })
    this.#segments = new Counter({ name: 'hivecast_origin_segments_published_total', help: 'Segments stored and announced', labelNames: ['rendition'], registers })
    this.#bytes = new Counter({ name: 'hivecast_origin_bytes_published_total', help: 'Bytes of segments stored and announced', labelNames: ['rendition'], registers })
    this.#latency = new Histogram({
      name: 'hivecast_origin_publish_latency_seconds',
      help: 'From ffmpeg listing a finished segment to its announcement being published',
      labelNames: ['rendition'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
    this.#partLatency = new Histogram({
      name: 'hivecast_origin_part_publish_latency_seconds',
      help: 'From reading the bytes that complete a part in ffmpeg\'s segment file to its announcement being published',
      labelNames: ['rendition'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers
    })
    new Counter({
      name: 'hivecast_origin_ffmpeg_restarts_total',
      help: 'Times ffmpeg exited and was started again',
      registers,
      collect () { this.reset(); this.inc(sources.ffmpegRestarts()) }
    })
    new Gauge({
      name: 'hivecast_origin_ffmpeg_up',
      help: '1 while ffmpeg runs',
      registers,
      collect () { this.set(sources.ffmpegUp() ? 1 : 0) }
    })
    new Gauge({
      name: 'hivecast_origin_input_up',
      help: '1 while segments arrive from the input, 0 while waiting for signal',
      registers,
      collect () { this.set(sources.inputUp() ? 1 : 0) }
    })
    new Gauge({
      name: 'hivecast_origin_peers',
      help: 'Connected libp2p peers',
      registers,
      collect () { this.set(sources.peers()) }
    })
    new Counter({
      name: 'hivecast_origin_dropped_total',
      help: 'Bad input skipped and counted, by kind',
      labelNames: ['what'],
      registers,
      collect () {
        const d = sources.dropped()
        this.reset()
        this.inc({ what: 'playlist_entries' }, d.playlistEntries)
        this.inc({ what: 'stream_bytes' }, d.streamBytes)
        this.inc({ what: 'segments' }, d.segments)
        this.inc({ what: 'parts' }, d.parts)
        this.inc({ what: 'publish_errors' }, d.publishErrors)
        this.inc({ what: 'thumbnails' }, d.thumbnails)
      }
    })
    new Counter({
      name: 'hivecast_origin_rtmp_refused_total',
      help: 'RTMP connections turned away (wrong stream key, not RTMP, too many or too slow before publish)',
      registers,
      collect () { this.reset(); this.inc(sources.rtmpRefused()) }
    })
    this.#fps = new Gauge({ name: 'hivecast_origin_ingest_fps', help: 'Frames per second ffmpeg encodes (from -progress)', registers })
    this.#speed = new Gauge({ name: 'hivecast_origin_ffmpeg_speed', help: 'ffmpeg speed relative to real time (from -progress)', registers })
  }

  published (rendition: string, size: number, finishedAt: number, publishedAt: number): void {
    this.#segments.inc({ rendition })
    this.#bytes.inc({ rendition }, size)
    this.#latency.observe({ rendition }, Math.max(0, publishedAt - finishedAt) / 1000)
  }

  partPublished (rendition: string, seenAt: number, publishedAt: number): void {
    this.#partLatency.observe({ rendition }, Math.max(0, publishedAt - seenAt) / 1000)
  }

  progress (p: FfmpegProgress): void {
    this.#fps.set(p.fps)
    this.#speed.set(p.speed)
  }

  /** ffmpeg is down: its last rates no longer describe anything. */
  reset (): void {
    this.#fps.set(0)
    this.#speed.set(0)
  }

  async text (): Promise<{ contentType: string, body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
