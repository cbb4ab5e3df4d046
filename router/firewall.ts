/**
 * The iptables side of routable container IPs, whatever the backend:
 *  - containers are NOT masqueraded towards the overlay range (Docker masquerades every
 *    packet leaving its bridge; across the overlay the container's own address must show);
 *  - forwarding between the overlay and the bridge is accepted (Docker's FORWARD policy is
 *    DROP and its chains only let in published ports).
 * Both live in our own chains, jumped to from the top of the built-in chain (and of
 * DOCKER-USER, which Docker keeps first), so they are easy to find, check and remove.
 * ensureFirewall is idempotent and cheap; the router re-runs it periodically because
 * Docker rewrites its chains when it restarts.
 */
import {run, probe} from './exec.js'

const NAT_CHAIN = 'CLUSTER-POSTROUTING'
const FILTER_CHAIN = 'CLUSTER-FORWARD'

interface Jump {
  table: 'nat' | 'filter'
  from: string
  to: string
}

const JUMPS: Jump[] = [
  {table: 'nat', from: 'POSTROUTING', to: NAT_CHAIN},
  {table: 'filter', from: 'FORWARD', to: FILTER_CHAIN},
  {table: 'filter', from: 'DOCKER-USER', to: FILTER_CHAIN},
]

function rules(subnet: string, range: string): Record<string, string[][]> {
  return {
    // ACCEPT, not RETURN: in the nat table it ends NAT for the packet, so Docker's
    // MASQUERADE further down POSTROUTING never sees it; RETURN would fall through to it.
    [NAT_CHAIN]: [['-s', subnet, '-d', range, '-j', 'ACCEPT']],
    [FILTER_CHAIN]: [
      ['-s', range, '-d', subnet, '-j', 'ACCEPT'],
      ['-s', subnet, '-d', range, '-j', 'ACCEPT'],
    ],
  }
}

const iptables = (table: string, args: string[]) => run('iptables', ['-w', '-t', table, ...args])

/** The chain's rules as `iptables -S` prints them, without its policy/definition line. */
async function listRules(table: string, chain: string): Promise<string[] | null> {
  const out = await probe('iptables', ['-w', '-t', table, '-S', chain])
  return out === null ? null : out.trim().split('\n').filter(l => l.startsWith('-A '))
}

export async function ensureFirewall(subnet: string, range: string): Promise<void> {
  await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'])
  for (const [chain, wanted] of Object.entries(rules(subnet, range))) {
    const table = chain === NAT_CHAIN ? 'nat' : 'filter'
    const have = await listRules(table, chain)
    const expected = wanted.map(r => `-A ${chain} ${r.join(' ')}`)
    if (have === null) await iptables(table, ['-N', chain])
    if (have === null || have.join('\n') !== expected.join('\n')) {
      await iptables(table, ['-F', chain])
      for (const rule of wanted) await iptables(table, ['-A', chain, ...rule])
    }
  }
  for (const jump of JUMPS) {
    const have = await listRules(jump.table, jump.from)
    if (have === null) continue // DOCKER-USER exists only once Docker has run
    const line = `-A ${jump.from} -j ${jump.to}`
    if (have[0] === line) continue
    // Missing, or pushed down by rules inserted above it: put it back on top, once.
    if (have.includes(line)) await iptables(jump.table, ['-D', jump.from, '-j', jump.to])
    await iptables(jump.table, ['-I', jump.from, '1', '-j', jump.to])
  }
}

export async function removeFirewall(): Promise<void> {
  for (const jump of JUMPS) {
    while ((await probe('iptables', ['-w', '-t', jump.table, '-D', jump.from, '-j', jump.to])) !== null) {
      // A rule can have been added twice by hand; remove every copy.
    }
  }
  for (const [table, chain] of [['nat', NAT_CHAIN], ['filter', FILTER_CHAIN]] as const) {
    if ((await probe('iptables', ['-w', '-t', table, '-F', chain])) !== null) await iptables(table, ['-X', chain])
  }
}
