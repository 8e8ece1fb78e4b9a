/**
 * `<hivecast-player room="janson" key="12D3KooW…" relays="https://relay-a.example https://relay-b.example">`:
 * the player as a custom element for any page. It renders into a shadow root with its own stylesheet,
 * so the host page's CSS neither breaks it nor is touched by it. `hivecast:state` and `hivecast:stats`
 * cross the shadow boundary and arrive on the element. Changing an attribute restarts the player.
 *
 * Attributes: `room` (slug, required), `key` (the room's public key; without it playlists are trusted),
 * `relays` (relay base URLs separated by spaces, required), `autoplay="off"`, `muted="off"`, `p2p="off"`
 * (relays only: no sharing with other viewers, and the peer-to-peer code is never loaded),
 * `latency="smoothest"` (whole segments, further from the live edge, instead of LL-HLS parts), and for a
 * recording instead of the live room `recording="<directory cid>"` with optional `from`/`to` (ms since the
 * epoch, program-date-time) to play only part of it.
 */
import { mountPlayer } from './mount-player.ts'
import { emptyStats } from './player-session.ts'
import type { RecordingSelection } from './player-options.ts'
import type { PlayerHandle } from './player-session.ts'
import type { PlayerStats } from './segment-ledger.ts'
import css from './player.css?inline'

const HOST_CSS = ':host { display: block; } :host([hidden]) { display: none; }'

export class HivecastPlayerElement extends HTMLElement {
  static observedAttributes = ['room', 'key', 'relays', 'autoplay', 'muted', 'recording', 'from', 'to', 'p2p', 'latency']
  #handle: PlayerHandle | undefined
  #stage: HTMLDivElement | undefined

  connectedCallback (): void {
    this.#mount()
  }

  disconnectedCallback (): void {
    this.#handle?.destroy()
    this.#handle = undefined
  }

  attributeChangedCallback (): void {
    if (this.isConnected && this.#handle !== undefined) {
      this.#handle.destroy()
      this.#mount()
    }
  }

  /** What the player fetched, verified and rejected (the `hivecast:stats` detail). */
  stats (): PlayerStats {
    return this.#handle?.stats() ?? emptyStats()
  }

  #mount (): void {
    if (this.#stage === undefined) {
      const shadow = this.shadowRoot ?? this.attachShadow({ mode: 'open' })
      const style = document.createElement('style')
      style.textContent = `${HOST_CSS}\n${css}`
      this.#stage = document.createElement('div')
      shadow.replaceChildren(style, this.#stage)
    }
    this.#handle = mountPlayer(this.#stage, {
      room: this.getAttribute('room') ?? '',
      roomKey: this.getAttribute('key') ?? undefined,
      relays: (this.getAttribute('relays') ?? '').split(/\s+/).filter(relay => relay !== ''),
      autoplay: this.getAttribute('autoplay') !== 'off',
      muted: this.getAttribute('muted') !== 'off',
      p2p: this.getAttribute('p2p') === 'off' ? 'off' : 'on',
      latency: this.getAttribute('latency') === 'smoothest' ? 'smoothest' : 'lowest',
      recording: this.#recording()
    })
  }

  #recording (): RecordingSelection | undefined {
    const cid = this.getAttribute('recording')
    if (cid === null || cid === '') return undefined
    // A bound that is not a whole number is left out (the whole recording plays) rather than refused.
    const bound = (name: string): number | undefined => {
      const value = Number(this.getAttribute(name) ?? '')
      return this.hasAttribute(name) && Number.isSafeInteger(value) && value >= 0 ? value : undefined
    }
    return { cid, from: bound('from'), to: bound('to') }
  }
}

/** Registers the element (once) under `name`. */
export function defineHivecastPlayer (name = 'hivecast-player'): void {
  if (customElements.get(name) === undefined) customElements.define(name, HivecastPlayerElement)
}
