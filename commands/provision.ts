import {Args, Flags} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {stderrProgress} from '../src/cli/progress.js'
import {reprovision} from '../src/lifecycle/reprovision.js'
import {LocalStore} from '../src/store/local.js'
import {jsonFlag, machinesJson} from '../src/cli/json.js'

export default class Provision extends KvCommand {
  static summary = 'Run the host setup again: packages, Docker TLS configuration, router agent (idempotent)'
  static strict = false
  static args = {names: Args.string({description: 'machine names', required: true})}
  static flags = {
    ...jsonFlag,
    'restore-record': Flags.boolean({description: 'put this store\'s pinned copy of the machine record back over a changed one in etcd'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Provision)
    const records = []
    for (const name of argv as string[]) {
      records.push(await reprovision(name, {store: new LocalStore(), kv: this.kvOptions(flags), progress: stderrProgress(name), signal: new AbortController().signal,
        restoreRecord: flags['restore-record']}))
    }
    if (flags.json) this.printJson(machinesJson(records))
  }
}
