/**
 * Players that follow timestamps, run for real on a finished playlist: mpv (null audio and video
 * outputs) and ffplay (no display, SDL's dummy audio driver). Each plays the playlist to its end in
 * real time and reports how far its clock moved, which is how far it thinks it played: a jump back in
 * PTS across a discontinuity sends mpv's position and ffplay's master clock nearly a day ahead (they
 * take it for a 33-bit wrap), the "silent and frozen" of a live stream, and mpv resets playback. The
 * segments are served from memory on 127.0.0.1.
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface PlaylistSegment {
  bytes: Uint8Array
  /** Seconds (EXTINF). */
  duration: number
  /** A new ffmpeg run starts here. */
  discontinuity: boolean
}

export interface ServedPlaylist {
  url: string
  /** The sum of the durations, seconds. */
  seconds: number
  close: () => Promise<void>
}

/** Serves `segments` as a finished (VOD) MPEG-TS playlist at `<url>`, segments beside it. */
export async function servePlaylist (segments: readonly PlaylistSegment[]): Promise<ServedPlaylist> {
  const target = Math.ceil(Math.max(...segments.map(s => s.duration)))
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
    ...segments.flatMap((s, i) => [...s.discontinuity ? ['#EXT-X-DISCONTINUITY'] : [], `#EXTINF:${s.duration.toFixed(3)},`, `${i}.ts`]),
    '#EXT-X-ENDLIST', ''].join('\n')
  const server = createServer((req, res) => {
    const index = /^\/(\d+)\.ts$/.exec(req.url ?? '')?.[1]
    const segment = index === undefined ? undefined : segments[Number(index)]
    if (req.url === '/playlist.m3u8') res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(playlist)
    else if (segment !== undefined) res.writeHead(200, { 'content-type': 'video/mp2t' }).end(segment.bytes)
    else res.writeHead(404).end()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/playlist.m3u8`,
    seconds: segments.reduce((sum, s) => sum + s.duration, 0),
    close: async () => { await new Promise(resolve => server.close(resolve)) }
  }
}

export interface Played {
  player: 'mpv' | 'ffplay'
  /** How far the player's clock moved from its first reading to its last, seconds. */
  playedSeconds: number
  /** Where the player started over because timestamps went back (mpv's "timestamp reset"), verbatim. */
  resets: string[]
  /** Its other remarks on timestamps, verbatim: mpv notes a forward jump ("Invalid audio PTS") and plays on. */
  remarks: string[]
}

/** Numbers of the status lines mpv and ffplay redraw with \r, in order. */
function statusValues (output: string, pattern: RegExp): number[] {
  return output.split(/[\r\n]/).flatMap(line => {
    const value = pattern.exec(line)?.[1]
    return value === undefined ? [] : [Number(value)]
  }).filter(Number.isFinite)
}

const RESET = /timestamp reset/i
const REMARK = /Invalid (audio PTS|video timestamp)|timestamp discontinuity/i

function played (player: Played['player'], clock: number[], output: string): Played {
  const lines = output.split(/[\r\n]/)
  return { player, playedSeconds: (clock.at(-1) ?? 0) - (clock[0] ?? 0), resets: lines.filter(line => RESET.test(line)), remarks: lines.filter(line => REMARK.test(line)) }
}

/** Plays `url` to its end with mpv; `timeoutMs` bounds the run. */
export async function playWithMpv (url: string, timeoutMs: number): Promise<Played> {
  const { stdout, stderr } = await run('mpv', ['--no-config', '--vo=null', '--ao=null', '--msg-level=all=warn,statusline=status',
    // eslint-disable-next-line no-template-curly-in-string -- mpv's own property expansion, not JavaScript's
    '--term-status-msg=position ${=time-pos}', url], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 })
  const output = stdout + stderr
  return played('mpv', statusValues(output, /position ([\d.]+)/), output)
}

/** Plays `url` to its end with ffplay, without a display; `timeoutMs` bounds the run. */
export async function playWithFfplay (url: string, timeoutMs: number): Promise<Played> {
  const { stdout, stderr } = await run('ffplay', ['-nodisp', '-autoexit', '-loglevel', 'info', url],
    { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SDL_AUDIODRIVER: 'dummy' } })
  const output = stdout + stderr
  // The status line starts with the master clock, in seconds.
  return played('ffplay', statusValues(output, /^\s*(-?[\d.]+) M-A:/), output)
}
