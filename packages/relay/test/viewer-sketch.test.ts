import assert from 'node:assert/strict'
import { test } from 'node:test'
import { newViewerToken } from '@hivecast/shared'
import { tokenHash, ViewerSketch } from '../src/viewer-sketch.ts'

const hashes = (n: number): string[] => Array.from({ length: n }, () => tokenHash(newViewerToken()))

test('the sketch estimates a count within a few percent, small counts exactly enough', () => {
  for (const n of [1, 5, 40, 1_000, 20_000]) {
    const estimate = ViewerSketch.of(hashes(n)).estimate()
    assert.ok(Math.abs(estimate - n) <= Math.max(1, n * 0.1), `${n} tokens estimated as ${estimate}`)
  }
})

test('merged sketches estimate the union: shared tokens count once', () => {
  const shared = hashes(3_000)
  const a = ViewerSketch.of([...shared, ...hashes(1_000)])
  const b = ViewerSketch.of([...shared, ...hashes(1_000)])
  a.merge(b)
  const estimate = a.estimate()
  assert.ok(Math.abs(estimate - 5_000) <= 500, `union of 5000 estimated as ${estimate} (a sum would be 8000)`)
})

test('a sketch survives encoding; a register out of range is refused', () => {
  const sketch = ViewerSketch.of(hashes(500))
  assert.deepEqual(ViewerSketch.decode(sketch.encode())?.registers, sketch.registers)
  const bad = new Uint8Array(sketch.registers)
  bad[7] = 200
  assert.equal(ViewerSketch.decode(Buffer.from(bad).toString('base64url')), undefined)
})
