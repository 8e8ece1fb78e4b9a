/**
 * Finding ffmpeg: `FFMPEG_PATH` first (an operator's explicit choice), then `ffmpeg` on PATH (the
 * distribution build, which has srt/rist and the fonts drawtext needs), then the optional npm package
 * `@ffmpeg-installer/ffmpeg` as a last resort.
 */
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'

export type FfmpegSource = 'FFMPEG_PATH' | 'PATH' | '@ffmpeg-installer/ffmpeg'

export interface FfmpegBinary {
  path: string
  source: FfmpegSource
}

async function isExecutableFile (path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

async function fromInstallerPackage (): Promise<string | undefined> {
  try {
    // An optional dependency: absent on unsupported platforms, and it throws a string there.
    const mod = await import('@ffmpeg-installer/ffmpeg')
    const path = mod.default.path
    return typeof path === 'string' && await isExecutableFile(path) ? path : undefined
  } catch {
    return undefined
  }
}

export async function locateFfmpeg (env: NodeJS.ProcessEnv = process.env): Promise<FfmpegBinary> {
  const explicit = env.FFMPEG_PATH
  if (explicit !== undefined && explicit !== '') {
    if (await isExecutableFile(explicit)) return { path: explicit, source: 'FFMPEG_PATH' }
    throw new Error(`FFMPEG_PATH is ${explicit}, which is not an executable file. Point it at an ffmpeg binary or unset it to use ffmpeg from PATH.`)
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, 'ffmpeg')
    if (await isExecutableFile(candidate)) return { path: candidate, source: 'PATH' }
  }
  const packaged = await fromInstallerPackage()
  if (packaged !== undefined) return { path: packaged, source: '@ffmpeg-installer/ffmpeg' }
  throw new Error('ffmpeg not found: install it (e.g. `apt install ffmpeg`) or set FFMPEG_PATH to an ffmpeg binary.')
}

/**
 * ffprobe beside the ffmpeg in use (same build), else on PATH; undefined when there is none (the
 * npm static build ships ffmpeg only): then renditions are announced with their presets' values.
 */
export async function locateFfprobe (ffmpeg: FfmpegBinary, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const beside = join(dirname(ffmpeg.path), 'ffprobe')
  if (await isExecutableFile(beside)) return beside
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, 'ffprobe')
    if (await isExecutableFile(candidate)) return candidate
  }
  return undefined
}

/** The log line that says which ffmpeg runs, e.g. `ffmpeg: /usr/bin/ffmpeg (from PATH)`. */
export function describeFfmpeg (binary: FfmpegBinary): string {
  return `ffmpeg: ${binary.path} (from ${binary.source})`
}
