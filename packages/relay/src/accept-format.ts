/**
 * Which trustless-gateway response a request asks for: `?format=` first (the spec: "When both `Accept`
 * HTTP header and `format` query parameter are present, `format` SHOULD take precedence"), else the
 * `Accept` media type with the highest q-value (RFC 9110 12.5.1; q=0 means "not acceptable"). CARs are
 * CARv1 only: a CAR asked for with another `version` is not acceptable.
 */

export const RAW_TYPE = 'application/vnd.ipld.raw'
export const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'

/** `raw`: one block; `car`: a CAR; `plain`: the bytes as a file; `car-version`: only a CAR version not offered. */
export type AcceptedFormat = 'raw' | 'car' | 'plain' | 'car-version' | { unknown: string }

export function acceptedFormat (format: string | null, accept: string | undefined, carVersion: string | null): AcceptedFormat {
  if (carVersion !== null && carVersion !== '1') return 'car-version'
  if (format === 'raw' || format === 'car') return format
  if (format !== null) return { unknown: format }
  let best: { kind: 'raw' | 'car', q: number } | undefined
  let otherCar = false
  for (const item of (accept ?? '').split(',')) {
    const [type = '', ...params] = item.split(';').map(p => p.trim().toLowerCase())
    if (type !== RAW_TYPE && type !== CAR_MEDIA_TYPE) continue
    const param = (name: string): string | undefined => params.find(p => p.startsWith(`${name}=`))?.slice(name.length + 1)
    const q = Number(param('q') ?? '1')
    if (!(q > 0)) continue
    const version = param('version')
    if (type === CAR_MEDIA_TYPE && version !== undefined && version !== '1') {
      otherCar = true
      continue
    }
    const kind = type === RAW_TYPE ? 'raw' : 'car'
    if (best === undefined || q > best.q) best = { kind, q }
  }
  return best?.kind ?? (otherCar ? 'car-version' : 'plain')
}
