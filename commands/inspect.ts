import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {renderTemplate} from '../src/cli/format.js'

export default class Inspect extends MachineCommand {
  static summary = 'Show everything known about a machine'
  static args = {name: Args.string({description: 'machine name', required: true})}
  static flags = {
    format: Flags.string({char: 'f', description: 'template over the record, e.g. "{{.dockerUrl}}"'}),
    json: Flags.boolean({description: 'print JSON (the default)'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Inspect)
    const record = await this.record(args.name, flags)
    if (flags.format) return void process.stdout.write(renderTemplate(flags.format, [record as unknown as Record<string, unknown>]))
    this.printJson(record)
  }
}
