/**
 * Recording consent withdrawn after the fact (signed `withdrawal` announcements): the recordings and the
 * segment blocks this relay must never list, serve or pin again. Kept in a JSON file in the data
 * directory, written aside and renamed, so neither a restart nor a replayed old recording announcement
 * brings withdrawn content back.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InvalidConfigError } from '@hivecast/shared'

interface WithdrawalsFile {
  /** Payloads of the withdrawals applied, so a repeat is recognised. */
  applied: string[]
  recordings: string[]
  segments: string[]
}

export class RecordingWithdrawals {
  readonly #file: string | undefined
  readonly #applied: Set<string>
  readonly #recordings: Set<string>
  readonly #segments: Set<string>

  private constructor (file: string | undefined, saved: WithdrawalsFile) {
    this.#file = file
    this.#applied = new Set(saved.applied)
    this.#recordings = new Set(saved.recordings)
    this.#segments = new Set(saved.segments)
  }

  /** The withdrawals saved in `file` (none when it does not exist yet); in memory only without a file. */
  static async open (file?: string): Promise<RecordingWithdrawals> {
    if (file === undefined) return new RecordingWithdrawals(undefined, { applied: [], recordings: [], segments: [] })
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new RecordingWithdrawals(file, { applied: [], recordings: [], segments: [] })
      throw err
    }
    const refused = new InvalidConfigError(`${file} is not a list of withdrawn recordings this relay wrote; restore it from a backup (deleting it lets withdrawn recordings be pinned again)`)
    let saved: Partial<WithdrawalsFile>
    try {
      saved = JSON.parse(text) as Partial<WithdrawalsFile>
    } catch {
      throw refused
    }
    const strings = (value: unknown): value is string[] => Array.isArray(value) && value.every(item => typeof item === 'string')
    if (!strings(saved.applied) || !strings(saved.recordings) || !strings(saved.segments)) throw refused
    return new RecordingWithdrawals(file, { applied: saved.applied, recordings: saved.recordings, segments: saved.segments })
  }

  applied (payload: string): boolean {
    return this.#applied.has(payload)
  }

  recordingWithdrawn (cid: string): boolean {
    return this.#recordings.has(cid)
  }

  segmentWithdrawn (cid: string): boolean {
    return this.#segments.has(cid)
  }

  get segments (): number {
    return this.#segments.size
  }

  /** Records a withdrawal and what it took, on disk before it returns. */
  async add (payload: string, recordings: Iterable<string>, segments: Iterable<string>): Promise<void> {
    this.#applied.add(payload)
    for (const cid of recordings) this.#recordings.add(cid)
    for (const cid of segments) this.#segments.add(cid)
    if (this.#file === undefined) return
    const saved: WithdrawalsFile = { applied: [...this.#applied], recordings: [...this.#recordings], segments: [...this.#segments] }
    await mkdir(dirname(this.#file), { recursive: true })
    await writeFile(`${this.#file}.tmp`, JSON.stringify(saved) + '\n')
    await rename(`${this.#file}.tmp`, this.#file)
  }
}
