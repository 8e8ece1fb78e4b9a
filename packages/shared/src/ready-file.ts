/**
 * The ready file (`--ready-file <path>`): a service writes one JSON document once it serves, saying
 * where it can be reached, so a supervisor (devnet, tests, systemd units) learns its addresses
 * without reading its log. Written atomically (a temporary file renamed into place), so a reader
 * never sees half a document.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import * as v from 'valibot'
import { InvalidMessageError } from './errors.ts'

const readySchema = v.strictObject({
  service: v.picklist(['origin', 'relay']),
  pid: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  /** Base HTTP URL, e.g. `http://127.0.0.1:8090/`. */
  url: v.pipe(v.string(), v.url()),
  /** libp2p addresses, each ending in `/p2p/<peerId>`. */
  multiaddrs: v.array(v.string()),
  /** The service's peer id; an origin's is the room key. */
  peerId: v.string(),
  /** Where an origin listens for its stream input (e.g. `rtmp://0.0.0.0:1935/live`), without secrets; none for the other kinds. */
  inputs: v.optional(v.array(v.string()))
})

export type ServiceReady = v.InferOutput<typeof readySchema>

export async function writeReadyFile (path: string, ready: ServiceReady): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, JSON.stringify(ready, null, 2) + '\n')
  await rename(temporary, path)
}

/**
 * The ready document at `path`; undefined while there is none yet. Throws InvalidMessageError when the
 * file holds something else: a path shared with another program, or a service of another version.
 */
export async function readReadyFile (path: string): Promise<ServiceReady | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new InvalidMessageError(`ready file ${path} is not JSON: give each service a ready file of its own`, { cause: err })
  }
  const result = v.safeParse(readySchema, value)
  if (!result.success) throw new InvalidMessageError(`ready file ${path} is not a Hivecast ready document (${result.issues[0].message}): give each service a ready file of its own`)
  return result.output
}
