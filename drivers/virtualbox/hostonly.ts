/**
 * The host-only network: address arithmetic for --virtualbox-hostonly-cidr and the
 * parsing of `VBoxManage list hostonlyifs` / `list dhcpservers`. Pure functions.
 */
import {InputError} from '../sdk/index.js'

export interface HostOnlyNetwork {
  /** The host's address on the network (the CIDR's address part). */
  hostIp: string
  netmask: string
  prefix: number
  /** The DHCP server's address and the range it hands to VMs. */
  dhcpIp: string
  lowerIp: string
  upperIp: string
}

/** `192.168.59.1/24` → the host address, mask and a DHCP range above .100 (Docker Machine's layout). */
export function parseCidr(cidr: string): HostOnlyNetwork {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr)
  const fix = 'use an IPv4 host address and prefix, e.g. --virtualbox-hostonly-cidr 192.168.59.1/24'
  if (!m) throw new InputError(`--virtualbox-hostonly-cidr "${cidr}" is not an IPv4 CIDR`, fix)
  const ip = toInt(m[1]!)
  const prefix = Number(m[2])
  if (ip === undefined || prefix < 8 || prefix > 29) throw new InputError(`--virtualbox-hostonly-cidr "${cidr}" is not a usable IPv4 CIDR`, fix)
  const size = 2 ** (32 - prefix)
  const network = ip - (ip % size)
  const broadcast = network + size - 1
  if (ip === network || ip === broadcast) {
    throw new InputError(`--virtualbox-hostonly-cidr "${cidr}" names the network or broadcast address`, `use a host address such as ${toIp(network + 1)}/${prefix}`)
  }
  // DHCP in the upper part of the network, clear of the host address.
  const dhcp = size > 200 ? network + 100 : network + Math.floor(size / 2)
  const dhcpIp = dhcp === ip ? dhcp + 1 : dhcp
  return {hostIp: m[1]!, netmask: toIp(2 ** 32 - size), prefix, dhcpIp: toIp(dhcpIp), lowerIp: toIp(dhcpIp + 1), upperIp: toIp(broadcast - 1)}
}

/** `Key: value` blocks separated by blank lines, as VBoxManage's `list` prints them. */
export function parseBlocks(text: string): Record<string, string>[] {
  return text.split(/\n\s*\n/).map(block => {
    const entry: Record<string, string> = {}
    for (const line of block.split('\n')) {
      const i = line.indexOf(':')
      if (i > 0) entry[line.slice(0, i).trim()] = line.slice(i + 1).trim()
    }
    return entry
  }).filter(e => Object.keys(e).length > 0)
}

/** The host-only interface already configured with our address and mask, if any. */
export function findInterface(listing: string, net: HostOnlyNetwork): string | undefined {
  return parseBlocks(listing).find(i => i.IPAddress === net.hostIp && i.NetworkMask === net.netmask)?.Name
}

export function dhcpNetworkName(iface: string): string {
  return `HostInterfaceNetworking-${iface}`
}

export function hasDhcpServer(listing: string, iface: string): boolean {
  return parseBlocks(listing).some(s => s.NetworkName === dhcpNetworkName(iface))
}

function toInt(ip: string): number | undefined {
  const parts = ip.split('.').map(Number)
  if (parts.some(p => p > 255)) return undefined
  return parts.reduce((n, p) => n * 256 + p, 0)
}

function toIp(n: number): string {
  return [24, 16, 8, 0].map(s => Math.floor(n / 2 ** s) % 256).join('.')
}
