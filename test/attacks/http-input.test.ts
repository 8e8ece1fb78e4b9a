/**
 * Audit issue 11, finding 9: blind SSRF through the HTTP pull input. A hostile source answers with
 * an HLS playlist that names another URL (a second local listener); ffmpeg must not fetch it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { eventually } from '@hivecast/devnet'
import { startOrigin } from '@hivecast/origin'

async function listen (server: Server): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

test('a source answering with an HLS playlist does not make ffmpeg fetch the URLs it names', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-ssrf-'))
  let internalRequests = 0
  const internal = createServer((_req, res) => { internalRequests++; res.writeHead(404).end() })
  const internalPort = await listen(internal)
  let hostileRequests = 0
  const playlist = ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXTINF:2,', `http://127.0.0.1:${internalPort}/admin/secret-0.ts`,
    '#EXTINF:2,', `http://127.0.0.1:${internalPort}/admin/secret-1.ts`, ''].join('\n')
  const hostile = createServer((_req, res) => {
    hostileRequests++
    res.writeHead(200, { 'Content-Type': 'video/mp2t' }).end(playlist)
  })
  const hostilePort = await listen(hostile)
  const logs: string[] = []
  const origin = await startOrigin({ room: 'ssrf', dataDir: join(dir, 'origin'), http: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], renditions: ['240p'], input: { kind: 'http', url: `http://127.0.0.1:${hostilePort}/live.ts` }, log: line => logs.push(line) })
  t.after(async () => {
    await origin.stop()
    internal.close()
    hostile.close()
    await new Promise(resolve => setTimeout(resolve, 1200))
    await rm(dir, { recursive: true, force: true })
  })
  await eventually('ffmpeg fetched the hostile source twice', () => hostileRequests >= 2 ? true : undefined, 30_000)
  // Time for ffmpeg to follow the playlist, had it been allowed to.
  await new Promise(resolve => setTimeout(resolve, 3000))
  assert.equal(internalRequests, 0, `ffmpeg fetched a URL the hostile playlist named:\n${logs.slice(-10).join('\n')}`)
})
