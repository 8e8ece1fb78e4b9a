import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ORIGIN_PUSH_FANOUT, RELAY_PUSH_FANOUT, livePushChildren, livePushDepth, livePushParent, pushChildren, pushDepth, pushOrder, pushParent } from '@hivecast/shared/node'

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

test('leaves come after every other relay, where the tree has no children; the rest keep their order', () => {
  const leaves = new Set([relays[0]!, relays[5]!, relays[9]!])
  for (const cid of ['bafkreia', 'bafkreib', 'bafkreic']) {
    const order = pushOrder(cid, relays, leaves)
    assert.deepEqual(new Set(order.slice(-leaves.size)), leaves)
    assert.deepEqual(order.slice(0, -leaves.size), pushOrder(cid, relays).filter(r => !leaves.has(r)))
    for (const leaf of leaves) assert.deepEqual(pushChildren(order, order.indexOf(leaf)), [], `leaf ${leaf} has no children`)
  }
})

test('a dead relay keeps its place and is skipped: its children are fed by the nearest live ancestor, nothing else changes', () => {
  const order = pushOrder('bafkreid', relays)
  const dead = new Set([order[0]!, order[4]!, order[9]!])
  const live = (relay: string): boolean => !dead.has(relay)
  const parents = new Map<string, string>()
  for (let position = -1; position < order.length; position++) {
    if (position >= 0 && !live(order[position]!)) continue
    for (const child of livePushChildren(order, position, live)) {
      assert.ok(live(child), `${child} is dead and offered a block`)
      assert.equal(parents.has(child), false, `${child} is offered the block twice`)
      parents.set(child, position < 0 ? 'origin' : order[position]!)
    }
  }
  assert.equal(parents.size, relays.length - dead.size, 'every live relay is offered the block once')
  for (const [child, parent] of parents) assert.equal(livePushParent(order, order.indexOf(child), live) ?? 'origin', parent, `${child}'s parent agrees`)
  // The origin still sends one copy: the first of the dead first hop's children feeds the other one.
  assert.deepEqual(livePushChildren(order, -1, live), [order[1]])
  assert.ok(livePushChildren(order, 1, live).includes(order[2]!))
  assert.equal(livePushParent(order, 2, live), order[1])
  // A relay away from the dead ones keeps its children.
  assert.deepEqual(livePushChildren(order, 2, live), pushChildren(order, 2))
  // Position 9's parent is 4, dead, whose parent is 1: 9's children are 1's, one level up.
  assert.equal(pushParent(order, 9), order[4])
  assert.equal(livePushParent(order, order.indexOf(pushChildren(order, 9)[0]!), live), order[1])
  assert.equal(livePushDepth(order, order.indexOf(pushChildren(order, 9)[0]!), live), pushDepth(order.indexOf(pushChildren(order, 9)[0]!)) - 3, 'three dead ancestors: 0, 4 and 9')
  // Nobody dead: the same tree as without liveness.
  for (let p = -1; p < order.length; p++) assert.deepEqual(livePushChildren(order, p, () => true), pushChildren(order, p))
})
