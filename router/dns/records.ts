/**
 * DNS records as etcd holds them, and the in-memory index every router answers from.
 *
 *   <prefix>/dns/<host>/<container-id>   a container's record, bound to that host's router lease
 *   <prefix>/dns-static/<name>/<ip>      a record added with `cluster dns add`
 *
 * Names are case-insensitive in DNS, so the index keeps them lower-cased; lookups happen on
 * every query, so both directions (name → addresses, address → names) are plain Map reads
 * of arrays rebuilt only when a record changes.
 */
import {isIPv4} from 'node:net'

export interface DnsRecord {
  /** Container name (or the name given to `dns add`), one or more DNS labels. */
  name: string
  /** More names for the same address (label `cluster.dns.alias`, network aliases). */
  aliases: string[]
  /** IPv4 address on the overlay (or anywhere, for static records). */
  ip: string
  /** Host whose router published it; '' for static records. */
  host: string
  /** Docker container id; '' for static records. */
  containerId: string
}

/** One label: letters, digits, '-' and '_' (Docker names use '_'), not starting or ending with '-'. */
const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i

export function isValidLabel(label: string): boolean {
  return LABEL.test(label)
}

/** A relative name of one or more labels (Docker allows '.' in container names). */
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every(isValidLabel)
}

export function staticRecord(name: string, ip: string): DnsRecord {
  return {name: name.toLowerCase(), aliases: [], ip, host: '', containerId: ''}
}

/** Checks a value read from etcd; anything else is ignored (and logged by the caller). */
export function parseRecord(json: string): DnsRecord | undefined {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const r = value as Record<string, unknown>
  if (typeof r.name !== 'string' || !isValidName(r.name)) return undefined
  if (typeof r.ip !== 'string' || !isIPv4(r.ip)) return undefined
  const aliases = Array.isArray(r.aliases) ? r.aliases.filter((a): a is string => typeof a === 'string' && isValidName(a)) : []
  return {
    name: r.name.toLowerCase(),
    aliases: aliases.map(a => a.toLowerCase()),
    ip: r.ip,
    host: typeof r.host === 'string' ? r.host : '',
    containerId: typeof r.containerId === 'string' ? r.containerId : '',
  }
}

/** Every name a record answers to. */
export function namesOf(record: DnsRecord): string[] {
  return [...new Set([record.name, ...record.aliases])]
}

export interface RecordEntry {
  key: string
  record: DnsRecord
}

/**
 * Picks the DNS records out of an etcd range under `<prefix>/dns` (one range covers both
 * `dns/` and `dns-static/`, so list and watch share one revision).
 */
export function isRecordKey(key: string, layout: {dns: string; dnsStatic: string}): boolean {
  return key.startsWith(layout.dns) || key.startsWith(layout.dnsStatic)
}

const EMPTY: readonly string[] = Object.freeze([])

export class RecordIndex {
  private readonly byKey = new Map<string, DnsRecord>()
  private addressesByName = new Map<string, readonly string[]>()
  private namesByAddress = new Map<string, readonly string[]>()
  private listeners: Array<() => void> = []

  /** Adds or replaces the record stored under `key`. */
  put(key: string, record: DnsRecord): void {
    this.byKey.set(key, record)
    this.rebuild()
  }

  delete(key: string): void {
    if (this.byKey.delete(key)) this.rebuild()
  }

  /** Replaces everything (after a full etcd list). */
  replaceAll(entries: Iterable<RecordEntry>): void {
    this.byKey.clear()
    for (const {key, record} of entries) this.byKey.set(key, record)
    this.rebuild()
  }

  /** Addresses of every record named or aliased `name` (lower case), without duplicates. */
  addressesOf(name: string): readonly string[] {
    return this.addressesByName.get(name) ?? EMPTY
  }

  /** Names (lower case) of every record with this address. */
  namesAt(ip: string): readonly string[] {
    return this.namesByAddress.get(ip) ?? EMPTY
  }

  get size(): number {
    return this.byKey.size
  }

  /** Called after every change (the server drops cached answers). */
  onChange(listener: () => void): void {
    this.listeners.push(listener)
  }

  /** Changes are rare next to queries, so both lookup maps are rebuilt whole. */
  private rebuild(): void {
    const byName = new Map<string, Set<string>>()
    const byAddress = new Map<string, Set<string>>()
    for (const record of this.byKey.values()) {
      for (const name of namesOf(record)) {
        addTo(byName, name, record.ip)
        addTo(byAddress, record.ip, name)
      }
    }
    this.addressesByName = freeze(byName)
    this.namesByAddress = freeze(byAddress)
    for (const listener of this.listeners) listener()
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key)
  if (!set) map.set(key, (set = new Set()))
  set.add(value)
}

function freeze(map: Map<string, Set<string>>): Map<string, readonly string[]> {
  return new Map([...map].map(([k, v]) => [k, Object.freeze([...v])]))
}
