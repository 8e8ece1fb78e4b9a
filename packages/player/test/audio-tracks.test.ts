/**
 * The viewer's sound shapes the live master the player writes: with the picture the audio group and
 * no audio-only variant, audio only the chosen language's AAC rendition alone; the choice is kept and a
 * stored value that is not one is ignored. Node's own Storage is absent, so a Map-backed one stands in
 * for localStorage (the Chromium test, test/audio-playback.test.ts, uses the real one).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderMasterPlaylist } from '@hivecast/shared'
import type { RenditionInfo } from '@hivecast/shared'
import { AUDIO_CHOICE_KEY, AudioTracks, loadAudioChoice } from '../src/audio-tracks.ts'

class MapStorage implements Storage {
  readonly #items = new Map<string, string>()
  get length (): number { return this.#items.size }
  clear (): void { this.#items.clear() }
  getItem (key: string): string | null { return this.#items.get(key) ?? null }
  key (index: number): string | null { return [...this.#items.keys()][index] ?? null }
  removeItem (key: string): void { this.#items.delete(key) }
  setItem (key: string, value: string): void { this.#items.set(key, value) }
}

const video: RenditionInfo = { name: '360p', bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', frameRate: 30 }
const audio: RenditionInfo = { name: 'audio', bandwidth: 80_000, width: 0, height: 0, codecs: 'mp4a.40.2', frameRate: 0, audio: { role: 'main', name: 'Original' } }
const german: RenditionInfo = { ...audio, name: 'audio-de', audio: { role: 'alternate', language: 'de', name: 'Deutsch (interpretation)' } }
const offered = [video, audio, german].map(info => ({ info, uri: `${info.name}.m3u8` }))

test('with the picture: the audio group, no audio-only variant; the menu lists the original first', () => {
  const tracks = new AudioTracks(new MapStorage())
  const master = renderMasterPlaylist(tracks.shapeMaster(offered))
  assert.match(master, /#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="de",.*URI="audio-de.m3u8"/)
  assert.deepEqual(master.split('\n').filter(l => l.endsWith('.m3u8') && !l.startsWith('#')), ['360p.m3u8'])
  assert.deepEqual(tracks.options(), [{ language: null, label: 'Original' }, { language: 'de', label: 'Deutsch (interpretation)' }])
  assert.equal(tracks.audioOnlyOffered, true)
})

test('audio only: the chosen language\'s AAC rendition is the one variant; switching it reloads, a language with the picture does not', () => {
  const storage = new MapStorage()
  const tracks = new AudioTracks(storage)
  tracks.shapeMaster(offered)
  assert.equal(tracks.choose({ language: 'de', audioOnly: false }), false, 'with the picture a language switches in place')
  assert.equal(tracks.choose({ language: 'de', audioOnly: true }), true)
  const master = renderMasterPlaylist(tracks.shapeMaster(offered))
  assert.doesNotMatch(master, /EXT-X-MEDIA/)
  assert.deepEqual(master.split('\n').filter(l => !l.startsWith('#') && l !== ''), ['audio-de.m3u8'])
  assert.equal(tracks.choose({ language: null, audioOnly: true }), true, 'another language audio only is another variant')
  assert.deepEqual(renderMasterPlaylist(tracks.shapeMaster(offered)).split('\n').filter(l => !l.startsWith('#') && l !== ''), ['audio.m3u8'])
  assert.deepEqual(loadAudioChoice(storage), { language: null, audioOnly: true }, 'the choice is kept')
  assert.deepEqual(new AudioTracks(storage).choice, { language: null, audioOnly: true })
})

test('a language the room does not carry falls back to the original; a stored value that is no choice is ignored', () => {
  const storage = new MapStorage()
  storage.setItem(AUDIO_CHOICE_KEY, JSON.stringify({ language: 'fr', audioOnly: true }))
  const tracks = new AudioTracks(storage)
  assert.deepEqual(tracks.shapeMaster(offered).map(r => r.info.name), ['audio'])
  assert.equal(tracks.language, null)
  for (const junk of ['{', '"de"', JSON.stringify({ language: '<script>', audioOnly: 'yes' })]) {
    storage.setItem(AUDIO_CHOICE_KEY, junk)
    assert.deepEqual(loadAudioChoice(storage), { language: null, audioOnly: false }, junk)
  }
  assert.deepEqual(new AudioTracks(new MapStorage()).shapeMaster([{ info: video, uri: '360p.m3u8' }]).map(r => r.info.name), ['360p'], 'a room without sound renditions is unchanged')
})
