/**
 * The player's build after tsc: (1) tsc leaves Vite's `./x.css?inline` imports as they are, which a
 * plain bundler or Node cannot resolve, so each becomes `./x.css.js`, a module exporting the stylesheet
 * as a string; (2) Vite (library mode) bundles `src/hivecast-player.ts` with every dependency into the
 * single ES module `dist/hivecast-player.js` that registers `<hivecast-player>`, with the lazily loaded
 * peer-to-peer code inlined, and the page stylesheet it needs as `dist/hivecast-player.css`.
 */
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'vite'

const root = import.meta.dirname
const src = join(root, 'src')
const dist = join(root, 'dist')
const INLINE_CSS = /from '\.\/([\w-]+)\.css\?inline'/g

async function resolveInlineCss (): Promise<void> {
  const stylesheets = new Set<string>()
  for (const name of await readdir(dist)) {
    if (!name.endsWith('.js')) continue
    const path = join(dist, name)
    const code = await readFile(path, 'utf8')
    const rewritten = code.replace(INLINE_CSS, (_, sheet: string) => {
      stylesheets.add(sheet)
      return `from './${sheet}.css.js'`
    })
    if (rewritten !== code) await writeFile(path, rewritten)
  }
  for (const sheet of stylesheets) {
    const css = await readFile(join(src, `${sheet}.css`), 'utf8')
    await writeFile(join(dist, `${sheet}.css.js`), `export default ${JSON.stringify(css)};\n`)
    await writeFile(join(dist, `${sheet}.css.d.ts`), 'declare const css: string;\nexport default css;\n')
  }
}

async function bundleElement (): Promise<void> {
  await build({
    configFile: false,
    logLevel: 'warn',
    // Library mode leaves process.env alone; a page loading the file has none.
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    build: {
      outDir: dist,
      emptyOutDir: false,
      target: 'es2022',
      sourcemap: true,
      lib: { entry: join(src, 'hivecast-player.ts'), formats: ['es'], fileName: () => 'hivecast-player.js', cssFileName: 'hivecast-player' },
      rolldownOptions: { output: { codeSplitting: false } }
    }
  })
}

/** tsc's `player.js` imports `./player.css` for its side effect: the stylesheet goes beside it. */
async function copyStylesheets (): Promise<void> {
  for (const name of await readdir(src)) {
    if (name.endsWith('.css')) await copyFile(join(src, name), join(dist, name))
  }
}

await resolveInlineCss()
await bundleElement()
await copyStylesheets()
