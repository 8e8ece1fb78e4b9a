/**
 * A home network: a router namespace with a WAN link on the lab internet and a LAN link to the home's
 * computer (its own namespace, where the viewers' browser runs), NAT by nftables masquerade. Two kinds:
 * `endpoint-independent` (plain masquerade: Linux keeps the source port, so one inside socket has one
 * outside address whatever it talks to, and hole punching works) and `symmetric` (`masquerade
 * fully-random`: every new destination gets a random outside port, so only TURN reaches it from
 * outside). `nat-probe.ts` checks which one a home really behaves as.
 */
import { addLink, addNamespace, INTERNET_NS, INTERNET_PREFIX, LAB_PREFIX, sh } from './namespaces.ts'
import { capLink } from './link-shaper.ts'

export type NatKind = 'endpoint-independent' | 'symmetric'

export interface Home {
  index: number
  nat: NatKind
  router: string
  /** The namespace of the home's computer, where its browser runs. */
  computer: string
  /** The router's outside address. */
  wanAddress: string
  lanAddress: string
}

export interface HomeOptions {
  /** 1-99: LAN 198.19.<index>.0/24, WAN 198.18.0.<100 + index>. */
  index: number
  nat: NatKind
  downMbit: number
  upMbit: number
}

export async function addHome (options: HomeOptions): Promise<Home> {
  const { index } = options
  const router = `${LAB_PREFIX}home-${index}`
  const computer = `${LAB_PREFIX}pc-${index}`
  const wan = `${LAB_PREFIX}home-${index}`
  const wanAddress = `${INTERNET_PREFIX}.${100 + index}`
  const lanAddress = `198.19.${index}.2`
  await addNamespace(router)
  await addNamespace(computer)
  await addLink({ ns: router, name: wan, address: `${wanAddress}/24` }, { ns: INTERNET_NS, name: `${wan}b`, bridge: `${LAB_PREFIX}br0` })
  await addLink({ ns: router, name: `${LAB_PREFIX}lan-${index}`, address: `198.19.${index}.1/24` }, { ns: computer, name: `${LAB_PREFIX}pc-${index}`, address: `${lanAddress}/24` })
  await sh('ip', ['-n', computer, 'route', 'add', 'default', 'via', `198.19.${index}.1`])
  await sh('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
  const masquerade = options.nat === 'symmetric' ? 'masquerade fully-random' : 'masquerade'
  await sh('ip', ['netns', 'exec', router, 'nft', `add table ip hvlab_nat
    add chain ip hvlab_nat postrouting { type nat hook postrouting priority srcnat; }
    add rule ip hvlab_nat postrouting oifname "${wan}" ${masquerade}`])
  // The access link: the uplink leaves through the router's WAN end, the downlink through the bridge's.
  await capLink({ ns: router, dev: wan }, { ns: INTERNET_NS, dev: `${wan}b` }, options.upMbit, options.downMbit)
  return { index, nat: options.nat, router, computer, wanAddress, lanAddress }
}
