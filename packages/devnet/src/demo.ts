#!/usr/bin/env node
/**
 * `npm start`: the whole demo on this machine — an origin with a test pattern, two relays and the
 * site — on fixed ports, until Ctrl-C.
 */
import { randomBytes } from 'node:crypto'
import { startDevnet } from './devnet.ts'

// The live captioner's token for this run: printed below, so whoever runs the demo can type captions.
const captionToken = randomBytes(16).toString('hex')

const devnet = await startDevnet({
  room: 'demo',
  title: 'Demo room (test pattern)',
  relays: 2,
  dataDir: '.data/demo',
  ports: { site: 8080, relays: [8081, 8082], origin: 8090, originP2p: 9090 },
  site: true,
  // The default ladder plus what a conference room carries beyond it: the audio-only variant and an
  // interpretation track (a second tone), so a newcomer sees the language menu and "audio only" at once.
  renditions: '720p,480p,360p,audio',
  audioTracks: ['de:Deutsch (interpretation):1'],
  // Captions: the test pattern's clock as a cue a second, and whatever is typed at the captioner page.
  captions: 'en:English',
  captionToken,
  // The recordings page plays what the relays pin; an interim recording every minute keeps it fresh.
  archive: true,
  recordingInterval: 60
}).catch((err: Error) => {
  console.error(`demo: ${err.message}`)
  console.error('demo: if a port is taken, stop whatever uses it (or an earlier demo) and run `npm start` again.')
  process.exit(1)
})

console.log('')
console.log(`site: ${devnet.site!.url}`)
for (const relay of devnet.relays) console.log(`relay: ${relay.url}/`)
console.log(`origin: ${devnet.origin.url}/`)
console.log('')
console.log(`Open ${devnet.site!.url}watch.html?room=${devnet.room} to watch the room live.`)
console.log(`Any HLS player works too: ffplay ${devnet.relays[0]!.url}/hls/${devnet.room}/master.m3u8`)
console.log(`Type captions at ${devnet.origin.url}/captioner with the token ${captionToken} (CC in the player shows them).`)
console.log('Press Ctrl-C to stop.')

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    console.log('\nstopping…')
    void devnet.stop().then(() => {
      console.log('stopped.')
      process.exit(0)
    })
  })
}
