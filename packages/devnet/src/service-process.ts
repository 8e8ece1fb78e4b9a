/**
 * One Hivecast command (origin or relay) running as a child process: started with the same Node,
 * its output prefixed and passed on, ready once it has printed the lines the launcher needs, and
 * stopped with SIGTERM (SIGKILL after a grace period). Children are killed if this process exits.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'

export interface ServiceOptions {
  /** Short name used as the log prefix, e.g. `relay-1`. */
  name: string
  /** Path of the command's `.ts` entry point. */
  script: string
  args: string[]
  /** Labels of lines `label: value` to wait for, e.g. `['relay', 'relay libp2p']`. */
  readyLabels: string[]
  /** Where the child's lines go; defaults to this process's stdout. Null silences them. */
  log?: ((line: string) => void) | null
  readyTimeoutMs?: number
}

export interface ServiceProcess {
  name: string
  /** Values of the ready lines, by label. */
  values: Record<string, string>
  child: ChildProcess
  /** Every line the child printed so far (stdout and stderr). */
  output: string[]
  exited: Promise<number | null>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>
  /** SIGKILL to the process and its children at once, as a crash would. */
  kill(): Promise<number | null>
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      child.kill('SIGKILL')
    }
  }
})

export async function startService (options: ServiceOptions): Promise<ServiceProcess> {
  // A process group of its own: Ctrl-C in a terminal reaches only the launcher, which stops the
  // children in order, instead of every child getting the signal twice.
  const child = spawn(process.execPath, [options.script, ...options.args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  running.add(child)
  const log = options.log === undefined ? (line: string) => { console.log(line) } : options.log
  const output: string[] = []
  const values: Record<string, string> = {}
  const exited = new Promise<number | null>(resolve => {
    child.once('exit', code => {
      running.delete(child)
      resolve(code)
    })
  })
  let markReady: () => void = () => {}
  const ready = new Promise<void>(resolve => { markReady = resolve })
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', line => {
      output.push(line)
      log?.(`[${options.name}] ${line}`)
      const match = /^([a-z0-9 -]+): (\S+)$/.exec(line)
      if (match !== null && options.readyLabels.includes(match[1]!) && values[match[1]!] === undefined) {
        values[match[1]!] = match[2]!
        if (options.readyLabels.every(label => values[label] !== undefined)) markReady()
      }
    })
  }
  const stop = async (graceMs = 5000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  // The whole process group, as systemd or a crash of the machine would: an origin's ffmpeg must not
  // outlive it and write into the directory of the origin started next.
  const kill = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL')
    return await exited
  }
  const timeoutMs = options.readyTimeoutMs ?? 30_000
  let timer: NodeJS.Timeout | undefined
  const failure = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${options.name} did not become ready within ${timeoutMs} ms`)), timeoutMs)
    void exited.then(code => reject(new Error(`${options.name} exited with code ${code} before it was ready:\n${output.slice(-20).join('\n')}`)))
  })
  try {
    await Promise.race([ready, failure])
  } catch (err) {
    await kill()
    throw err
  } finally {
    clearTimeout(timer)
  }
  return { name: options.name, values, child, output, exited, stop, kill }
}
