import {Args, Flags} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {stderrProgress} from '../../src/cli/progress.js'
import {createKv} from '../../src/kv/bootstrap/create.js'
import {KV_SIZES} from '../../src/kv/bootstrap/plan.js'
import {LocalStore} from '../../src/store/local.js'
import {kvOverride} from '../../src/kv/client.js'
import {withInterrupt} from '../../src/cli/interrupt.js'

export default class KvCreate extends KvCommand {
  static summary = 'Bootstrap a TLS + RBAC etcd on cluster machines and move the cluster onto it'
  static description = `Each named machine becomes an etcd member (cluster-etcd.service): peers must present a certificate of the etcd member CA and clients one of the etcd client CA, and RBAC gives this CLI root (certs/etcd-root.pem) and each host a role that writes only its own records. The cluster's records are copied from the etcd in use now, and the local config then points at the new etcd. Existing machines keep their routers on the previous etcd until \`cluster provision NAME\`.`
  static examples = ['cluster kv create --size 3 node1 node2 node3', 'cluster kv create node1']
  static strict = false
  static args = {names: Args.string({description: 'machines that become members', required: true})}
  static flags = {
    size: Flags.integer({description: `number of members (${KV_SIZES.join(', ')}); default: the number of names`}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(KvCreate)
    const store = new LocalStore()
    const r = await withInterrupt('undoing the members', signal =>
      createKv({names: argv as string[], size: flags.size, kv: this.kvOptions(flags)}, {store, progress: stderrProgress('kv'), signal}))
    process.stdout.write(`etcd ready with ${r.members.length} member(s) in ${r.quorumSeconds.toFixed(1)} s: ${r.endpoints.join(',')}\n`)
    // A variable set in the shell would keep later commands on the old etcd: say so.
    const override = kvOverride({}, process.env, store.readConfig())
    process.stdout.write(`copied ${r.copied} record(s); config.json now names the new etcd${override ? `, but ${override}: unset it to use the new one` : ', and this CLI uses it'}\n`)
    if (r.machines.length > 0) process.stdout.write(`move the routers of existing machines onto it: cluster provision ${r.machines.join(' ')}\n`)
  }
}
