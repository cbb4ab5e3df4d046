/**
 * Which DNS record a container gets, and what to change in etcd to get there. Pure: the
 * Docker and etcd ends live in docker.ts and publish.ts.
 */
import {containsCidr} from 'cidr-tools'
import {isValidName, type DnsRecord} from '../../core/dns-records.js'

/** `docker run -l cluster.dns.alias=db,db-primary`: more names for a container. */
export const ALIAS_LABEL = 'cluster.dns.alias'

/** The parts of `docker inspect` we read (dockerode's ContainerInspectInfo fits). */
export interface InspectedContainer {
  Id: string
  Name: string
  State: {Running: boolean}
  Config: {Labels?: Record<string, string> | null}
  NetworkSettings: {Networks?: Record<string, {IPAddress?: string; Aliases?: string[] | null}> | null}
}

/**
 * The record of a running container with an address inside the overlay range; undefined for
 * anything else (stopped, host network, other networks only, or a name DNS cannot carry).
 */
export function containerRecord(info: InspectedContainer, ctx: {hostName: string; range: string}): DnsRecord | undefined {
  if (!info.State.Running) return undefined
  const name = info.Name.replace(/^\//, '').toLowerCase()
  if (!isValidName(name)) return undefined
  const network = Object.values(info.NetworkSettings.Networks ?? {})
    .find(n => n.IPAddress && containsCidr(ctx.range, n.IPAddress))
  if (!network?.IPAddress) return undefined
  const labelled = (info.Config.Labels?.[ALIAS_LABEL] ?? '').split(',')
  // Docker adds the short container id as a network alias on user networks: not a name anyone chose.
  const networkAliases = (network.Aliases ?? []).filter(a => !info.Id.startsWith(a))
  const aliases = [...new Set([...labelled, ...networkAliases].map(a => a.trim().toLowerCase()))]
    .filter(a => a !== name && isValidName(a))
  return {name, aliases, ip: network.IPAddress, host: ctx.hostName, containerId: info.Id}
}

export interface SyncPlan {
  put: DnsRecord[]
  remove: string[]
}

/**
 * From what should be in etcd (by container id) and what we know is there (id → JSON as
 * written), the puts and removals that make etcd right. Unchanged records are left alone.
 */
export function planSync(desired: ReadonlyMap<string, DnsRecord>, published: ReadonlyMap<string, string>): SyncPlan {
  const put = [...desired.values()].filter(r => published.get(r.containerId) !== JSON.stringify(r))
  const remove = [...published.keys()].filter(id => !desired.has(id))
  return {put, remove}
}
