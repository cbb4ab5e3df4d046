import {Args} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {stderrProgress} from '../../src/cli/progress.js'
import {addMember} from '../../src/kv/bootstrap/membership.js'
import {LocalStore} from '../../src/store/local.js'
import {withInterrupt} from '../../src/cli/interrupt.js'

export default class KvAdd extends KvCommand {
  static summary = 'Add machines to the cluster\'s etcd, one at a time: each joins as a learner, catches up, then is promoted'
  static examples = ['cluster kv add node2 node3']
  static strict = false
  static args = {names: Args.string({description: 'ready machines that become members', required: true})}

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(KvAdd)
    const kv = await this.openKv(flags)
    const store = new LocalStore()
    for (const name of argv as string[]) {
      const seconds = await withInterrupt('undoing the member', signal => addMember(kv, name, {store, progress: stderrProgress(name), signal}))
      process.stdout.write(`${name} is a member of the cluster's etcd (added in ${seconds.toFixed(1)} s)\n`)
    }
  }
}
