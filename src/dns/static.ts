/**
 * `cluster dns add|rm|ls`: records that are not containers (an external database, a load
 * balancer), and the listing of every record. Used by the CLI, not by the router.
 */
import {isIPv4} from 'node:net'
import {AlreadyExistsError, InputError, NotFoundError} from '../../core/errors.js'
import {kvCall, type Kv} from '../kv/client.js'
import {isValidLabel, staticRecord, type DnsRecord, dnsRange, recordsOf} from '../../core/dns-records.js'

/** Checks `dns add|rm` arguments; the name comes back lower-cased (DNS ignores case). */
export function parseStaticArgs(name: string, ip: string | undefined): {name: string; ip?: string} {
  if (!isValidLabel(name)) {
    throw new InputError(`"${name}" is not a valid DNS label`,
      'use 1 to 63 letters, digits, "-" or "_", not starting or ending with "-" (e.g. db or lb-1)')
  }
  if (ip !== undefined && !isIPv4(ip)) throw new InputError(`"${ip}" is not an IPv4 address`, 'give the address as a.b.c.d')
  return {name: name.toLowerCase(), ip}
}

export async function addStaticRecord(kv: Kv, name: string, ip: string): Promise<DnsRecord> {
  const record = staticRecord(name, ip)
  const key = kv.layout.dnsStaticRecord(record.name, ip)
  const result = await kvCall(kv, `add DNS record ${record.name}`, () =>
    kv.client.if(key, 'Create', '==', 0).then(kv.client.put(key).value(JSON.stringify(record))).commit())
  if (!result.succeeded) {
    throw new AlreadyExistsError(`DNS record ${record.name} → ${ip} already exists`, {hint: 'nothing to do; `cluster dns ls` shows it'})
  }
  return record
}

/** Removes `name → ip`, or every address of `name` when ip is omitted; returns how many went. */
export async function removeStaticRecords(kv: Kv, name: string, ip?: string): Promise<number> {
  const deleted = await kvCall(kv, `remove DNS record ${name}`, () => ip
    ? kv.client.delete().key(kv.layout.dnsStaticRecord(name, ip)).exec()
    : kv.client.delete().prefix(`${kv.layout.dnsStatic}${name}/`).exec())
  const count = Number(deleted.deleted)
  if (count === 0) {
    throw new NotFoundError(`no record ${name}${ip ? ` → ${ip}` : ''} was added with \`cluster dns add\``,
      {hint: 'see `cluster dns ls`; records of containers go away with their container'})
  }
  return count
}

/** The rows of `cluster dns ls`: host '' marks a record added with `dns add`. */
export async function listDns(kv: Kv): Promise<DnsRecord[]> {
  const listing = await kvCall(kv, 'list DNS records', () => kv.client.getAll().prefix(dnsRange(kv.layout)).strings())
  return recordsOf(Object.entries(listing).map(([key, value]) => ({key, value})), kv.layout)
    .map(({record}) => record)
    .sort((a, b) => a.name.localeCompare(b.name) || a.ip.localeCompare(b.ip, undefined, {numeric: true}))
}
