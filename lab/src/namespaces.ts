/**
 * The lab's network: Linux network namespaces joined by veth pairs, an "internet" bridge in a namespace
 * of its own, and a leg from this (the root) namespace onto it so the lab can reach the public hosts.
 * Every namespace and link is named `hvlab-…`: whatever a crashed run left is removed before a run
 * starts, and a run removes its own on exit, SIGINT, SIGTERM and uncaught errors.
 */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { NetworkSetupError } from '@hivecast/shared'

const run = promisify(execFile)

/** Every namespace and link of the lab starts with this. */
export const LAB_PREFIX = 'hvlab-'
/** The namespace holding the internet bridge. */
export const INTERNET_NS = `${LAB_PREFIX}internet`
const BRIDGE = `${LAB_PREFIX}br0`
/** The public network: every "public" host and each home router's WAN side. */
export const INTERNET_PREFIX = '198.18.0'
/** The lab's own leg on the internet (the root namespace). */
export const CONTROL_ADDRESS = `${INTERNET_PREFIX}.254`

/** Runs a command (ip, nft, tc), failing with what it printed. */
export async function sh (command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args, { encoding: 'utf8' })).stdout
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? ''
    throw new NetworkSetupError(`${command} ${args.join(' ')} failed: ${stderr.trim() || (err as Error).message}`, { cause: err })
  }
}

/** The command prefix that runs a program inside namespace `ns`. */
export function inNamespace (ns: string): string[] {
  return ['ip', 'netns', 'exec', ns]
}

/** Removes every `hvlab-` namespace and every `hvlab-` link left in the root namespace. Synchronous, for exit handlers. */
export function removeLabNetwork (): void {
  const list = (args: string[]): string => {
    try {
      return execFileSync('ip', args, { encoding: 'utf8' })
    } catch {
      return ''
    }
  }
  for (const line of list(['netns', 'list']).split('\n')) {
    const ns = line.split(' ')[0] ?? ''
    if (ns.startsWith(LAB_PREFIX)) list(['netns', 'delete', ns])
  }
  for (const match of list(['-o', 'link', 'show']).matchAll(/^\d+: (hvlab-[\w-]+)[@:]/gm)) list(['link', 'delete', match[1]!])
}

let handlersInstalled = false
/** Tears the lab network down however this process ends. */
export function removeLabNetworkOnExit (): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.once('exit', removeLabNetwork)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      removeLabNetwork()
      process.exit(130)
    })
  }
  process.once('uncaughtException', err => {
    console.error(err)
    removeLabNetwork()
    process.exit(1)
  })
}

export function isRoot (): boolean {
  return process.getuid?.() === 0
}

/** A namespace with its loopback up. */
export async function addNamespace (ns: string): Promise<void> {
  if (!ns.startsWith(LAB_PREFIX)) throw new NetworkSetupError(`lab namespace ${ns} must start with ${LAB_PREFIX}`)
  await sh('ip', ['netns', 'add', ns])
  await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
}

/** One end of a veth pair: its namespace (undefined: the root one), name, address (CIDR) and bridge, if any. */
export interface LinkEnd {
  ns: string | undefined
  name: string
  address?: string
  bridge?: string
}

/** A veth pair from `a` to `b`, each end set up as it says. */
export async function addLink (a: LinkEnd, b: LinkEnd): Promise<void> {
  for (const end of [a, b]) {
    if (!end.name.startsWith(LAB_PREFIX) || end.name.length > 15) throw new NetworkSetupError(`lab link ${end.name} must start with ${LAB_PREFIX} and fit 15 characters`)
  }
  await sh('ip', ['link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name])
  for (const end of [a, b]) {
    if (end.ns !== undefined) await sh('ip', ['link', 'set', end.name, 'netns', end.ns])
    const ip = end.ns === undefined ? ['ip'] : ['ip', '-n', end.ns]
    if (end.address !== undefined) await sh(ip[0]!, [...ip.slice(1), 'addr', 'add', end.address, 'dev', end.name])
    if (end.bridge !== undefined) await sh(ip[0]!, [...ip.slice(1), 'link', 'set', end.name, 'master', end.bridge])
    await sh(ip[0]!, [...ip.slice(1), 'link', 'set', end.name, 'up'])
  }
}

/** A public host: its own namespace, one link onto the internet bridge at `198.18.0.<octet>`. */
export interface PublicHost {
  ns: string
  address: string
  /** Its link's name (both ends: `<name>` in the host, `<name>b` on the bridge). */
  link: string
}

/** The internet: a bridge in its own namespace, and the lab's leg onto it from the root namespace. */
export async function addInternet (): Promise<void> {
  await addNamespace(INTERNET_NS)
  await sh('ip', ['-n', INTERNET_NS, 'link', 'add', BRIDGE, 'type', 'bridge'])
  await sh('ip', ['-n', INTERNET_NS, 'link', 'set', BRIDGE, 'up'])
  await addLink({ ns: undefined, name: `${LAB_PREFIX}ctl`, address: `${CONTROL_ADDRESS}/24` }, { ns: INTERNET_NS, name: `${LAB_PREFIX}ctlb`, bridge: BRIDGE })
}

/** `name` short (it names the namespace and the link), `octet` 1-253. */
export async function addPublicHost (name: string, octet: number): Promise<PublicHost> {
  const ns = `${LAB_PREFIX}${name}`
  const link = `${LAB_PREFIX}${name}`
  const address = `${INTERNET_PREFIX}.${octet}`
  await addNamespace(ns)
  await addLink({ ns, name: link, address: `${address}/24` }, { ns: INTERNET_NS, name: `${link}b`, bridge: BRIDGE })
  return { ns, address, link }
}
