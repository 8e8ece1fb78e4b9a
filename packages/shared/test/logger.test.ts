import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isHivecastError, logger, parseLogLevel } from '../src/index.ts'
import type { LogLevel } from '../src/index.ts'

function capture (options: { level?: LogLevel, format?: 'text' | 'json' } = {}): { lines: Array<[string, LogLevel]>, log: ReturnType<typeof logger> } {
  const lines: Array<[string, LogLevel]> = []
  const log = logger('relay:room-follower', { ...options, write: (line, level) => lines.push([line, level]), now: () => new Date(0) })
  return { lines, log }
}

test('text lines: info is the message alone (as the services print today), other levels name level and component', () => {
  const { lines, log } = capture({ level: 'debug' })
  log.info('relay: http://127.0.0.1:8081/')
  log.warn('origin went quiet')
  log.error('cannot store block')
  log.debug('want sent')
  assert.deepEqual(lines, [
    ['relay: http://127.0.0.1:8081/', 'info'],
    ['warn relay:room-follower: origin went quiet', 'warn'],
    ['error relay:room-follower: cannot store block', 'error'],
    ['debug relay:room-follower: want sent', 'debug']
  ])
})

test('the level drops lines below it; the default is info', () => {
  const { lines, log } = capture({ level: 'warn' })
  log.debug('d')
  log.info('i')
  log.warn('w')
  log.error('e')
  assert.deepEqual(lines.map(([, level]) => level), ['warn', 'error'])
  assert.equal(log.enabled('info'), false)
  const saved = process.env.LOG_LEVEL
  delete process.env.LOG_LEVEL
  try {
    const { lines: defaults, log: plain } = capture()
    plain.debug('hidden')
    plain.info('shown')
    assert.deepEqual(defaults, [['shown', 'info']])
  } finally {
    if (saved !== undefined) process.env.LOG_LEVEL = saved
  }
})

test('JSON lines carry time, level, name, message and fields; fields cannot override them', () => {
  const { lines, log } = capture({ format: 'json' })
  log.child('fetch').warn('slow block', { cid: 'bafk', ms: 812, level: 'forged' })
  assert.equal(lines.length, 1)
  assert.deepEqual(JSON.parse(lines[0]![0]), { cid: 'bafk', ms: 812, level: 'warn', time: '1970-01-01T00:00:00.000Z', name: 'relay:room-follower:fetch', msg: 'slow block' })
})

test('LOG_LEVEL and LOG_FORMAT are read from the environment; a bad value is a clear error', () => {
  const saved = { level: process.env.LOG_LEVEL, format: process.env.LOG_FORMAT }
  try {
    process.env.LOG_LEVEL = 'debug'
    process.env.LOG_FORMAT = 'json'
    const lines: string[] = []
    logger('origin', { write: line => lines.push(line) }).debug('hello')
    assert.equal(JSON.parse(lines[0]!).level, 'debug')
    process.env.LOG_LEVEL = 'verbose'
    assert.throws(() => logger('origin'), (err: unknown) => isHivecastError(err, 'INVALID_OPTION') && /LOG_LEVEL "verbose" is not a log level: use one of error, warn, info, debug/.test(err.message))
  } finally {
    for (const [name, value] of [['LOG_LEVEL', saved.level], ['LOG_FORMAT', saved.format]] as const) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
  assert.equal(parseLogLevel(' WARN '), 'warn')
})
