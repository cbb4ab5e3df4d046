import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {renderTemplate} from '../src/cli/format.js'
import {dockerMachineView} from '../src/cli/machine-view.js'
import {certPaths} from '../src/tls/paths.js'

export default class Inspect extends MachineCommand {
  static summary = 'Show everything known about a machine'
  static description = 'Prints the machine\'s record. --format takes a Go-style template over the record\'s fields ({{.dockerUrl}}) '
    + 'and over the fields Docker Machine\'s inspect had ({{.DriverName}}, {{.Driver.IPAddress}}, {{.Driver.SSHUser}}, '
    + '{{.HostOptions.EngineOptions.Labels}}…), with the json and prettyjson functions. '
    + 'Without NAME, the machine named "default", as in Docker Machine.'
  static args = {name: Args.string({description: 'machine name (default: the machine named "default")'})}
  static flags = {
    format: Flags.string({char: 'f', description: 'template, e.g. "{{.Driver.IPAddress}}" or "{{json .HostOptions.EngineOptions}}"'}),
    json: Flags.boolean({description: 'print JSON (the default)'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Inspect)
    const record = await this.record(this.nameOrDefault(args.name), flags)
    if (!flags.format) return this.printJson(record)
    const view = dockerMachineView(record, {root: this.store.root, machineDir: this.store.machineDir(record.name), certs: certPaths(this.store)})
    process.stdout.write(renderTemplate(flags.format, [{...record, ...view}]))
  }
}
