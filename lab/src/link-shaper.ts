/**
 * Link speeds with `tc`: a token bucket (tbf) as the root qdisc of one end of a veth pair limits what
 * leaves through that end, so a link is shaped both ways by shaping each end. netem is not in this
 * kernel, so links have bandwidth limits but no added delay.
 */
import { sh } from './namespaces.ts'

/** Queue at most this long behind the bucket before dropping, as a home router's buffer would. */
const QUEUE_MS = 200

/** Caps what leaves `dev` (in namespace `ns`) at `mbit` Mbit/s; replaces an earlier cap. */
export async function capEgress (ns: string, dev: string, mbit: number): Promise<void> {
  const bytesPerSecond = mbit * 125_000
  // At least 10 ms of data per burst (the kernel's timer granularity) and a couple of full packets.
  const burst = Math.max(Math.round(bytesPerSecond / 100), 4_000)
  await sh('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(mbit * 1000)}kbit`, 'burst', String(burst), 'latency', `${QUEUE_MS}ms`])
}

/** A link shaped both ways: `up` leaves through `a`, `down` through `b`. */
export async function capLink (a: { ns: string, dev: string }, b: { ns: string, dev: string }, upMbit: number, downMbit: number): Promise<void> {
  await capEgress(a.ns, a.dev, upMbit)
  await capEgress(b.ns, b.dev, downMbit)
}

/** Bytes that left `dev` in `ns` so far (the kernel's counter, headers included). */
export async function sentBytes (ns: string, dev: string): Promise<number> {
  return Number((await sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/statistics/tx_bytes`])).trim())
}
