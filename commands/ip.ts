import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {NotFoundError} from '../core/errors.js'
import {ipJson, jsonFlag} from '../src/cli/json.js'

export default class Ip extends MachineCommand {
  static summary = 'Print the address of one or more machines'
  static strict = false
  static args = {names: Args.string({description: 'machine names', required: true})}
  static flags = {private: Flags.boolean({description: 'print the private-network address instead'}), ...jsonFlag}

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Ip)
    const rows = []
    for (const name of argv as string[]) {
      const r = await this.record(name, flags)
      const ip = flags.private ? r.addresses.private : r.addresses.public
      if (!ip) throw new NotFoundError(`machine "${name}" has no private address`, {hint: 'its driver reported none; drop --private'})
      rows.push({name, ip})
    }
    if (flags.json) this.printJson(ipJson(rows))
    else process.stdout.write(rows.map(r => r.ip + '\n').join(''))
  }
}
