import { readFileSync } from 'node:fs'

/**
 * The `version` of the package.json one directory above `moduleUrl`: a CLI passes its own
 * `import.meta.url`, which sits in `src/` in the repository and in `dist/` once installed.
 */
export function packageVersion (moduleUrl: string): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', moduleUrl), 'utf8'))
  if (typeof manifest === 'object' && manifest !== null && 'version' in manifest && typeof manifest.version === 'string') return manifest.version
  throw new Error(`no version in the package.json above ${moduleUrl}`)
}
