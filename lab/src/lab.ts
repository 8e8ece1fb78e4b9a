/**
 * `npm run lab`: Hivecast in a network lab of Linux network namespaces (see lab-options.ts for what it
 * builds). Prints `lab: {json}` as its last line; the full run also writes lab/results/latest.json.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorMessage } from '@hivecast/shared'
import { runConferenceScenario } from './conference-scenario.ts'
import { labHelp, parseLabOptions } from './lab-options.ts'
import { isRoot, removeLabNetwork, removeLabNetworkOnExit } from './namespaces.ts'

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url))

let options
try {
  options = parseLabOptions(process.argv.slice(2))
} catch (err) {
  console.error(`lab: ${errorMessage(err)}\n\n${labHelp()}`)
  process.exit(2)
}
if (options.help) {
  console.log(labHelp())
  process.exit(0)
}
if (!isRoot()) {
  console.error('lab: the network lab needs root (it makes network namespaces, veth links, nftables NAT and tc shaping); run it as root, e.g. sudo npm run lab')
  process.exit(1)
}

removeLabNetwork()
removeLabNetworkOnExit()
const started = Date.now()
await mkdir(RESULTS, { recursive: true })
// Every line of the origin and relays, for whoever wants to know why a figure is what it is.
const processLogFile = join(RESULTS, 'processes.log')
const processLog = createWriteStream(processLogFile)
console.log(`lab: the origin's and relays' lines go to ${processLogFile}`)
const result = await runConferenceScenario(options, line => { console.log(`lab: ${((Date.now() - started) / 1000).toFixed(0)} s: ${line}`) }, line => processLog.write(`${line}\n`))
processLog.end()
removeLabNetwork()
if (!options.quick) {
  await writeFile(join(RESULTS, 'latest.json'), JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2) + '\n')
}
console.log(`lab: ${JSON.stringify(result)}`)
process.exit(0)
