// The static site: one HTML entry per page, relative asset URLs so dist/ can be served from any path
// (the demo launcher serves it next to config.json), and the `<hivecast-player>` custom element as an
// ES module at a stable address, dist/hivecast-player.js, for other sites to load.
import { resolve } from 'node:path'
import preact from '@preact/preset-vite'
import { defaultClientConditions, defineConfig } from 'vite'

const root = import.meta.dirname
const ELEMENT_ENTRY = 'hivecast-player'

export default defineConfig({
  base: './',
  plugins: [preact()],
  // The @hivecast/* workspaces are bundled from their src, so the site needs no package build first.
  resolve: { conditions: ['hivecast-source', ...defaultClientConditions] },
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        index: resolve(root, 'index.html'),
        watch: resolve(root, 'watch.html'),
        embed: resolve(root, 'embed.html'),
        status: resolve(root, 'status.html'),
        relay: resolve(root, 'relay.html'),
        recordings: resolve(root, 'recordings.html'),
        [ELEMENT_ENTRY]: resolve(root, '../packages/player/src/hivecast-player.ts')
      },
      // The element module's exports are its API (HivecastPlayerElement, defineHivecastPlayer).
      preserveEntrySignatures: 'exports-only',
      output: {
        entryFileNames: chunk => chunk.name === ELEMENT_ENTRY ? `${ELEMENT_ENTRY}.js` : 'assets/[name]-[hash].js'
      }
    }
  }
})
