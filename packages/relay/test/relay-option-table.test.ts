/**
 * The option table drives the command line, the config file and `--help`: every option in it is in
 * the help, is taken from a flag and from the file to the same RelayOptions value, and a bad value is
 * refused from both with a message that names the option. Nothing here lists options by hand.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fieldValue, RELAY_OPTION_TABLE } from '../src/relay-option-table.ts'
import { helpText, parseCommandLine } from '../src/relay-command-line.ts'
import { parseRelayConfig } from '../src/relay-config.ts'
import type { RelayOptionSpec } from '../src/relay-option-table.ts'

const ORIGIN = RELAY_OPTION_TABLE.find(spec => spec.flag === 'origin')!.example
const ROOM = RELAY_OPTION_TABLE.find(spec => spec.flag === 'room')!.example

/** The other members of an option's group that must come with it (the tls key with the cert). */
function companions (spec: RelayOptionSpec): RelayOptionSpec[] {
  return spec.group === undefined ? [] : RELAY_OPTION_TABLE.filter(other => other.group === spec.group && other.required === true && other !== spec)
}

function flagArgs (spec: RelayOptionSpec, value: string): string[] {
  return spec.kind === 'switch' ? [`--${spec.flag}`] : [`--${spec.flag}`, value]
}

/** `value` as the YAML file writes it for this option, nested where its path says. */
function yamlLines (specs: Array<[RelayOptionSpec, string]>): string {
  const top = new Map<string, string[]>()
  for (const [spec, value] of specs) {
    const written = spec.kind === 'list' || spec.kind === 'rooms' ? `[${JSON.stringify(value)}]` : spec.kind === 'number' || spec.kind === 'switch' ? value : JSON.stringify(value)
    const [head, tail] = spec.yaml.split('.') as [string, string | undefined]
    const lines = top.get(head) ?? []
    lines.push(tail === undefined ? `${head}: ${written}` : `  ${tail}: ${written}`)
    top.set(head, lines)
  }
  return [...top].map(([head, lines]) => lines[0]!.startsWith('  ') ? `${head}:\n${lines.join('\n')}` : lines.join('\n')).join('\n') + '\n'
}

/** A value the option must refuse, or undefined when every value of its kind is valid (a path, a switch). */
function badValue (spec: RelayOptionSpec): string | undefined {
  if (spec.kind === 'number') return spec.min === 'above0' ? '0' : '-1'
  if (spec.kind === 'address') return 'nowhere'
  if (spec.check !== undefined) return 'not valid at all'
  return undefined
}

test('every option in the table is in --help with its value name', () => {
  const help = helpText()
  for (const spec of RELAY_OPTION_TABLE) {
    assert.ok(help.includes(`--${spec.flag}${spec.value === '' ? '' : ` ${spec.value}`}`), `--${spec.flag} in --help`)
    assert.ok(help.includes(spec.yaml.split('.').at(-1)!), `${spec.yaml} in --config's field list`)
  }
  assert.equal(new Set(RELAY_OPTION_TABLE.map(spec => spec.flag)).size, RELAY_OPTION_TABLE.length, 'each flag once')
  assert.equal(new Set(RELAY_OPTION_TABLE.map(spec => spec.yaml)).size, RELAY_OPTION_TABLE.length, 'each file field once')
  assert.equal(new Set(RELAY_OPTION_TABLE.map(spec => spec.field)).size, RELAY_OPTION_TABLE.length, 'each RelayOptions field once')
})

test('every option is taken from a flag and from the file, to the same value', async () => {
  for (const spec of RELAY_OPTION_TABLE) {
    const given: Array<[RelayOptionSpec, string]> = [[spec, spec.example], ...companions(spec).map((other): [RelayOptionSpec, string] => [other, other.example])]
    // The two options every command line needs, unless they are the one under test.
    const base = [...spec.flag === 'origin' ? [] : ['--origin', ORIGIN], ...spec.flag === 'room' ? [] : ['--room', ROOM]]
    const fromFlags = await parseCommandLine([...base, ...given.flatMap(([s, value]) => flagArgs(s, value))], {})
    assert.notEqual(typeof fromFlags, 'string')
    const flagged = fieldValue(fromFlags as object, spec.field)
    assert.notEqual(flagged, undefined, `--${spec.flag} sets ${spec.field}`)
    const fromFile = parseRelayConfig(yamlLines(given), '/srv/relay/relay.yaml')
    const filed = fieldValue(fromFile, spec.field)
    assert.notEqual(filed, undefined, `${spec.yaml} sets ${spec.field}`)
    if (spec.path === true) continue // the file's relative paths are taken from its directory
    const comparable = (value: unknown): unknown => spec.kind === 'rooms' ? (value as Array<string | { slug: string }>).map(room => typeof room === 'string' ? room : room.slug) : value
    assert.deepEqual(comparable(filed), comparable(flagged), `--${spec.flag} and ${spec.yaml} agree`)
  }
})

test('a bad value is refused from a flag and from the file, naming the option', async () => {
  let checked = 0
  for (const spec of RELAY_OPTION_TABLE) {
    const bad = badValue(spec)
    if (bad === undefined) continue
    checked++
    const companionArgs = companions(spec).flatMap(other => flagArgs(other, other.example))
    await assert.rejects(parseCommandLine(['--origin', ORIGIN, '--room', ROOM, ...flagArgs(spec, bad), ...companionArgs], {}), new RegExp(`--${spec.flag}\\b`), `--${spec.flag} ${bad}`)
    const file = yamlLines([[spec, bad], ...companions(spec).map((other): [RelayOptionSpec, string] => [other, other.example])])
    assert.throws(() => parseRelayConfig(file, 'r.yaml'), (err: Error) => err.message.startsWith(`r.yaml: ${spec.yaml}`) || (spec.group !== undefined && err.message.startsWith(`r.yaml: ${spec.group}`)), `${spec.yaml}: ${bad}`)
  }
  assert.ok(checked > RELAY_OPTION_TABLE.length / 2, 'most options have values to refuse')
  await assert.rejects(parseCommandLine(['--origin', ORIGIN, '--room', ROOM], { LOG_LEVEL: 'loud' }), /LOG_LEVEL "loud" is not a log level/)
})
