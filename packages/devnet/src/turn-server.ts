/**
 * A STUN/TURN server (Debian's coturn, `turnserver`) with a TURN REST shared secret, as a conference
 * runs beside its relays: on 127.0.0.1, or on a lab host's address inside its network namespace. Every
 * line it logs is kept, so tests can see who allocated.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeTcpPort } from './loopback-server.ts'

export interface TurnServer {
  /** `turn:<host>:<port>?transport=udp`. */
  turnUrl: string
  stunUrl: string
  port: number
  /** A file holding the shared secret, for relay `--turn-secret-file`. */
  secretFile: string
  /** Everything coturn logged so far. */
  log: () => string
  stop: () => Promise<void>
}

export interface TurnServerOptions {
  /** Listening and relayed address; 127.0.0.1 (loopback peers allowed) when absent. */
  host?: string
  /** Fixed port (a namespace of its own has all of them free); a free one when absent. */
  port?: number
  /** Runs coturn through this, e.g. `['ip', 'netns', 'exec', 'hvlab-turn']`. */
  commandPrefix?: string[]
}

export async function startTurnServer (options: TurnServerOptions = {}): Promise<TurnServer> {
  const host = options.host ?? '127.0.0.1'
  const dir = await mkdtemp(join(tmpdir(), 'hivecast-turn-'))
  const secret = `hivecast-turn-${Math.random().toString(36).slice(2)}${Date.now()}`
  const secretFile = join(dir, 'secret')
  await writeFile(secretFile, `${secret}\n`)
  const port = options.port ?? await freeTcpPort()
  // --log-binding: a STUN Binding request is logged when it comes; without it coturn logs the client's
  // session only once its 60 s stale-session watchdog closes it.
  const command = [...options.commandPrefix ?? [], 'turnserver', '-n', '--verbose', '--log-binding', `--listening-ip=${host}`, `--relay-ip=${host}`, `--listening-port=${port}`,
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=hivecast.test', '--no-tls', '--no-dtls', '--no-cli',
    ...(host === '127.0.0.1' ? ['--allow-loopback-peers'] : []), '--simple-log', '--log-file=stdout', `--pidfile=${join(dir, 'turn.pid')}`]
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  // coturn is no process group leader of its own: it must not outlive this process (a lab namespace
  // it holds on to would live on with it).
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  child.once('exit', () => process.off('exit', killOnExit))
  const lines: string[] = []
  child.stdout.on('data', (chunk: Buffer) => lines.push(chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => lines.push(chunk.toString()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => { reject(new Error(`coturn did not start in 10 s: ${lines.join('').slice(-400)}`)) }, 10_000)
      child.once('error', err => { clearTimeout(deadline); reject(new Error(`cannot start turnserver (apt-get install coturn): ${err.message}`)) })
      child.once('exit', code => { clearTimeout(deadline); reject(new Error(`coturn exited (${String(code)}): ${lines.join('').slice(-400)}`)) })
      child.stdout.on('data', () => {
        if (lines.join('').includes('Total General servers')) {
          clearTimeout(deadline)
          resolve()
        }
      })
    })
  } catch (err) {
    await stop()
    throw err
  }
  return { turnUrl: `turn:${host}:${port}?transport=udp`, stunUrl: `stun:${host}:${port}`, port, secretFile, log: () => lines.join(''), stop }
}
