/**
 * A test-owned encoder pushing MPEG-TS to an origin's `tcp://` input, as a venue's mixer would: 240p
 * test picture plus tone in real time (`-re`). It reconnects while the origin's ffmpeg is not listening
 * yet; `stop()` cuts the feed, `start()` brings it back.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'

const SOURCE = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
  '-f', 'lavfi', '-i', 'testsrc2=size=426x240:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts']

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export class StreamSender {
  readonly #url: string
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #running = false
  /** How many ffmpeg runs ended (refused connections included). */
  exits = 0

  constructor (url: string) {
    this.#url = url
  }

  start (): void {
    if (this.#running) return
    this.#running = true
    this.#spawn()
  }

  #spawn (): void {
    const child = spawn('ffmpeg', [...SOURCE, this.#url], { stdio: 'ignore' })
    this.#child = child
    running.add(child)
    this.#exited = new Promise(resolve => {
      child.once('exit', () => {
        running.delete(child)
        this.exits++
        this.#child = undefined
        // Refused while the origin's ffmpeg restarts: try again shortly.
        if (this.#running) setTimeout(() => { if (this.#running && this.#child === undefined) this.#spawn() }, 300)
        resolve()
      })
    })
  }

  /** Kills the encoder (the origin sees its TCP connection close) and waits for it to exit. */
  async stop (): Promise<void> {
    this.#running = false
    this.#child?.kill('SIGKILL')
    await this.#exited
  }
}
