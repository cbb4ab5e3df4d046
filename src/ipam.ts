/**
 * IPAM: each host owns one subnet of the cluster's overlay range, recorded in etcd as
 * `<prefix>/subnets/<a.b.c.d-len>` → owner name.
 *
 * The key is created by a create-if-absent transaction (flannel's model), so two hosts
 * created in parallel can never hold the same subnet: the loser of a race picks another
 * free subnet and tries again. Unlike flannel, the key is NOT bound to a lease: a host
 * keeps its subnet across router and host restarts, and only `cluster rm` releases it.
 */
import type {Etcd3} from 'etcd3'
import {parseCidr} from 'cidr-tools'
import type {KeyLayout} from './kv/keys.js'
import {subnetFromKey} from './kv/keys.js'
import type {ClusterSettings} from './model.js'
import {ClusterError, InputError, wrap} from './errors.js'

/** A subnet needs a network address, the bridge's gateway and at least one container. */
const SMALLEST_SUBNET = 30

/** Conflicts only happen when hosts race for the same random pick; a few retries suffice. */
const MAX_ATTEMPTS = 16

export interface SubnetLayout {
  /** Network address of the range as a 32-bit number. */
  base: number
  rangeBits: number
  subnetSize: number
  /** How many subnets of `subnetSize` fit in the range. */
  count: number
}

/** Checks an IPv4 range and subnet size, and says how the range divides. */
export function subnetLayout(range: string, subnetSize: number): SubnetLayout {
  let parsed
  try {
    parsed = parseCidr(range)
  } catch (error) {
    throw new InputError(`overlay range "${range}" is not a CIDR`, 'give it as a.b.c.d/len, e.g. 10.32.0.0/12')
  }
  if (parsed.version !== 4 || !parsed.prefixPresent) {
    throw new InputError(`overlay range "${range}" is not an IPv4 CIDR`, 'give it as a.b.c.d/len, e.g. 10.32.0.0/12')
  }
  const rangeBits = Number(parsed.prefix)
  if (!Number.isInteger(subnetSize) || subnetSize <= rangeBits || subnetSize > SMALLEST_SUBNET) {
    throw new InputError(`subnet size /${subnetSize} does not fit overlay range ${range}`,
      `choose a size between /${rangeBits + 1} and /${SMALLEST_SUBNET}`)
  }
  return {base: Number(parsed.start), rangeBits, subnetSize, count: 2 ** (subnetSize - rangeBits)}
}

export function ipToNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

function subnetAt(layout: SubnetLayout, index: number): string {
  return `${numberToIp(layout.base + index * 2 ** (32 - layout.subnetSize))}/${layout.subnetSize}`
}

/** Index of `cidr` in the layout, or -1 when it is not one of its subnets. */
function indexOf(layout: SubnetLayout, cidr: string): number {
  const [ip, len] = cidr.split('/')
  if (Number(len) !== layout.subnetSize || !/^\d+\.\d+\.\d+\.\d+$/.test(ip ?? '')) return -1
  const offset = ipToNumber(ip!) - layout.base
  const step = 2 ** (32 - layout.subnetSize)
  if (offset < 0 || offset % step !== 0 || offset / step >= layout.count) return -1
  return offset / step
}

/**
 * A random free subnet of `size` in `range`, or null when every one is taken.
 * Random rather than first-free, so hosts racing for a subnet rarely pick the same one.
 */
export function pickSubnet(range: string, size: number, taken: string[], rand: () => number = Math.random): string | null {
  const layout = subnetLayout(range, size)
  const used = new Set<number>()
  for (const cidr of taken) {
    const i = indexOf(layout, cidr)
    if (i >= 0) used.add(i)
  }
  const free = layout.count - used.size
  if (free <= 0) return null
  let nth = Math.min(Math.floor(rand() * free), free - 1)
  for (let i = 0; i < layout.count; i++) {
    if (used.has(i)) continue
    if (nth === 0) return subnetAt(layout, i)
    nth--
  }
  return null
}

/** The first address of a subnet: the gateway of the host's Docker bridge. */
export function gatewayOf(subnet: string): string {
  const [ip] = subnet.split('/')
  return numberToIp((ipToNumber(ip!) & maskOf(subnet)) + 1)
}

/** The network address of a subnet (a.b.c.0 for a /24): the host's own overlay address. */
export function networkOf(subnet: string): string {
  const [ip] = subnet.split('/')
  return numberToIp(ipToNumber(ip!) & maskOf(subnet))
}

function maskOf(cidr: string): number {
  const len = Number(cidr.split('/')[1])
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}

/** Subnet → owner, as etcd holds it now. */
/** Every allocated subnet (CIDR → owning machine). */
export async function listSubnets(client: Etcd3, layout: KeyLayout): Promise<Map<string, string>> {
  const byKey = await client.getAll().prefix(layout.subnets).strings()
  return new Map(Object.entries(byKey).map(([key, owner]) => [subnetFromKey(key), owner]))
}

/**
 * The subnet of `owner`: the one it already holds, else a new random free one taken
 * atomically. Throws a ClusterError when the range is full.
 */
export async function allocateSubnet(client: Etcd3, layout: KeyLayout, settings: ClusterSettings, owner: string): Promise<string> {
  const {count} = subnetLayout(settings.range, settings.subnetSize)
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const subnets = await listSubnets(client, layout)
      for (const [cidr, holder] of subnets) if (holder === owner) return cidr
      const cidr = pickSubnet(settings.range, settings.subnetSize, [...subnets.keys()])
      if (cidr === null) throw rangeFull(settings, count)
      const key = layout.subnet(cidr)
      const txn = await client.if(key, 'Create', '==', 0).then(client.put(key).value(owner)).commit()
      if (txn.succeeded) return cidr
    }
  } catch (error) {
    throw wrap(error, `cannot allocate an overlay subnet for ${owner} in etcd`, 'check that etcd is reachable (`cluster kv status`)')
  }
  throw new ClusterError(`cannot allocate an overlay subnet for ${owner}: lost the race for a free subnet ${MAX_ATTEMPTS} times`,
    {hint: 'retry the command'})
}

function rangeFull(settings: ClusterSettings, inUse: number): ClusterError {
  return new ClusterError(`overlay range ${settings.range} is full (${inUse} subnets of /${settings.subnetSize} in use)`,
    {hint: 'remove machines or choose a larger --overlay-range at cluster init'})
}

/** Frees every subnet `owner` holds; a subnet already gone or taken over by another owner is left alone. */
export async function releaseSubnet(client: Etcd3, layout: KeyLayout, owner: string): Promise<string[]> {
  try {
    const released: string[] = []
    for (const [cidr, holder] of await listSubnets(client, layout)) {
      if (holder !== owner) continue
      const key = layout.subnet(cidr)
      const txn = await client.if(key, 'Value', '==', owner).then(client.delete().key(key)).commit()
      if (txn.succeeded) released.push(cidr)
    }
    return released
  } catch (error) {
    throw wrap(error, `cannot release the overlay subnet of ${owner} in etcd`, 'check that etcd is reachable (`cluster kv status`)')
  }
}
