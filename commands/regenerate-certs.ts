import {Args, Flags} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {stderrProgress} from '../src/cli/progress.js'
import {reprovision} from '../src/lifecycle/reprovision.js'
import {LocalStore} from '../src/store/local.js'
import {jsonFlag, machinesJson} from '../src/cli/json.js'

export default class RegenerateCerts extends KvCommand {
  static summary = 'Issue new Docker TLS certificates for the machines\' current addresses'
  static strict = false
  static args = {names: Args.string({description: 'machine names', required: true})}
  static flags = {
    force: Flags.boolean({char: 'f', description: 'accepted for Docker Machine\'s scripts: cluster regenerates without asking'}),
    'accept-host-key': Flags.boolean({description: 'trust the SSH host key the machine presents now (after a rebuild)'}),
    ...jsonFlag,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(RegenerateCerts)
    const records = []
    for (const name of argv as string[]) {
      records.push(await reprovision(name, {store: new LocalStore(), kv: this.kvOptions(flags), progress: stderrProgress(name), signal: new AbortController().signal,
        refreshAddresses: true, acceptHostKey: flags['accept-host-key']}))
    }
    if (flags.json) this.printJson(machinesJson(records))
  }
}
