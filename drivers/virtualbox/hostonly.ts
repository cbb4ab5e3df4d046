/**
 * The host-only network: address arithmetic for --virtualbox-hostonly-cidr and the
 * parsing of `VBoxManage list hostonlyifs` / `list dhcpservers`. Pure functions.
 */
import {InputError, netmaskOf, numberToIp, parseIPv4Cidr} from '../sdk/index.js'

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
export function hostOnlyNetwork(cidr: string): HostOnlyNetwork {
  const fix = 'use an IPv4 host address and prefix, e.g. --virtualbox-hostonly-cidr 192.168.59.1/24'
  // The shape first, so that 300.1.1.1/24 is told apart from a name such as vboxnet0.
  if (!/^\d+(?:\.\d+){3}\/\d+$/.test(cidr)) throw new InputError(`--virtualbox-hostonly-cidr "${cidr}" is not an IPv4 CIDR`, fix)
  const net = parseIPv4Cidr(cidr)
  if (!net || net.prefix < 8 || net.prefix > 29) throw new InputError(`--virtualbox-hostonly-cidr "${cidr}" is not a usable IPv4 CIDR`, fix)
  const {ip, prefix, start, end} = net
  if (ip === start || ip === end) {
    throw new InputError(`--virtualbox-hostonly-cidr "${cidr}" names the network or broadcast address`, `use a host address such as ${numberToIp(start + 1)}/${prefix}`)
  }
  // DHCP in the upper part of the network, clear of the host address.
  const size = end - start + 1
  const dhcp = size > 200 ? start + 100 : start + Math.floor(size / 2)
  const dhcpIp = dhcp === ip ? dhcp + 1 : dhcp
  return {hostIp: numberToIp(ip), netmask: netmaskOf(prefix), prefix, dhcpIp: numberToIp(dhcpIp), lowerIp: numberToIp(dhcpIp + 1), upperIp: numberToIp(end - 1)}
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
