/**
 * Finding ffmpeg: `FFMPEG_PATH` first (an operator's explicit choice), then `ffmpeg` on PATH (the
 * distribution build, which has srt/rist and the fonts drawtext needs). No binary is bundled: the only
 * npm-packaged builds are years old and lack those.
 */
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'

export type FfmpegSource = 'FFMPEG_PATH' | 'PATH'

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

/** No ffmpeg on PATH and no FFMPEG_PATH: the origin cannot encode anything. */
export class FfmpegNotFoundError extends Error {
  readonly code = 'ERR_FFMPEG_NOT_FOUND'

  constructor () {
    super('ffmpeg not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install ffmpeg`, macOS: `brew install ffmpeg`) or set FFMPEG_PATH to an ffmpeg binary.')
    this.name = 'FfmpegNotFoundError'
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
  throw new FfmpegNotFoundError()
}

/**
 * ffprobe beside the ffmpeg in use (same build), else on PATH; undefined when there is none (some
 * static builds ship ffmpeg only): then renditions are announced with their presets' values.
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
