/**
 * What a libp2p node moves: bytes in and out over every libp2p connection, bytes out per protocol, and
 * bitswap blocks sent and received. It is the libp2p/helia `Metrics` hook, given to the node at
 * creation: libp2p hands it each connection and each negotiated protocol stream (counted here), and
 * bitswap reports its blocks through the counters it registers (it registers received-block counters
 * too but never updates them: a relay counts those itself, `blockReceived`). Everything else libp2p
 * registers is kept as plain numbers and not published.
 */
import type { CalculatedMetricOptions, Counter, CounterGroup, Histogram, HistogramGroup, Metric, MetricGroup, Metrics, MultiaddrConnection, StopTimer, Stream, Summary, SummaryGroup } from '@libp2p/interface'

/** Bitswap's own counter (helia's @helia/bitswap) of the blocks it sent. */
const BITSWAP_SENT_BLOCKS = 'helia_bitswap_sent_blocks_total'

export interface P2PTrafficTotals {
  /** Bytes read from and written to libp2p connections (encrypted frames, all protocols). */
  bytesIn: number
  bytesOut: number
  /** Blocks bitswap sent to peers. */
  blocksSent: number
  /** Blocks fetched from peers, by any path (a relay's segment push or bitswap). */
  blocksReceived: number
  /**
   * Bytes written to protocol streams, per protocol (before encryption and muxer framing): what the
   * upload is spent on (segment push, bitswap, gossipsub, ...).
   */
  bytesOutByProtocol: Record<string, number>
}

const noTimer: StopTimer = () => {}

export class P2PTraffic implements Metrics {
  #bytesIn = 0
  #bytesOut = 0
  #blocksReceived = 0
  readonly #outByProtocol = new Map<string, number>()
  /** Registered counters and metrics: name, or name + group key, to value. */
  readonly #values = new Map<string, number>()

  totals (): P2PTrafficTotals {
    return {
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      blocksSent: this.#values.get(BITSWAP_SENT_BLOCKS) ?? 0,
      blocksReceived: this.#blocksReceived,
      bytesOutByProtocol: Object.fromEntries(this.#outByProtocol)
    }
  }

  /** A block came in from a peer (it was not in the store before it was fetched). */
  blockReceived (): void {
    this.#blocksReceived++
  }

  trackMultiaddrConnection (maConn: MultiaddrConnection): void {
    maConn.addEventListener('message', event => { this.#bytesIn += event.data.byteLength })
    // Outgoing data has no event: count what is handed to the connection to send.
    const send = maConn.send.bind(maConn)
    maConn.send = data => {
      this.#bytesOut += data.byteLength
      return send(data)
    }
  }

  trackProtocolStream (stream: Stream): void {
    const protocol = stream.protocol
    const send = stream.send.bind(stream)
    stream.send = data => {
      this.#outByProtocol.set(protocol, (this.#outByProtocol.get(protocol) ?? 0) + data.byteLength)
      return send(data)
    }
  }

  readonly registerMetric = ((name: string, options?: Partial<CalculatedMetricOptions>): Metric | undefined =>
    options?.calculate === undefined ? this.#metric(name) : undefined) as Metrics['registerMetric']

  readonly registerCounter = ((name: string, options?: Partial<CalculatedMetricOptions>): Counter | undefined =>
    options?.calculate === undefined ? this.#metric(name) : undefined) as Metrics['registerCounter']

  readonly registerMetricGroup = ((name: string, options?: Partial<CalculatedMetricOptions<Record<string, number>>>): MetricGroup | undefined =>
    options?.calculate === undefined ? this.#group(name) : undefined) as Metrics['registerMetricGroup']

  readonly registerCounterGroup = ((name: string, options?: Partial<CalculatedMetricOptions<Record<string, number>>>): CounterGroup | undefined =>
    options?.calculate === undefined ? this.#group(name) : undefined) as Metrics['registerCounterGroup']

  // Timings are not published: observations are dropped.
  readonly registerHistogram = ((): Histogram => ({ observe: () => {}, reset: () => {}, timer: () => noTimer })) as Metrics['registerHistogram']
  readonly registerHistogramGroup = ((): HistogramGroup => ({ observe: () => {}, reset: () => {}, timer: () => noTimer })) as Metrics['registerHistogramGroup']
  readonly registerSummary = ((): Summary => ({ observe: () => {}, reset: () => {}, timer: () => noTimer })) as Metrics['registerSummary']
  readonly registerSummaryGroup = ((): SummaryGroup => ({ observe: () => {}, reset: () => {}, timer: () => noTimer })) as Metrics['registerSummaryGroup']

  traceFunction<F> (_name: string, fn: F): F {
    return fn
  }

  createTrace (): undefined {
    return undefined
  }

  #add (key: string, delta: number): void {
    this.#values.set(key, (this.#values.get(key) ?? 0) + delta)
  }

  #metric (name: string): Metric & Counter {
    return {
      update: value => { this.#values.set(name, value) },
      increment: (value = 1) => { this.#add(name, value) },
      decrement: (value = 1) => { this.#add(name, -value) },
      reset: () => { this.#values.delete(name) },
      timer: () => noTimer
    }
  }

  #group (name: string): MetricGroup & CounterGroup {
    const each = (values: Record<string, number | true | undefined>, sign: number, set = false): void => {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined) continue
        const amount = value === true ? 1 : value
        if (set) this.#values.set(`${name}{${key}}`, amount)
        else this.#add(`${name}{${key}}`, sign * amount)
      }
    }
    return {
      update: values => { each(values, 1, true) },
      increment: values => { each(values, 1) },
      decrement: values => { each(values, -1) },
      reset: () => { for (const key of [...this.#values.keys()]) if (key.startsWith(`${name}{`)) this.#values.delete(key) },
      timer: () => noTimer
    }
  }
}
