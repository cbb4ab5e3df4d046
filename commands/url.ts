import {Args} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {jsonFlag, urlJson} from '../src/cli/json.js'
import {assertEngineListening} from '../src/engine-address.js'

export default class Url extends MachineCommand {
  static summary = 'Print the Docker URL of a machine'
  static args = {name: Args.string({description: 'machine name (default: the machine named "default")'})}
  static flags = jsonFlag

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Url)
    const r = await this.record(this.nameOrDefault(args.name), flags)
    await assertEngineListening(r.name, r.dockerUrl)
    if (flags.json) this.printJson(urlJson(r))
    else process.stdout.write(r.dockerUrl + '\n')
  }
}
