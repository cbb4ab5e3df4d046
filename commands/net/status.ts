import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../../src/cli/machine-command.js'
import {renderTable} from '../../src/cli/format.js'
import {listMachines} from '../../src/kv/machines.js'
import {queryMachines, type PerMachine} from '../../src/ssh/query-machines.js'
import {readRouterStatus} from '../../src/agent/status.js'
import type {RouterStatus} from '../../core/router-status.js'

export default class NetStatus extends MachineCommand {
  static summary = 'Show the overlay as each machine\'s router sees it: backend, encryption, subnet, and every peer'
  static description = 'Reads the router\'s status on each machine over SSH. For each peer: the endpoint it is reached on, '
    + 'the last WireGuard handshake, and the bytes received and sent. Records the router refused (unsigned, '
    + 'overlapping, off the layer-2 network for host-gw) are listed with the reason.'
  static args = {name: Args.string({description: 'machine name (default: every machine of the cluster)'})}
  static flags = {
    json: Flags.boolean({description: 'print JSON'}),
    timeout: Flags.integer({char: 't', description: 'seconds to wait for each machine', default: 10, min: 1}),
  }
  static examples = ['<%= config.bin %> net status', '<%= config.bin %> net status web1 --json']

  async run(): Promise<Array<PerMachine<RouterStatus | null>>> {
    const {args, flags} = await this.parse(NetStatus)
    const broken: Array<PerMachine<RouterStatus | null>> = []
    const records = args.name ? [await this.record(args.name, flags)]
      : await listMachines(await this.openKv(flags), b => broken.push({machine: b.name, error: `invalid etcd record: ${b.error}`}))
    const results = [...await queryMachines(this.store, records, flags.timeout * 1000, async conn => (await readRouterStatus(conn)) ?? null), ...broken]
      .sort((a, b) => a.machine.localeCompare(b.machine))
    if (flags.json) {
      this.printJson(results)
      return results
    }
    for (const r of results) process.stdout.write(describe(r))
    return results
  }
}

function describe(r: PerMachine<RouterStatus | null>): string {
  if (r.error) return `${r.machine}: ${r.error}\n\n`
  const s = r.value
  if (!s) return `${r.machine}: no router status (the router is not running; run \`cluster provision ${r.machine}\`)\n\n`
  const head = `${s.name}: ${s.backend} (${s.datapath}), ${s.encrypted ? 'encrypted' : 'NOT encrypted'}, subnet ${s.subnet}, mtu ${s.mtu}, `
    + `etcd ${s.etcd.connected ? 'connected' : `unreachable since ${s.etcd.since}`}, ${s.peers.length} peer${s.peers.length === 1 ? '' : 's'}\n`
  const peers = s.peers.length === 0 ? '' : renderTable(['PEER', 'SUBNET', 'ENDPOINT', 'LAST HANDSHAKE', 'RECEIVED', 'SENT'],
    s.peers.map(p => [p.name || '?', p.subnet, p.endpoint, ago(p.lastHandshake, s.updatedAt), bytes(p.rxBytes), bytes(p.txBytes)]))
  const refused = s.rejected.map(x => `  refused ${x.name}: ${x.reason}\n`).join('')
  return `${head}${peers}${refused}\n`
}

function ago(at: string | null, now: string): string {
  if (at === null) return '-'
  const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(at)) / 1000))
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

function bytes(n: number | null): string {
  if (n === null) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`
}
