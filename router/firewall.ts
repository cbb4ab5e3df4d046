/**
 * The iptables side of routable container IPs, whatever the backend:
 *  - containers are NOT masqueraded towards the overlay range (Docker masquerades every
 *    packet leaving its bridge; across the overlay the container's own address must show);
 *  - forwarding between the overlay and the bridge is accepted (Docker's FORWARD policy is
 *    DROP and its chains only let in published ports).
 * Both live in our own chains, jumped to from the top of the built-in chain (and of
 * DOCKER-USER, which Docker keeps first), so they are easy to find, check and remove.
 * ensureFirewall is idempotent and cheap (one `iptables-save` when nothing is missing); the
 * router re-runs it when dockerd (re)starts, since Docker rewrites its chains then, and every
 * 30 s against anyone else flushing them (router/main.ts).
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {run, probe} from './exec.js'
import {METRICS_PORT, PROBE_PORT} from '../core/metrics.js'

type Table = 'raw' | 'nat' | 'filter'

interface Chain {
  table: Table
  name: string
  /** Built-in (or Docker's) chains that jump to it, from their first rule. */
  from: string[]
  rules: (subnet: string, range: string) => string[][]
}

const CHAINS: Chain[] = [
  // Overlay-to-overlay packets skip connection tracking: nothing is NATed between overlay
  // addresses, and conntrack per forwarded packet costs throughput on a busy host.
  {table: 'raw', name: 'CLUSTER-RAW', from: ['PREROUTING', 'OUTPUT'], rules: (_subnet, range) => [['-s', range, '-d', range, '-j', 'NOTRACK']]},
  // ACCEPT, not RETURN: in the nat table it ends NAT for the packet, so Docker's
  // MASQUERADE further down POSTROUTING never sees it; RETURN would fall through to it.
  {table: 'nat', name: 'CLUSTER-POSTROUTING', from: ['POSTROUTING'], rules: (subnet, range) => [['-s', subnet, '-d', range, '-j', 'ACCEPT']]},
  // Swarm's control (2377), gossip (7946) and VXLAN data (4789) ports are bound on every
  // address by dockerd, but cluster hosts use them only from overlay addresses (inside the
  // tunnel): from anywhere else they are dropped. So are the router's metrics (also served
  // on loopback, hence `! -i lo`) and probe ports, bound on the bridge address, which a
  // neighbour on the underlay could otherwise route to. Written as `iptables -S` prints them.
  {table: 'filter', name: 'CLUSTER-INPUT', from: ['INPUT'], rules: (_subnet, range) => [
    ['!', '-s', range, '-p', 'tcp', '-m', 'tcp', '--dport', '2377', '-j', 'DROP'],
    ['!', '-s', range, '-p', 'tcp', '-m', 'tcp', '--dport', '7946', '-j', 'DROP'],
    ['!', '-s', range, '-p', 'udp', '-m', 'udp', '--dport', '7946', '-j', 'DROP'],
    ['!', '-s', range, '-p', 'udp', '-m', 'udp', '--dport', '4789', '-j', 'DROP'],
    ['!', '-s', range, '!', '-i', 'lo', '-p', 'tcp', '-m', 'tcp', '--dport', String(METRICS_PORT), '-j', 'DROP'],
    ['!', '-s', range, '-p', 'udp', '-m', 'udp', '--dport', String(PROBE_PORT), '-j', 'DROP'],
  ]},
  {table: 'filter', name: 'CLUSTER-FORWARD', from: ['FORWARD', 'DOCKER-USER'], rules: (subnet, range) => [
    ['-s', range, '-d', subnet, '-j', 'ACCEPT'],
    ['-s', subnet, '-d', range, '-j', 'ACCEPT'],
  ]},
]

const BUILT_IN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'])

const iptables = (table: string, args: string[]) => run('iptables', ['-w', '-t', table, ...args])

/**
 * Pure: `iptables-save` output as one `iptables -S` listing per table (`:NAME POLICY [n:m]`
 * becomes `-P NAME POLICY` for a built-in chain and `-N NAME` for one of ours or Docker's;
 * the rules are printed the same by both). One process for every table instead of one per
 * table: the router runs this periodically, and each process costs CPU on every host.
 */
export function tablesOf(save: string): Map<string, string> {
  const tables = new Map<string, string>()
  let table: string | undefined
  let lines: string[] = []
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1)
      lines = []
    } else if (line === 'COMMIT' && table !== undefined) {
      tables.set(table, lines.join('\n') + '\n')
      table = undefined
    } else if (table !== undefined && line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ')
      lines.push(policy === '-' ? `-N ${name}` : `-P ${name} ${policy}`)
    } else if (table !== undefined && line.startsWith('-A ')) {
      lines.push(line)
    }
  }
  return tables
}

/**
 * Pure: the rules of `chain` in a whole table's `iptables -S` output (without its `-N`/`-P`
 * line), or null when the table has no such chain.
 */
export function chainRules(tableDump: string, chain: string): string[] | null {
  const lines = tableDump.split('\n')
  if (!lines.some(l => l === `-N ${chain}` || l.startsWith(`-P ${chain} `))) return null
  return lines.filter(l => l.startsWith(`-A ${chain} `))
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward'

/** net.ipv4.ip_forward=1, written only when it is not (a read costs no process; sysctl would). */
function enableForwarding(): void {
  try {
    if (readFileSync(IP_FORWARD, 'utf8').trim() !== '1') writeFileSync(IP_FORWARD, '1\n')
  } catch (error) {
    throw new Error(`cannot enable IPv4 forwarding (${(error as Error).message})`, {cause: error})
  }
}

/**
 * One `iptables-save` for every table (not a listing per table or chain: the router runs this
 * periodically, and starting processes is much of its idle CPU), then only the changes needed.
 */
export async function ensureFirewall(subnet: string, range: string): Promise<void> {
  enableForwarding()
  // Our own chains' changes do not touch the parents' rules, so one listing serves both loops.
  // A table not in use yet is not listed: its chains are missing, and made.
  const dumps = tablesOf(await run('iptables-save', []))
  const rulesOf = (table: Table, chain: string) => chainRules(dumps.get(table) ?? '', chain)
  for (const {table, name, rules} of CHAINS) {
    const wanted = rules(subnet, range)
    const have = rulesOf(table, name)
    const expected = wanted.map(r => `-A ${name} ${r.join(' ')}`)
    if (have === null) await iptables(table, ['-N', name])
    if (have === null || have.join('\n') !== expected.join('\n')) {
      await iptables(table, ['-F', name])
      for (const rule of wanted) await iptables(table, ['-A', name, ...rule])
    }
  }
  for (const {table, name, from} of CHAINS) {
    for (const parent of from) {
      // A built-in chain is there even when its table is not listed yet (unused: nothing in it);
      // DOCKER-USER exists only once Docker has run.
      const have = rulesOf(table, parent) ?? (BUILT_IN.has(parent) ? [] : null)
      if (have === null) continue
      const line = `-A ${parent} -j ${name}`
      if (have[0] === line) continue
      // Missing, or pushed down by rules inserted above it: put it back on top, once.
      if (have.includes(line)) await iptables(table, ['-D', parent, '-j', name])
      await iptables(table, ['-I', parent, '1', '-j', name])
    }
  }
}

export async function removeFirewall(): Promise<void> {
  for (const {table, name, from} of CHAINS) {
    for (const parent of from) {
      while ((await probe('iptables', ['-w', '-t', table, '-D', parent, '-j', name])) !== null) {
        // A jump can have been added twice by hand; remove every copy.
      }
    }
    if ((await probe('iptables', ['-w', '-t', table, '-F', name])) !== null) await iptables(table, ['-X', name])
  }
}
