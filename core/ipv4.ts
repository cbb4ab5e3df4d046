/**
 * IPv4 addresses and CIDRs as numbers: the one place for this arithmetic (the overlay's
 * subnets, the router's plan, record checks, the VirtualBox host-only network). cidr-tools
 * parses; node's isIPv4 is the stricter judge of what an address is (no leading zeros).
 */
import {isIPv4} from 'node:net'
import {parseCidr} from 'cidr-tools'

/** An IPv4 CIDR with its prefix written, e.g. 192.168.59.1/24. */
export interface IPv4Cidr {
  /** The address as written (192.168.59.1). */
  ip: number
  prefix: number
  /** The network's first and last address (192.168.59.0 and .255). */
  start: number
  end: number
}

/** a.b.c.d → a 32-bit number; the address must be valid. */
export function ipToNumber(ip: string): number {
  return Number(parseCidr(ip).start)
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** a.b.c.d/len as numbers, or undefined when it is not an IPv4 address with a prefix of 0..32. */
export function parseIPv4Cidr(cidr: string): IPv4Cidr | undefined {
  const [ip, len, extra] = cidr.split('/')
  if (extra !== undefined || !isIPv4(ip ?? '') || !/^\d{1,2}$/.test(len ?? '') || Number(len) > 32) return undefined
  const {start, end} = parseCidr(cidr)
  return {ip: ipToNumber(ip!), prefix: Number(len), start: Number(start), end: Number(end)}
}

export function isIPv4Cidr(cidr: string): boolean {
  return parseIPv4Cidr(cidr) !== undefined
}

/** Whether two parsed CIDRs share an address (cidr-tools' overlapCidr, without parsing again in a hot loop). */
export function overlaps(a: IPv4Cidr, b: IPv4Cidr): boolean {
  return a.start <= b.end && b.start <= a.end
}

/** Whether `outer` holds every address of `inner` (cidr-tools' containsCidr, on parsed CIDRs). */
export function contains(outer: IPv4Cidr, inner: IPv4Cidr): boolean {
  return outer.start <= inner.start && inner.end <= outer.end
}

/** The dotted mask of a prefix length: 24 → 255.255.255.0. */
export function netmaskOf(prefix: number): string {
  return numberToIp(2 ** 32 - 2 ** (32 - prefix))
}
