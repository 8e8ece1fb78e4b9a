/** A small SVG line chart of a series over the last minutes: no axes, the latest value and the peak. */
import type { ComponentChildren } from 'preact'

export interface Sample { at: number, value: number }

export function Sparkline (props: { samples: Sample[], spanMs: number, label: string, format: (value: number) => string }): ComponentChildren {
  const { samples, spanMs, label, format } = props
  const width = 300
  const height = 60
  const end = samples.at(-1)?.at ?? Date.now()
  // Until the page has watched for spanMs, the samples it has fill the width.
  const shown = Math.min(spanMs, Math.max(1, end - (samples[0]?.at ?? end)))
  const peak = Math.max(1, ...samples.map(s => s.value))
  const points = samples.map(s => `${((1 - (end - s.at) / shown) * width).toFixed(1)},${(height - 4 - (s.value / peak) * (height - 8)).toFixed(1)}`)
  const latest = samples.at(-1)?.value
  const area = points.length > 1 ? `M${points[0]} L${points.slice(1).join(' L')} L${width},${height - 4} L0,${height - 4} Z` : ''
  return (
    <figure class="spark">
      <figcaption><span>{label}</span><strong>{latest === undefined ? '–' : format(latest)}</strong></figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={`${label} over the last ${Math.round(spanMs / 60_000)} minutes, peak ${format(peak)}`}>
        <line x1="0" y1={height - 4} x2={width} y2={height - 4} class="spark-base" />
        {points.length > 1 && <path d={area} class="spark-area" />}
        {points.length > 1 && <polyline points={points.join(' ')} class="spark-line" />}
      </svg>
      <span class="spark-note">{shown < spanMs ? `last ${Math.max(1, Math.round(shown / 1000))} s` : `last ${Math.round(spanMs / 60_000)} min`} · peak {format(peak)}</span>
    </figure>
  )
}
