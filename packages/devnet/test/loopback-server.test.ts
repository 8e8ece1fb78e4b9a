/**
 * Ports picked for services that are told theirs before they listen: never in the kernel's ephemeral
 * range (where another process's outgoing connection could take one first), never one twice, and free.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { freeTcpPort, freeUdpPort } from '../src/loopback-server.ts'

test('picked ports are below the ephemeral range, distinct, and free to listen on', async () => {
  const [ephemeralFrom] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number)
  assert.ok(Number.isInteger(ephemeralFrom), 'the kernel states its ephemeral range')
  const tcp: number[] = []
  for (let i = 0; i < 40; i++) tcp.push(await freeTcpPort())
  const udp: number[] = []
  for (let i = 0; i < 10; i++) udp.push(await freeUdpPort())
  for (const port of [...tcp, ...udp]) assert.ok(port > 1024 && port < ephemeralFrom!, `port ${port} is below the ephemeral range (from ${ephemeralFrom})`)
  assert.equal(new Set(tcp).size, tcp.length, `no TCP port handed out twice: ${tcp.join(', ')}`)
  assert.equal(new Set(udp).size, udp.length, `no UDP port handed out twice: ${udp.join(', ')}`)
  const server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject).listen(tcp.at(-1), '127.0.0.1', resolve) })
  await new Promise<void>(resolve => server.close(() => { resolve() }))
})
