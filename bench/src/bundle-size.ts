/**
 * What a page costs to load: the gzip size of the JS and CSS each built page of the site references
 * (scripts, module preloads, stylesheets), read from the Vite build in site/dist.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { SITE_DIST } from '@hivecast/devnet'

export interface PageBundle {
  page: string
  /** gzip bytes of every JS file the page loads up front. */
  jsGzip: number
  cssGzip: number
  files: string[]
}

async function gzipSize (path: string): Promise<number> {
  return gzipSync(await readFile(path), { level: 9 }).length
}

export async function measureBundleSizes (): Promise<PageBundle[]> {
  const pages = (await readdir(SITE_DIST)).filter(name => name.endsWith('.html'))
  if (pages.length === 0) throw new Error(`no built pages in ${SITE_DIST}: run \`npm run build -w site\``)
  const result: PageBundle[] = []
  for (const page of pages) {
    const html = await readFile(join(SITE_DIST, page), 'utf8')
    const files = [...new Set([...html.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+\.(?:js|css))"/g)].map(m => m[1]!))]
    let jsGzip = 0
    let cssGzip = 0
    for (const file of files) {
      const size = await gzipSize(join(SITE_DIST, file))
      if (file.endsWith('.js')) jsGzip += size
      else cssGzip += size
    }
    result.push({ page, jsGzip, cssGzip, files })
  }
  return result
}

export interface LazyChunk {
  /** The chunk's file, e.g. assets/peer-swarm-<hash>.js. */
  file: string
  /** gzip bytes of the chunk and of the chunks only it imports (what loading it adds to `page`). */
  jsGzip: number
  files: string[]
}

/**
 * What a chunk loaded on demand adds to a page: the chunk named `name` (Vite names a dynamic import's
 * chunk after its module), as the page's scripts name it, plus the chunks it imports that the page does
 * not load up front.
 */
export async function measureLazyChunk (name: string, page: PageBundle): Promise<LazyChunk> {
  // The chunk the page's own scripts name (an older build's chunk may still lie next to it).
  let file: string | undefined
  for (const f of page.files.filter(f => f.endsWith('.js'))) {
    file ??= new RegExp(`${name}-[\\w-]+\\.js`).exec(await readFile(join(SITE_DIST, f), 'utf8'))?.[0]
  }
  if (file === undefined) throw new Error(`${page.page} names no ${name} chunk in ${SITE_DIST}: run \`npm run build -w site\``)
  const files: string[] = []
  const pending = [`assets/${file}`]
  while (pending.length > 0) {
    const next = pending.pop()!
    if (files.includes(next) || page.files.includes(next)) continue
    files.push(next)
    const code = await readFile(join(SITE_DIST, next), 'utf8')
    for (const m of code.matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) pending.push(`assets/${m[1]!}`)
  }
  let jsGzip = 0
  for (const f of files) jsGzip += await gzipSize(join(SITE_DIST, f))
  return { file: `assets/${file}`, jsGzip, files }
}
