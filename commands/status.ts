import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {checkMachine} from '../src/lifecycle/status.js'
import {jsonFlag, statusJson} from '../src/cli/json.js'

export default class Status extends MachineCommand {
  static summary = 'Print the state of a machine (Running, Stopped, …)'
  static args = {name: Args.string({description: 'machine name (default: the machine named "default")'})}
  static flags = {timeout: Flags.integer({char: 't', description: 'seconds to wait', default: 10, min: 1}), ...jsonFlag}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Status)
    const s = await checkMachine(await this.record(this.nameOrDefault(args.name), flags), {store: this.store, timeoutMs: flags.timeout * 1000})
    if (flags.json) this.printJson(statusJson(s))
    else process.stdout.write(s.state + '\n')
    this.kvClose()
    this.finishNow()
  }
}
