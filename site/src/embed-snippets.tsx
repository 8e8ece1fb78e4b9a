/**
 * "Embed this room": copyable snippets for an `<iframe>` of embed.html and for the
 * `<hivecast-player>` custom element, with this site's addresses filled in.
 */
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import type { RoomEntry } from './site-config.ts'

export function embedSnippets (room: RoomEntry, relays: string[], base: string): { iframe: string, element: string } {
  const embedUrl = new URL(`embed.html?room=${encodeURIComponent(room.slug)}`, base).href
  const moduleUrl = new URL('hivecast-player.js', base).href
  return {
    iframe: `<iframe src="${embedUrl}" title="${escapeAttribute(room.title)} (live)" width="960" height="540" allow="autoplay; fullscreen" allowfullscreen style="border:0;max-width:100%;aspect-ratio:16/9;height:auto"></iframe>`,
    element: `<script type="module" src="${moduleUrl}"></script>\n<hivecast-player room="${room.slug}" key="${room.key}" relays="${relays.join(' ')}"></hivecast-player>`
  }
}

export function EmbedSnippets (props: { room: RoomEntry, relays: string[] }): ComponentChildren {
  const { iframe, element } = embedSnippets(props.room, props.relays, location.href)
  return (
    <section class="embed" aria-labelledby="embed-title">
      <h2 id="embed-title">Embed this room</h2>
      <Snippet label="As an iframe (the player only; relays and key come from this site)" code={iframe} />
      <Snippet label="As a custom element (fires hivecast:state and hivecast:stats events on the element)" code={element} />
    </section>
  )
}

export function Snippet (props: { label: string, code: string }): ComponentChildren {
  const [copied, setCopied] = useState<string>('')
  const copy = (): void => {
    navigator.clipboard.writeText(props.code).then(
      () => { setCopied('Copied') },
      () => { setCopied('Copy failed: select the text and copy it') }
    )
  }
  return (
    <div class="snippet">
      <p class="snippet-label">{props.label}</p>
      <pre tabIndex={0} aria-label={props.label}><code>{props.code}</code></pre>
      <button type="button" class="copy" onClick={copy}>Copy</button>
      <span class="copy-status" role="status">{copied}</span>
    </div>
  )
}

function escapeAttribute (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
}
