/**
 * Ladder encoding speed: the origin's own ffmpeg command for a ladder (the default one, or say the
 * optional AV1 rendition alone), fed a 1080p30 test
 * source as fast as it will go (no `-re`), so seconds of video per wall-clock second says how much
 * headroom a room has, and CPU seconds per wall second how many cores the ladder takes.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { DEFAULT_RENDITIONS, ladderArgs, locateFfmpeg, resolveRenditions } from '@hivecast/origin'

const run = promisify(execFile)

export interface LadderSpeedResult {
  renditions: string[]
  sourceSeconds: number
  /** Seconds of video encoded per second of wall clock; above 1 keeps up with a live room. */
  speed: number
  /** CPU seconds (user + system) per wall-clock second. */
  cores: number
}

/** Wall time and CPU time of a command; bash's `times` reports what its children used. */
async function timed (command: string, args: string[]): Promise<{ wall: number, cpu: number }> {
  const quoted = [command, ...args].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const started = performance.now()
  const child = spawn('bash', ['-c', `${quoted} >/dev/null 2>&1 || exit $?; times`], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  const wall = (performance.now() - started) / 1000
  if (code !== 0) throw new Error(`${command} exited with ${code}`)
  // `times` prints the shell's then its children's user and system time: "0m1.234s 0m0.100s".
  const children = out.trim().split('\n').at(-1)!.split(/\s+/)
  const seconds = (t: string): number => { const m = /(\d+)m([\d.]+)s/.exec(t); return m === null ? 0 : Number(m[1]) * 60 + Number(m[2]) }
  return { wall, cpu: seconds(children[0]!) + seconds(children[1]!) }
}

export async function measureLadderSpeed (options: { seconds: number, renditions?: readonly string[] }): Promise<LadderSpeedResult> {
  const ffmpeg = (await locateFfmpeg()).path
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-bench-ladder-'))
  try {
    // A 1080p30 source with motion and a tone, as a mixer would send (made once, not timed).
    const source = join(dir, 'source.ts')
    await run(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${options.seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:duration=${options.seconds}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30',
      '-c:a', 'aac', '-f', 'mpegts', source], { timeout: 120_000 })
    const presets = resolveRenditions(options.renditions ?? DEFAULT_RENDITIONS)
    const hlsDir = join(dir, 'hls')
    for (const i of presets.keys()) await mkdir(join(hlsDir, String(i)), { recursive: true })
    const args = ladderArgs({
      input: { args: ['-i', source], videoPad: '[0:v:0]', videoFilters: [], audioStreamMap: (stream: number) => `0:a:${stream}`, description: '1080p30 file' },
      renditions: presets,
      frameRate: 30,
      segmentDuration: 1,
      hlsDir,
      runId: 1
    })
    const { wall, cpu } = await timed(ffmpeg, args)
    return { renditions: presets.map(p => p.name), sourceSeconds: options.seconds, speed: options.seconds / wall, cores: cpu / wall }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
