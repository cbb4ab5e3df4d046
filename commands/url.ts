import {Args} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {jsonFlag, urlJson} from '../src/cli/json.js'

export default class Url extends MachineCommand {
  static summary = 'Print the Docker URL of a machine'
  static args = {name: Args.string({description: 'machine name', required: true})}
  static flags = jsonFlag

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Url)
    const r = await this.record(args.name, flags)
    if (flags.json) this.printJson(urlJson(r))
    else process.stdout.write(r.dockerUrl + '\n')
  }
}
