import {Args} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'

export default class Url extends MachineCommand {
  static summary = 'Print the Docker URL of a machine'
  static args = {name: Args.string({description: 'machine name', required: true})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Url)
    process.stdout.write((await this.record(args.name, flags)).dockerUrl + '\n')
  }
}
