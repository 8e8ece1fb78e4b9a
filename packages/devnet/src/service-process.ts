/**
 * One Hivecast command (origin or relay) running as a child process: started with the same Node,
 * its output prefixed and passed on for people to read, ready once its `ready` probe (its ready file,
 * a relay's /status) says where it can be reached, and stopped with SIGTERM (SIGKILL after a grace
 * period). Children are killed if this process exits.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'
import { NotReadyError, errorMessage } from '@hivecast/shared'

/**
 * Asked every `readyPollMs` until it returns what the service says about itself; undefined while it
 * is not ready. Given the child's pid, so a ready file left by an earlier run is not taken for this one.
 * A throw ends the wait: the service answers with something that will not become right.
 */
export type ReadyProbe<T> = (pid: number) => Promise<T | undefined>

export interface ServiceOptions<T> {
  /** Short name used as the log prefix, e.g. `relay-1`. */
  name: string
  /** Path of the command's `.ts` entry point. */
  script: string
  args: string[]
  /**
   * Runs the command through this, e.g. `['ip', 'netns', 'exec', 'hvlab-relay-1']` for a network
   * namespace of the lab; it must exec the command (so the pid stays the command's) and pass signals.
   */
  commandPrefix?: string[]
  ready: ReadyProbe<T>
  /** Where the child's lines go; defaults to this process's stdout. Null silences them. */
  log?: ((line: string) => void) | null
  readyTimeoutMs?: number
  readyPollMs?: number
}

export interface ServiceProcess<T> {
  name: string
  /** What the ready probe returned. */
  ready: T
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

/**
 * The Node flags a command's own `#!/usr/bin/env -S node <flags>` line asks for (the relay's memory
 * settings), so a command run here behaves as it does when installed.
 */
async function shebangFlags (script: string): Promise<string[]> {
  const first = (await readFile(script, 'utf8')).split('\n', 1)[0] ?? ''
  const flags = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)\s*$/.exec(first)?.[1]
  return flags === undefined ? [] : flags.trim().split(' ').filter(flag => flag !== '')
}

export async function startService<T> (options: ServiceOptions<T>): Promise<ServiceProcess<T>> {
  // A process group of its own: Ctrl-C in a terminal reaches only the launcher, which stops the
  // children in order, instead of every child getting the signal twice.
  const command = [...options.commandPrefix ?? [], process.execPath, ...await shebangFlags(options.script), options.script, ...options.args]
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  running.add(child)
  const log = options.log === undefined ? (line: string) => { console.log(line) } : options.log
  const output: string[] = []
  const exited = new Promise<number | null>(resolve => {
    child.once('exit', code => {
      running.delete(child)
      resolve(code)
    })
  })
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', line => {
      output.push(line)
      log?.(`[${options.name}] ${line}`)
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
  const deadline = Date.now() + timeoutMs
  let ready: T | undefined
  try {
    while (ready === undefined) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new NotReadyError(`${options.name} exited with code ${child.exitCode} before it was ready:\n${output.slice(-20).join('\n')}`)
      }
      if (Date.now() > deadline) throw new NotReadyError(`${options.name} did not become ready within ${timeoutMs} ms`)
      try {
        ready = await options.ready(child.pid!)
      } catch (err) {
        throw new NotReadyError(`${options.name} is not ready and will not be: ${errorMessage(err)}`, { cause: err })
      }
      if (ready === undefined) await new Promise(resolve => setTimeout(resolve, options.readyPollMs ?? 100))
    }
  } catch (err) {
    await kill()
    throw err
  }
  return { name: options.name, ready, child, output, exited, stop, kill }
}
