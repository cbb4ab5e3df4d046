/**
 * The in-memory index every router answers DNS from (records: core/dns-records.ts).
 *
 * Names are case-insensitive in DNS, so the index keeps them lower-cased; lookups happen on
 * every query, so both directions (name → addresses, address → names) are plain Map reads
 * of frozen arrays. A change rebuilds only the arrays of the names and addresses it touches:
 * with 10,000 records a whole rebuild cost ~90 ms in the router's --lite-mode, so a router
 * could follow barely ten container starts or stops a second and fell ever further behind
 * under more (bench/dns-churn). Listeners hear which names and addresses changed, so cached
 * answers of the others stay.
 */
import {namesOf, type DnsRecord, type RecordEntry} from '../../core/dns-records.js'

const EMPTY: readonly string[] = Object.freeze([])

/** What one change touched; undefined (to a listener) after replaceAll, when anything may have. */
export interface IndexChange {
  names: ReadonlySet<string>
  addresses: ReadonlySet<string>
}

export type ChangeListener = (change: IndexChange | undefined) => void

type Touched = {names: Set<string>; addresses: Set<string>}

/** key → value → how many records hold the pair (a name may have one address twice: a container and a static record). */
type Counts = Map<string, Map<string, number>>

export class RecordIndex {
  private readonly byKey = new Map<string, DnsRecord>()
  private readonly addressCounts: Counts = new Map()
  private readonly nameCounts: Counts = new Map()
  private readonly addressesByName = new Map<string, readonly string[]>()
  private readonly namesByAddress = new Map<string, readonly string[]>()
  private listeners: ChangeListener[] = []

  /** Adds or replaces the record stored under `key`. */
  put(key: string, record: DnsRecord): void {
    const old = this.byKey.get(key)
    this.byKey.set(key, record)
    if (old && sameAnswers(old, record)) return
    const change = touched()
    if (old) this.tally(old, -1, change)
    this.tally(record, 1, change)
    this.refresh(change)
  }

  delete(key: string): void {
    const old = this.byKey.get(key)
    if (!old) return
    this.byKey.delete(key)
    const change = touched()
    this.tally(old, -1, change)
    this.refresh(change)
  }

  /** Replaces everything (after a full etcd list). */
  replaceAll(entries: Iterable<RecordEntry>): void {
    this.byKey.clear()
    this.addressCounts.clear()
    this.nameCounts.clear()
    this.addressesByName.clear()
    this.namesByAddress.clear()
    const change = touched()
    for (const {key, record} of entries) {
      const old = this.byKey.get(key)
      if (old) this.tally(old, -1, change)
      this.byKey.set(key, record)
      this.tally(record, 1, change)
    }
    this.refresh(change, true)
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

  /** Called after every change (the server drops the cached answers it touched). */
  onChange(listener: ChangeListener): void {
    this.listeners.push(listener)
  }

  /** Counts the record's pairs in (+1) or out (-1), noting each name and the address as touched. */
  private tally(record: DnsRecord, by: 1 | -1, change: Touched): void {
    for (const name of namesOf(record)) {
      count(this.addressCounts, name, record.ip, by)
      count(this.nameCounts, record.ip, name, by)
      change.names.add(name)
    }
    change.addresses.add(record.ip)
  }

  /** Rebuilds the lookup arrays of what changed, then tells the listeners (everything, after replaceAll). */
  private refresh(change: IndexChange, everything = false): void {
    for (const name of change.names) setOrDelete(this.addressesByName, name, this.addressCounts.get(name))
    for (const ip of change.addresses) setOrDelete(this.namesByAddress, ip, this.nameCounts.get(ip))
    for (const listener of this.listeners) listener(everything ? undefined : change)
  }
}

function touched(): Touched {
  return {names: new Set(), addresses: new Set()}
}

/** Same name, aliases and address: the answers it gives are the same. */
function sameAnswers(a: DnsRecord, b: DnsRecord): boolean {
  return a.name === b.name && a.ip === b.ip && a.aliases.length === b.aliases.length && a.aliases.every((x, i) => x === b.aliases[i])
}

function count(counts: Counts, key: string, value: string, by: 1 | -1): void {
  let values = counts.get(key)
  if (!values) counts.set(key, (values = new Map()))
  const n = (values.get(value) ?? 0) + by
  if (n > 0) values.set(value, n)
  else values.delete(value)
  if (values.size === 0) counts.delete(key)
}

function setOrDelete(map: Map<string, readonly string[]>, key: string, values: Map<string, number> | undefined): void {
  if (values) map.set(key, Object.freeze([...values.keys()]))
  else map.delete(key)
}
