import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HivecastError, InvalidAddressError, errorCode, errorMessage, isHivecastError, parseHostPort } from '../src/index.ts'

test('a HivecastError carries its code, name, message and cause', () => {
  const cause = new Error('EADDRINUSE')
  const err = new InvalidAddressError('"x" is not host:port: use e.g. 127.0.0.1:8090', { cause })
  assert.ok(err instanceof HivecastError)
  assert.ok(err instanceof Error)
  assert.equal(err.code, 'INVALID_ADDRESS')
  assert.equal(err.name, 'InvalidAddressError')
  assert.equal(err.cause, cause)
  assert.equal(isHivecastError(err), true)
  assert.equal(isHivecastError(err, 'INVALID_ADDRESS'), true)
  assert.equal(isHivecastError(err, 'INVALID_ROOM'), false)
  assert.equal(isHivecastError(cause), false)
})

test('errorCode gives a small label for any thrown value, never a message', () => {
  assert.equal(errorCode(new HivecastError('NOT_READY', 'relay-1 did not become ready')), 'NOT_READY')
  assert.equal(errorCode(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED')
  assert.equal(errorCode(new DOMException('late', 'TimeoutError')), 'TIMEOUT')
  assert.equal(errorCode(new DOMException('stop', 'AbortError')), 'ABORTED')
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 'some free text' })), 'UNKNOWN')
  assert.equal(errorCode('a string'), 'UNKNOWN')
  assert.equal(errorCode(undefined), 'UNKNOWN')
  assert.equal(errorMessage(new Error('boom')), 'boom')
  assert.equal(errorMessage('plain'), 'plain')
})

test('parseHostPort takes host:port, [v6]:port and :port (loopback), and refuses the rest with an InvalidAddressError', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8090'), { host: '127.0.0.1', port: 8090 })
  assert.deepEqual(parseHostPort('relay.example.org:80'), { host: 'relay.example.org', port: 80 })
  assert.deepEqual(parseHostPort('[::1]:0'), { host: '::1', port: 0 })
  assert.deepEqual(parseHostPort(':8081'), { host: '127.0.0.1', port: 8081 })
  for (const bad of ['localhost', '127.0.0.1:65536', '::1:80', 'a b:80', 'user@host:80', 'host/x:80', '127.0.0.1:', '']) {
    assert.throws(() => parseHostPort(bad), (err: unknown) => isHivecastError(err, 'INVALID_ADDRESS') && err.message.includes(`"${bad}" is not host:port`), bad)
  }
})
