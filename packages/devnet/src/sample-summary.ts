/** Order statistics for benchmark samples: the machines are noisy, so medians and spreads, not means. */
export interface Summary {
  n: number
  min: number
  p50: number
  p90: number
  p99: number
  max: number
}

/** Nearest-rank percentile of sorted samples. */
function percentile (sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

export function summarize (samples: number[]): Summary {
  if (samples.length === 0) throw new Error('no samples to summarize')
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    n: sorted.length,
    min: sorted[0]!,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1)!
  }
}
