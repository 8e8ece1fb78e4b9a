/**
 * The relay's config file (`--config relay.yaml`): origins, peers, rooms with their keys, limits, TLS
 * and the public URL, for a volunteer who would rather keep one file than a long command line. It is
 * checked whole before anything starts; the first problem stops the relay with the field's path
 * (`rooms[1].keys[0]`) and what to write instead. Relative paths (data, tls) are taken from the file's
 * own directory. Command-line flags override the file's values. Its fields, their checks and units come
 * from the option table (relay-option-table.ts).
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import * as v from 'valibot'
import { parse as parseYaml } from 'yaml'
import { checkConfig, checkConfigField, configFields, InvalidConfigError, MissingResourceError, parseHostPort } from '@hivecast/shared'
import { assertRoomKey, loadTls } from './relay-options.ts'
import { fieldValue, GROUPS, numberValue, RELAY_OPTION_TABLE, setField } from './relay-option-table.ts'
import type { RelayOptions, RoomOption } from './relay-options.ts'
import type { RelayOptionSpec } from './relay-option-table.ts'

/** What a config file can set: every option in the table (not the API-only ones such as `log`). */
export type RelayConfig = Partial<Omit<RelayOptions, 'dialScope' | 'fetchTimeoutMs' | 'recordingFetchTimeoutMs' | 'recordingRetryMs' | 'log'>>

const text = (what: string, example: string): v.GenericSchema<unknown, string> =>
  v.pipe(v.string(`must be ${what}, e.g. ${example}`), v.nonEmpty(`must not be empty: give ${what}, e.g. ${example}`))

const list = (what: string, example: string): v.GenericSchema<unknown, string[]> =>
  v.array(text(what, example), `must be a list of ${what}s, e.g. [${example}]`)

const roomSchema = v.union([
  text('a room slug', 'janson'),
  v.strictObject({
    slug: text('the room\'s slug', 'janson'),
    keys: v.optional(list('peer id', '12D3KooW...'))
  }, configFields('a room has slug and keys (further peer ids allowed to sign it)'))
], 'must be a room slug (janson) or { slug: janson, keys: [12D3KooW...] }')

function valueSchema (spec: RelayOptionSpec): v.GenericSchema {
  switch (spec.kind) {
    case 'text': case 'address': return text(spec.what, spec.example)
    case 'list': return list(spec.what, spec.example)
    case 'switch': return v.boolean('must be true or false')
    case 'number': return v.number(`must be a number of ${spec.unit?.name ?? spec.what}, e.g. ${spec.example}`)
    case 'rooms': return v.pipe(v.array(roomSchema, 'must be a list of rooms, each "- janson" or "- slug: janson"'), v.minLength(1, 'must list at least one room'))
  }
}

const andList = (names: string[]): string => names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`

/** The file's schema, built from the table: one field per option, nested where the YAML path is. */
function fileSchema (): v.GenericSchema {
  const top = new Map<string, v.GenericSchema | Map<string, v.GenericSchema>>()
  for (const spec of RELAY_OPTION_TABLE) {
    const [head, tail] = spec.yaml.split('.') as [string, string | undefined]
    const schema = spec.required === true ? valueSchema(spec) : v.optional(valueSchema(spec))
    if (tail === undefined) {
      top.set(head, schema)
      continue
    }
    const nested = top.get(head) ?? new Map<string, v.GenericSchema>()
    if (nested instanceof Map) nested.set(tail, schema)
    top.set(head, nested)
  }
  const entries = [...top].map(([name, schema]) => [name, schema instanceof Map
    ? v.optional(v.strictObject(Object.fromEntries(schema), configFields(`${name} has ${andList([...schema.keys()])}`)))
    : schema])
  return v.strictObject(Object.fromEntries(entries), configFields(`the file has ${andList([...top.keys()])}`))
}

const FILE_SCHEMA = fileSchema()

/** One option's value as the file wrote it, checked and converted to its RelayOptions field. */
function fieldFromFile (spec: RelayOptionSpec, written: unknown, file: string, base: string): unknown {
  const at = spec.yaml
  switch (spec.kind) {
    case 'text': {
      const value = written as string
      checkConfigField(file, at, () => spec.check?.(value))
      return spec.path === true ? resolve(base, value) : value
    }
    case 'list': return (written as string[]).map((item, i) => checkConfigField(file, `${at}[${i}]`, () => { spec.check?.(item); return item }))
    case 'address': return checkConfigField(file, at, () => parseHostPort(written as string))
    case 'number':
      try {
        return numberValue(spec, written, at)
      } catch (err) {
        throw new InvalidConfigError(`${file}: ${(err as Error).message}`, { cause: err })
      }
    case 'switch': return written
    case 'rooms': {
      const seen = new Set<string>()
      return (written as Array<string | RoomOption>).map((given, i): RoomOption => {
        const room = typeof given === 'string' ? { slug: given } : given
        const where = typeof given === 'string' ? `rooms[${i}]` : `rooms[${i}].slug`
        checkConfigField(file, where, () => spec.check?.(room.slug))
        if (seen.has(room.slug)) throw new InvalidConfigError(`${file}: ${where} "${room.slug}" is listed twice: list each room once, with all its keys`)
        seen.add(room.slug)
        room.keys?.forEach((key, j) => checkConfigField(file, `rooms[${i}].keys[${j}]`, () => assertRoomKey(key)))
        return room
      })
    }
  }
}

/** Parses and checks a config file's text; `file` names it in errors and anchors relative paths. */
export function parseRelayConfig (source: string, file: string): RelayConfig {
  let raw: unknown
  try {
    raw = parseYaml(source)
  } catch (err) {
    throw new InvalidConfigError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0] ?? ''}. Fix the line it names.`)
  }
  // An empty file is an empty config, not an error: every option can come from the command line.
  raw ??= {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError(`${file}: (top level) must be fields such as "rooms: [janson]" and "origins: [...]", one per line, not a list or a single value`)
  const checked = checkConfig(FILE_SCHEMA, raw, file) as object
  const base = dirname(resolve(file))
  const config: Record<string, unknown> = {}
  for (const spec of RELAY_OPTION_TABLE) {
    const written = fieldValue(checked, spec.yaml)
    if (written !== undefined) setField(config, spec.field, fieldFromFile(spec, written, file, base))
  }
  const result = config as RelayConfig
  if (result.acme !== undefined) checkConfigField(file, 'acme', () => { GROUPS.acme.check?.(result.acme!) })
  return result
}

/** Reads, parses and checks a config file, including that its TLS files make a usable pair. */
export async function loadRelayConfig (file: string): Promise<RelayConfig> {
  let source: string
  try {
    source = await readFile(file, 'utf8')
  } catch (err) {
    throw new MissingResourceError(`cannot read --config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; give the path of a relay.yaml (see the README for an example)`)
  }
  const config = parseRelayConfig(source, file)
  const tls = config.tls
  if (tls !== undefined) {
    try {
      await loadTls(tls)
    } catch (err) {
      throw new InvalidConfigError(`${file}: tls: ${(err as Error).message}`, { cause: err })
    }
  }
  return config
}
