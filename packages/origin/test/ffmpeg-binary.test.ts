import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FfmpegNotFoundError, locateFfmpeg } from '../src/index.ts'

test('ffmpeg is taken from FFMPEG_PATH, then PATH; without either the error says how to install it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-ffmpeg-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const fake = join(dir, 'ffmpeg')
  await writeFile(fake, '#!/bin/sh\n', { mode: 0o755 })

  assert.deepEqual(await locateFfmpeg({ FFMPEG_PATH: fake, PATH: '/usr/bin' }), { path: fake, source: 'FFMPEG_PATH' })
  assert.deepEqual(await locateFfmpeg({ PATH: `/nonexistent:${dir}:/usr/bin` }), { path: fake, source: 'PATH' })
  await assert.rejects(locateFfmpeg({ FFMPEG_PATH: join(dir, 'missing') }), /FFMPEG_PATH is .*missing, which is not an executable file/)
  await assert.rejects(locateFfmpeg({ PATH: `${dir}-empty` }), (error: unknown) => {
    assert.ok(error instanceof FfmpegNotFoundError)
    assert.equal(error.code, 'ERR_FFMPEG_NOT_FOUND')
    assert.match(error.message, /apt-get install ffmpeg/)
    assert.match(error.message, /brew install ffmpeg/)
    return true
  })
})
