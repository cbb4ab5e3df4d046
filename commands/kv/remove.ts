import {Args, Flags} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {stderrProgress} from '../../src/cli/progress.js'
import {removeMember} from '../../src/kv/bootstrap/membership.js'
import {LocalStore} from '../../src/store/local.js'

export default class KvRemove extends KvCommand {
  static summary = 'Take machines out of the cluster\'s etcd (the machines stay); refused when the members left would lose quorum'
  static examples = ['cluster kv remove node3', 'cluster kv remove -f node3']
  static strict = false
  static args = {names: Args.string({description: 'members to remove', required: true})}
  static flags = {
    force: Flags.boolean({char: 'f', description: 'remove even when the members left would lose quorum'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(KvRemove)
    const kv = await this.openKv(flags)
    const store = new LocalStore()
    for (const name of argv as string[]) {
      await removeMember(kv, this.kvOptions(flags), name, {store, progress: stderrProgress(name), signal: new AbortController().signal, force: flags.force})
      process.stdout.write(`${name} left the cluster's etcd\n`)
    }
  }
}
