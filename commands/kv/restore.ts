import {Args, Flags} from '@oclif/core'
import {resolve} from 'node:path'
import {KvCommand} from '../../src/cli/base.js'
import {stderrProgress} from '../../src/cli/progress.js'
import {restoreKv} from '../../src/kv/bootstrap/restore.js'
import {LocalStore} from '../../src/store/local.js'

export default class KvRestore extends KvCommand {
  static summary = 'Rebuild the cluster\'s etcd as one member on NAME from a snapshot, when its majority is lost for good'
  static description = `FILE (from \`cluster kv snapshot\`) is checked on this computer first. NAME gets a new one-member etcd with the snapshot's records, users and roles (TLS and RBAC as \`kv create\` makes them); its previous data and that of the other former members is moved aside (/var/lib/cluster-etcd.before-restore-*), their etcd disabled, and this store's config points at NAME. The store then grows back as after a create (kv-members, auto by default: 3 members from 3 machines). Refused while the current etcd still has a majority, unless --force. Changes made after the snapshot are lost. See docs/kv.md.`
  static examples = ['cluster kv restore backup.db --on node1']
  static args = {file: Args.string({description: 'snapshot file', required: true})}
  static flags = {
    on: Flags.string({description: 'machine that becomes the one member', required: true}),
    force: Flags.boolean({description: 'restore even though the current etcd still has a leader and a majority'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(KvRestore)
    const r = await restoreKv({file: resolve(args.file), on: flags.on, force: flags.force, kv: this.kvOptions(flags)}, {store: new LocalStore(), progress: stderrProgress('kv')})
    const out = (line: string) => process.stdout.write(`${line}\n`)
    out(`etcd restored on ${r.member.name} in ${r.quorumSeconds.toFixed(1)} s: ${r.endpoint}, ${r.machines.length} machine record(s) (${r.snapshotBytes} bytes of snapshot); this store now uses it (config.json)`)
    if (r.retired.length) out(`former members taken out: ${r.retired.join(', ')} (etcd disabled, data in ${r.aside})`)
    for (const u of r.unreachable) out(`could not reach former member ${u.name} (${u.error}): before it runs again, \`systemctl disable --now cluster-etcd\` on it`)
    if (r.reprovision.length) out(`move the routers onto it: cluster provision ${r.reprovision.join(' ')}`)
    if (process.env.CLUSTER_KV_ENDPOINTS) out(`CLUSTER_KV_ENDPOINTS is set and overrides config.json: set it to ${r.endpoint} or unset it`)
    if (r.grown.length) out(`the store grew back to ${r.grown.length + 1} members: ${r.grown.join(', ')} added (kv-members)`)
    else out(`the store has one member${r.growError ? ` (growing failed: ${r.growError})` : ''}: add members with \`cluster kv add NAME…\``)
  }
}
