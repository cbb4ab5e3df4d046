/**
 * DNS records as etcd holds them, shared by the CLI (`cluster dns`) and the routers:
 *
 *   <prefix>/dns/<host>/<container-id>   a container's record, bound to that host's router lease
 *   <prefix>/dns-static/<name>/<ip>      a record added with `cluster dns add`
 *
 * Values read from etcd may be anything: parseRecord validates, recordsOf skips what fails.
 */
import {isIPv4} from 'node:net'
import type {KeyLayout} from './keys.js'

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

/** Called with the key of a value under the DNS folders that is not a valid record. */
export type OnMalformed = (key: string) => void

/** The records among `kvs` (a listing of the layout's DNS folders); malformed ones are reported and skipped. */
export function recordsOf(kvs: Array<{key: string; value: string}>, layout: KeyLayout, onMalformed?: OnMalformed): RecordEntry[] {
  return kvs.flatMap(kv => recordEntry(kv, layout, onMalformed) ?? [])
}

/** `<prefix>/dns` without the slash: the common start of `dns/` and `dns-static/`. */
export function dnsRange(layout: KeyLayout): string {
  return layout.dns.slice(0, -1)
}

/** The record at one key, if the key is a DNS record's and its value is valid. */
export function recordEntry(kv: {key: string; value: string}, layout: KeyLayout, onMalformed?: OnMalformed): RecordEntry | undefined {
  const {key} = kv
  if (!isRecordKey(key, layout)) return undefined
  const record = parseRecord(kv.value)
  if (!record) onMalformed?.(key)
  return record && {key, record}
}
