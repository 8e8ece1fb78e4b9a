/**
 * The HyperLogLog sketch of a room's viewer tokens (see shared viewer-count.ts for why): a token's
 * 64-bit hash picks one of SKETCH_REGISTERS registers with its first 10 bits and keeps there the
 * largest rank (leading zeros + 1) of its other 54 bits. Sketches merge by taking each register's
 * maximum, so relays' sketches give the union without the tokens; small counts use linear counting.
 */
import { createHash } from 'node:crypto'
import { MAX_SKETCH_RANK, SKETCH_REGISTERS } from '@hivecast/shared'

const INDEX_BITS = 10
const REMAINDER_BITS = 64 - INDEX_BITS
const ALPHA = 0.7213 / (1 + 1.079 / SKETCH_REGISTERS)

/** A token's 64-bit hash as 16 hex digits (domain-separated, so the hash is of no use elsewhere). */
export function tokenHash (token: string): string {
  return createHash('sha256').update(`hivecast/viewer/v1\n${token}`).digest('hex').slice(0, 16)
}

export class ViewerSketch {
  readonly registers: Uint8Array

  constructor (registers = new Uint8Array(SKETCH_REGISTERS)) {
    this.registers = registers
  }

  /** Decodes a verified message's sketch; undefined when a register is out of range. */
  static decode (text: string): ViewerSketch | undefined {
    const bytes = Buffer.from(text, 'base64url')
    if (bytes.length !== SKETCH_REGISTERS || bytes.some(rank => rank > MAX_SKETCH_RANK)) return undefined
    return new ViewerSketch(new Uint8Array(bytes))
  }

  static of (hashes: Iterable<string>): ViewerSketch {
    const sketch = new ViewerSketch()
    for (const hash of hashes) sketch.add(hash)
    return sketch
  }

  add (hash: string): void {
    const value = BigInt(`0x${hash}`)
    const index = Number(value >> BigInt(REMAINDER_BITS))
    const remainder = value & ((1n << BigInt(REMAINDER_BITS)) - 1n)
    const rank = remainder === 0n ? REMAINDER_BITS + 1 : REMAINDER_BITS - remainder.toString(2).length + 1
    if (rank > this.registers[index]!) this.registers[index] = rank
  }

  merge (other: ViewerSketch): void {
    for (let i = 0; i < SKETCH_REGISTERS; i++) {
      if (other.registers[i]! > this.registers[i]!) this.registers[i] = other.registers[i]!
    }
  }

  estimate (): number {
    let sum = 0
    let empty = 0
    for (const rank of this.registers) {
      sum += 2 ** -rank
      if (rank === 0) empty++
    }
    const raw = ALPHA * SKETCH_REGISTERS * SKETCH_REGISTERS / sum
    if (raw <= 2.5 * SKETCH_REGISTERS && empty > 0) return Math.round(SKETCH_REGISTERS * Math.log(SKETCH_REGISTERS / empty))
    return Math.round(raw)
  }

  encode (): string {
    return Buffer.from(this.registers).toString('base64url')
  }
}
