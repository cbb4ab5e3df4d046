import {Args, Flags} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {stderrProgress} from '../src/cli/progress.js'
import {reprovision} from '../src/lifecycle/reprovision.js'
import {LocalStore} from '../src/store/local.js'

export default class RegenerateCerts extends KvCommand {
  static summary = 'Issue new Docker TLS certificates for the machines\' current addresses'
  static strict = false
  static args = {names: Args.string({description: 'machine names', required: true})}
  static flags = {
    'accept-host-key': Flags.boolean({description: 'trust the SSH host key the machine presents now (after a rebuild)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(RegenerateCerts)
    for (const name of argv as string[]) {
      await reprovision(name, {store: new LocalStore(), kv: this.kvOptions(flags), progress: stderrProgress(name), signal: new AbortController().signal,
        refreshAddresses: true, acceptHostKey: flags['accept-host-key']})
    }
  }
}
