/**
 * Subnet arithmetic of the overlay range: how a range divides into host subnets, which one
 * is free, and a subnet's gateway and network address. Pure (on core/ipv4.ts), shared by
 * the CLI's IPAM (src/ipam.ts), the CLI's host setup and the router.
 */
import {parseCidr} from 'cidr-tools'
import {InputError} from './errors.js'
import {numberToIp, parseIPv4Cidr, type IPv4Cidr} from './ipv4.js'

/** A subnet needs a network address, the bridge's gateway and at least one container. */
const SMALLEST_SUBNET = 30

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
  } catch {
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

function subnetAt(layout: SubnetLayout, index: number): string {
  return `${numberToIp(layout.base + index * 2 ** (32 - layout.subnetSize))}/${layout.subnetSize}`
}

/** Index of `cidr` in the layout, or -1 when it is not one of its subnets. */
function indexOf(layout: SubnetLayout, cidr: string): number {
  const net = parseIPv4Cidr(cidr)
  if (!net || net.prefix !== layout.subnetSize) return -1
  const offset = net.ip - layout.base
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
  return numberToIp(parsed(subnet).start + 1)
}

/** The network address of a subnet (a.b.c.0 for a /24): the host's own overlay address. */
export function networkOf(subnet: string): string {
  return numberToIp(parsed(subnet).start)
}

/** Subnets reaching these functions were checked where they came in (flags, signed records). */
function parsed(subnet: string): IPv4Cidr {
  const net = parseIPv4Cidr(subnet)
  if (!net) throw new Error(`"${subnet}" is not an IPv4 CIDR`)
  return net
}
