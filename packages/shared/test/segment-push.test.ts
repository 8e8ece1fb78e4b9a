import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ORIGIN_PUSH_FANOUT, RELAY_PUSH_FANOUT, pushChildren, pushDepth, pushOrder } from '@hivecast/shared/node'

const relays = Array.from({ length: 50 }, (_, i) => `12D3KooWrelay${i}`)

test('every relay has one parent in the push tree, whatever the CID, and the tree is shallow', () => {
  for (const cid of ['bafkreia', 'bafkreib', 'bafkreic']) {
    const order = pushOrder(cid, relays)
    assert.equal(order.length, relays.length)
    const parents = new Map<string, number>()
    for (let position = -1; position < order.length; position++) {
      for (const child of pushChildren(order, position)) parents.set(child, (parents.get(child) ?? 0) + 1)
    }
    assert.deepEqual([...parents.values()].filter(n => n !== 1), [], 'each relay is offered a block by exactly one node')
    assert.equal(parents.size, relays.length)
    assert.deepEqual(pushChildren(order, -1), order.slice(0, ORIGIN_PUSH_FANOUT))
    // 50 relays, one from the origin and two from each relay: 6 hops at most.
    assert.equal(Math.max(...order.map((_, p) => pushDepth(p))), 6)
    for (const [p, id] of order.entries()) {
      for (const child of pushChildren(order, p)) assert.equal(pushDepth(order.indexOf(child)), pushDepth(order.indexOf(id)) + 1)
    }
  }
  assert.ok(pushChildren(pushOrder('x', relays), 0).length <= RELAY_PUSH_FANOUT)
})

test('the order is the same on every node and changes from CID to CID', () => {
  assert.deepEqual(pushOrder('bafkreia', relays), pushOrder('bafkreia', [...relays].reverse()))
  const firsts = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(c => pushOrder(`bafkrei${c}`, relays)[0]))
  assert.ok(firsts.size >= 5, `the origin's first hop changes with the CID: ${firsts.size} different of 8`)
  assert.deepEqual(pushOrder('bafkreia', ['b', 'a', 'b']), pushOrder('bafkreia', ['a', 'b']), 'duplicates count once')
})
