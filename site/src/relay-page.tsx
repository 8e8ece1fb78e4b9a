/**
 * relay.html: how to run a relay — the one command (filled in with this site's rooms, and the origin's
 * libp2p address when its `/status` answers), what it needs, and how to check it works. The facts mirror
 * packages/relay/README.md.
 */
import { render } from 'preact'
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { relayRoutes, relayUrl } from '@hivecast/shared'
import { Notice, PageLayout } from './page-layout.tsx'
import { fetchJson } from './relay-client.ts'
import { loadSiteConfig } from './site-config.ts'
import type { SiteConfig, SiteConfigResult } from './site-config.ts'
import './site.css'

function RelayPage (): ComponentChildren {
  const [result, setResult] = useState<SiteConfigResult | undefined>(undefined)
  useEffect(() => { void loadSiteConfig().then(setResult) }, [])
  if (result === undefined) return <PageLayout><p class="loading">Loading…</p></PageLayout>
  if (!result.ok) return <PageLayout><Notice title="This site is not configured">{result.message}</Notice></PageLayout>
  return <PageLayout><RelayGuide config={result.config} /></PageLayout>
}

/** The first origin's public libp2p address, from its /status (a loopback one only when that is all it has). */
function useOriginAddress (config: SiteConfig): string | undefined {
  const [address, setAddress] = useState<string | undefined>(undefined)
  useEffect(() => {
    const origin = config.origins[0]
    if (origin === undefined) return
    void fetchJson(`${origin.url}/status`).then(value => {
      const addresses = typeof value === 'object' && value !== null && Array.isArray((value as { multiaddrs?: unknown }).multiaddrs)
        ? (value as { multiaddrs: unknown[] }).multiaddrs.filter((a): a is string => typeof a === 'string' && a.length < 300)
        : []
      setAddress(addresses.find(a => !a.includes('/127.0.0.1/')) ?? addresses[0])
    })
  }, [config])
  return address
}

function RelayGuide (props: { config: SiteConfig }): ComponentChildren {
  const { config } = props
  const origin = useOriginAddress(config)
  const rooms = config.rooms.map(room => `--room ${room.slug}`).join(' ')
  const command = `npx @hivecast/relay --origin ${origin ?? '/dns4/origin.example.org/tcp/9090/p2p/12D3KooW…'} ${rooms === '' ? '--room <room>' : rooms} \\\n  --data ./relay-data --http 0.0.0.0:8081 --listen /ip4/0.0.0.0/tcp/4001 --public-url https://relay.example.org/`
  const relay = 'https://relay.example.org'
  const checks = [
    '# "ok" once it holds a recent segment',
    `curl -s ${relayUrl(relay, relayRoutes.healthz())}`,
    '# rooms, segments held and behind, peers, traffic',
    `curl -s ${relayUrl(relay, relayRoutes.status())}`,
    '# the live relays, yours included',
    `curl -s ${relayUrl(relay, relayRoutes.directory())}`,
    '# play it with any HLS player',
    `ffplay ${relayUrl(relay, relayRoutes.masterPlaylist(config.rooms[0]?.slug ?? 'janson'))}`
  ].join('\n')
  return (
    <article class="prose">
      <h1>Run a relay</h1>
      <p class="lede">
        A relay is a volunteer cache: it follows this conference's rooms, keeps only segments signed by the room's key and
        matching their content address, and serves them to viewers over plain HTTP. Each relay you add is more viewers the
        conference can carry, without a CDN.
      </p>

      <h2>The one command</h2>
      <pre class="command" tabIndex={0} aria-label="The command to run a relay"><code>{command}</code></pre>
      <p>
        Replace <code>relay.example.org</code> with your host name. {origin === undefined ? 'The conference team gives you the --origin address (the line the origin prints) and the room names.' : 'The origin address and rooms above are this conference\'s.'}
        {' '}Relays find each other through the directory (add <code>--peer &lt;another relay's libp2p address&gt;</code> to start from one) and
        fetch each segment from whichever peer already has it, so the origin's uplink does not grow with the number of relays.
        It needs Node 22.19 or later.
      </p>

      <h2>What it needs</h2>
      <ul class="needs">
        <li><strong>Uplink.</strong> Each viewer takes the stream's bitrate (about 3–5 Mbit/s for 720p); other relays fetching from you take about as much again per relay. 100 Mbit/s carries some 20–30 viewers per room.</li>
        <li><strong>Disk.</strong> Bitrate × how long segments are kept. Viewers can rewind as far as <code>--rewind &lt;minutes&gt;</code> (default 120), so a relay keeps two hours: about 6 GB of a 720p+480p+360p ladder (five minutes are about 250 MB). <code>--disk-quota &lt;MB&gt;</code> caps it (the oldest live segments go first, shortening the rewind); <code>--rewind 0</code> keeps only <code>--retention &lt;minutes&gt;</code> (default 5).</li>
        <li><strong>Ports.</strong> The HTTP port (behind your TLS proxy) and the libp2p TCP port (<code>--listen</code>), both reachable from the internet.</li>
        <li><strong>HTTPS.</strong> A site served over https can only use https relays: run the relay on <code>127.0.0.1:8081</code> behind Caddy or nginx and set <code>--public-url</code> to the https address.</li>
        <li><strong>Limits.</strong> <code>--max-connections &lt;n&gt;</code> caps open HTTP connections; <code>--rate-limit &lt;n&gt;</code> answers 429 to an address making more than n requests a second (leave it off behind a proxy).</li>
      </ul>

      <h2>Check that it works</h2>
      <pre class="command" tabIndex={0} aria-label="Commands to check a relay"><code>{checks}</code></pre>
      <p>
        Once it holds a recent segment your relay shows up on the <a href="./status.html">network status</a> page within a few
        seconds. The relay keeps its key and cache in <code>--data</code>: keep that directory and a restart keeps its identity.
        To run it as a service, use the systemd unit shipped with the relay (<code>hivecast-relay.service</code>); stopping it
        sends a final "leaving" record so viewers move on at once.
      </p>
    </article>
  )
}

const root = document.getElementById('app')
if (root !== null) render(<RelayPage />, root)
