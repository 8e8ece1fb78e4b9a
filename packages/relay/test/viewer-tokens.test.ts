import assert from 'node:assert/strict'
import { test } from 'node:test'
import { newViewerToken } from '@hivecast/shared'
import { ViewerTokens } from '../src/viewer-tokens.ts'

test('a token counts until --viewer-ttl after it was last seen, and frees its address\'s place then', () => {
  const tokens = new ViewerTokens({ ttlMs: 30_000, perAddress: 2 })
  const [a, b, c] = [newViewerToken(), newViewerToken(), newViewerToken()]
  tokens.seeToken('hall', a, '198.18.0.1', 0)
  tokens.seeToken('hall', b, '198.18.0.1', 10_000)
  tokens.seeToken('hall', c, '198.18.0.1', 20_000)
  assert.equal(tokens.hashes('hall', 20_000).length, 2, 'the third token of the address is over the cap')
  assert.deepEqual(tokens.refused(), { 'over-address-cap': 1 })
  tokens.seeToken('hall', a, '198.18.0.1', 25_000)
  assert.equal(tokens.hashes('hall', 39_000).length, 2, 'seen again: still counted')
  assert.equal(tokens.hashes('hall', 40_000).length, 1, 'b expired 30 s after it was seen')
  tokens.seeToken('hall', c, '198.18.0.1', 41_000)
  assert.equal(tokens.hashes('hall', 41_000).length, 2, 'the expired token\'s place is free again')
})

test('no token is no viewer; a malformed one is counted; the table is bounded; HLS players count by address', () => {
  const tokens = new ViewerTokens({ ttlMs: 30_000, perAddress: 100, maxTracked: 3 })
  tokens.seeToken('hall', null, '198.18.0.1', 0)
  tokens.seeToken('hall', 'not a token', '198.18.0.1', 0)
  for (let i = 0; i < 5; i++) tokens.seeToken('hall', newViewerToken(), `198.18.0.${i + 10}`, 0)
  assert.equal(tokens.hashes('hall', 0).length, 3)
  assert.deepEqual(tokens.refused(), { malformed: 1, full: 2 })
  const players = new ViewerTokens({ ttlMs: 30_000, perAddress: 100 })
  players.seeAddress('hall', '198.18.0.1', 0)
  players.seeAddress('hall', '198.18.0.1', 1_000)
  players.seeAddress('hall', '198.18.0.2', 1_000)
  assert.equal(players.hashes('hall', 1_000).length, 2)
})
