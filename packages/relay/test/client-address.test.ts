/** Which address the relay limits by: X-Forwarded-For only from a trusted proxy, its rightmost untrusted hop. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertTrustedProxy, TrustedProxies } from '../src/client-address.ts'

test('X-Forwarded-For names the client only when a trusted proxy sent it, rightmost untrusted hop first', () => {
  const proxies = new TrustedProxies(['127.0.0.1', '10.0.0.0/8'])
  assert.equal(proxies.clientAddress('127.0.0.1', '203.0.113.9'), '203.0.113.9')
  assert.equal(proxies.clientAddress('::ffff:127.0.0.1', '203.0.113.9'), '203.0.113.9', 'a dual-stack socket address is its IPv4 address')
  assert.equal(proxies.clientAddress('127.0.0.1', '198.51.100.1, 203.0.113.9, 10.1.2.3'), '203.0.113.9', 'the hop a client wrote itself (leftmost) is not believed')
  assert.equal(proxies.clientAddress('192.0.2.7', '203.0.113.9'), '192.0.2.7', 'from anyone else the header is ignored')
  assert.equal(proxies.clientAddress('127.0.0.1', undefined), '127.0.0.1')
  assert.equal(proxies.clientAddress('127.0.0.1', 'garbage, 10.1.2.3'), '10.1.2.3', 'garbage: the last trusted hop')
  assert.equal(new TrustedProxies().clientAddress('127.0.0.1', '203.0.113.9'), '127.0.0.1', 'no proxies configured: never believed')
})

test('a --trusted-proxy value must be an address or a CIDR range', () => {
  for (const good of ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']) assert.equal(assertTrustedProxy(good), good)
  for (const bad of ['localhost', '10.0.0.0/33', '1.2.3.4/8/8', '10.0.0.0/x', '']) {
    assert.throws(() => assertTrustedProxy(bad), { code: 'INVALID_OPTION', message: /is not an IP address or CIDR range, e\.g\. 127\.0\.0\.1/ })
  }
})
