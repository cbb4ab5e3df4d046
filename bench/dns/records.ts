/**
 * The DNS benches' records and queries, in one place so every server under test (ours from a
 * hosts file, dnsmasq, the routers of bench/dns-churn fed through etcd) serves the same data.
 *
 * NAMES names with PER_NAME addresses each (a service on several hosts), in 198.19.0.0/16:
 * replica k (1-based) of name n is 198.19.(k*16 + n/256).(n%256), so up to 4,096 names of
 * 15 addresses each stay valid IPv4. The queries: every name, plus one unknown name in ten
 * (NXDOMAIN).
 */
export const MAX_NAMES = 4096
export const MAX_PER_NAME = 15

export interface ServiceRecord {
  /** Relative name, e.g. `svc12`. */
  name: string
  ip: string
  /** Which of the name's addresses, 1-based. */
  replica: number
  /** Index of the name, 0-based. */
  index: number
}

export function serviceRecords(names: number, perName: number): ServiceRecord[] {
  if (!Number.isInteger(names) || names < 1 || names > MAX_NAMES) throw new Error(`names must be 1-${MAX_NAMES}, not ${names}`)
  if (!Number.isInteger(perName) || perName < 1 || perName > MAX_PER_NAME) throw new Error(`addresses per name must be 1-${MAX_PER_NAME}, not ${perName}`)
  const records: ServiceRecord[] = []
  for (let n = 0; n < names; n++) {
    for (let k = 1; k <= perName; k++) records.push({name: `svc${n}`, ip: `198.19.${k * 16 + Math.floor(n / 256)}.${n % 256}`, replica: k, index: n})
  }
  return records
}

/** An /etc/hosts text of the records under `domain` (dnsmasq's --addn-hosts). */
export function hostsText(records: readonly ServiceRecord[], domain: string): string {
  return records.map(r => `${r.ip} ${r.name}.${domain}\n`).join('')
}

/** dnsperf's query file: every name, and an unknown one after every tenth. */
export function queriesText(names: number, domain: string): string {
  const lines: string[] = []
  for (let n = 0; n < names; n++) {
    lines.push(`svc${n}.${domain} A`)
    if (n % 10 === 0) lines.push(`missing${n}.${domain} A`)
  }
  return lines.join('\n') + '\n'
}
