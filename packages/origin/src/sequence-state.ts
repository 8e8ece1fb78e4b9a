/**
 * The origin's media sequence numbers, one counter per rendition, kept in `<data>/state.json` so they
 * only ever rise: across ffmpeg restarts and origin restarts. A number is saved as used before its
 * announcement goes out, so a crash can skip a number but never announce one twice. Beside them, the
 * end of the newest segment announced in the room, where the next ffmpeg run's timestamps may start at
 * the earliest (see media-timeline.ts).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'

interface StateFile {
  version: 1
  room: string
  renditions: Record<string, { nextSeq: number }>
  /** Program time plus duration of the newest segment announced in the room, ms since the epoch. */
  announcedEnd?: number
}

function parseStateFile (text: string, file: string): StateFile {
  const fail = (why: string): never => {
    throw new Error(`${file} is damaged (${why}). Sequence numbers must keep rising: fix the file, or set each rendition's nextSeq above the last one announced.`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return fail('not JSON')
  }
  if (typeof value !== 'object' || value === null) return fail('not an object')
  const { version, room, renditions, announcedEnd } = value as Record<string, unknown>
  if (version !== 1) return fail(`unknown version ${String(version)}`)
  if (typeof room !== 'string') return fail('no room')
  if (typeof renditions !== 'object' || renditions === null) return fail('no renditions')
  // Absent in files written before timestamps were kept continuous.
  if (announcedEnd !== undefined && (typeof announcedEnd !== 'number' || !Number.isSafeInteger(announcedEnd) || announcedEnd < 0)) return fail('bad announcedEnd')
  const out: StateFile = { version: 1, room, renditions: {}, ...announcedEnd === undefined ? {} : { announcedEnd } }
  for (const [name, entry] of Object.entries(renditions)) {
    const nextSeq = (entry as { nextSeq?: unknown } | null)?.nextSeq
    if (typeof nextSeq !== 'number' || !Number.isSafeInteger(nextSeq) || nextSeq < 0) return fail(`bad nextSeq for ${name}`)
    out.renditions[name] = { nextSeq }
  }
  return out
}

export class SequenceState {
  readonly #file: string
  readonly #state: StateFile
  #writes: Promise<void> = Promise.resolve()

  private constructor (file: string, state: StateFile) {
    this.#file = file
    this.#state = state
  }

  /** Loads the counters; a data dir made for another room is refused rather than silently mixed. */
  static async load (file: string, room: string): Promise<SequenceState> {
    let text: string | undefined
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${file}: ${(err as Error).message}`)
    }
    const state = text === undefined ? { version: 1 as const, room, renditions: {} } : parseStateFile(text, file)
    if (state.room !== room) {
      throw new Error(`${file} belongs to room "${state.room}", not "${room}": give each room its own --data directory.`)
    }
    return new SequenceState(file, state)
  }

  /** True when the rendition has never announced a segment (its first is no discontinuity). */
  isFresh (rendition: string): boolean {
    return (this.#state.renditions[rendition]?.nextSeq ?? 0) === 0
  }

  /**
   * Before an ffmpeg run: moves every rendition's counter up to the highest, so segments cut at the
   * same moment keep the same number in every rendition even when a crash left one a segment behind.
   */
  async align (renditions: readonly string[]): Promise<void> {
    const top = Math.max(0, ...renditions.map(r => this.#state.renditions[r]?.nextSeq ?? 0))
    for (const r of renditions) this.#state.renditions[r] = { nextSeq: top }
    await this.#save()
  }

  /**
   * Raises a rendition's next number to at least `next` (another origin of the room, a hot standby's
   * partner, numbered up to `next - 1`); true when it moved. Never lowers it.
   */
  async atLeast (rendition: string, next: number): Promise<boolean> {
    if ((this.#state.renditions[rendition]?.nextSeq ?? 0) >= next) return false
    this.#state.renditions[rendition] = { nextSeq: next }
    await this.#save()
    return true
  }

  /** End (program time plus duration, ms since the epoch) of the newest segment announced in the room; 0 before the first. */
  get announcedEnd (): number {
    return this.#state.announcedEnd ?? 0
  }

  /**
   * A segment ending at `endMs` was announced, by this origin or another of the room. Kept in memory
   * and saved with the next number taken (before that segment's announcement goes out); never lowered.
   */
  noteEnd (endMs: number): void {
    const end = Math.ceil(endMs)
    if (Number.isSafeInteger(end) && end > this.announcedEnd) this.#state.announcedEnd = end
  }

  /** The next number for a rendition, saved as used before it is returned. */
  async take (rendition: string): Promise<number> {
    const seq = this.#state.renditions[rendition]?.nextSeq ?? 0
    this.#state.renditions[rendition] = { nextSeq: seq + 1 }
    await this.#save()
    return seq
  }

  #save (): Promise<void> {
    const write = async (): Promise<void> => {
      // Write-then-rename: a crash mid-write leaves the old file, never half a file.
      await writeFile(`${this.#file}.tmp`, JSON.stringify(this.#state, null, 2) + '\n')
      await rename(`${this.#file}.tmp`, this.#file)
    }
    const next = this.#writes.then(write)
    this.#writes = next.catch(() => {})
    return next
  }
}
