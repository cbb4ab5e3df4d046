/**
 * What the tunnel backends share: their device, the host's overlay address on it, and the
 * routes they own. Every route the router makes carries protocol ROUTE_PROTO, so a restart
 * finds them (no duplicates) and teardown removes exactly those.
 */
import {existsSync, readFileSync} from 'node:fs'
import {run, probe, ipJson} from '../exec.js'
import {networkOf} from '../../core/subnets.js'

/** Our routes' protocol number (iproute2 shows it as a number; 0-255, unassigned in rt_protos). */
export const ROUTE_PROTO = '211'

export interface RouteEntry {
  dst: string
  gateway?: string
  dev?: string
  protocol?: string
  flags?: string[]
}

const sysfs = (device: string): string => `/sys/class/net/${device}`

/** A look in sysfs, not an `ip` process: the router asks this every few seconds (its health check). */
export async function linkExists(device: string): Promise<boolean> {
  return existsSync(sysfs(device))
}

/** The device's MAC address, from sysfs. */
export function linkAddress(device: string): string {
  return readFileSync(`${sysfs(device)}/address`, 'utf8').trim()
}

export async function deleteLink(device: string): Promise<void> {
  if (await linkExists(device)) await run('ip', ['link', 'del', 'dev', device])
}

/**
 * Gives the device the host's overlay address (the subnet's network address, as /32: the
 * bridge owns the rest of the subnet), its MTU, and brings it up.
 */
export async function configureTunnel(device: string, subnet: string, mtu: number): Promise<string> {
  const address = networkOf(subnet)
  await run('ip', ['addr', 'replace', `${address}/32`, 'dev', device])
  await run('ip', ['link', 'set', 'dev', device, 'mtu', String(mtu), 'up'])
  return address
}

export async function ourRoutes(filter: string[] = []): Promise<RouteEntry[]> {
  return ipJson<RouteEntry>(['route', 'show', 'proto', ROUTE_PROTO, ...filter])
}

/** Routes as the kernel names them: a /32 shows without its length. */
export function routeDst(route: RouteEntry): string {
  return route.dst.includes('/') ? route.dst : `${route.dst}/32`
}

export async function flushOurRoutes(): Promise<void> {
  await probe('ip', ['route', 'flush', 'proto', ROUTE_PROTO])
}

/** Runs many `ip` commands in one process (`ip -batch -`). */
export async function ipBatch(lines: string[]): Promise<void> {
  if (lines.length > 0) await run('ip', ['-batch', '-'], lines.join('\n') + '\n')
}

export async function bridgeBatch(lines: string[]): Promise<void> {
  if (lines.length > 0) await run('bridge', ['-batch', '-'], lines.join('\n') + '\n')
}
