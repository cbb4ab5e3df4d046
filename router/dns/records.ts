/**
 * The in-memory index every router answers DNS from (records: core/dns-records.ts).
 *
 * Names are case-insensitive in DNS, so the index keeps them lower-cased; lookups happen on
 * every query, so both directions (name → addresses, address → names) are plain Map reads
 * of arrays rebuilt only when a record changes.
 */
import {namesOf, type DnsRecord, type RecordEntry} from '../../core/dns-records.js'

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
