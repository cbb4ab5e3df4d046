import {Args} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {jsonFlag, versionJson} from '../src/cli/json.js'
import {pingEngine} from '../src/docker.js'
import {ClusterError} from '../core/errors.js'

export default class Version extends MachineCommand {
  static summary = 'Print the version of cluster, or of a machine\'s Docker engine'
  static args = {name: Args.string({description: 'machine whose Docker engine version to print'})}
  static flags = jsonFlag

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Version)
    if (!args.name) {
      if (flags.json) return this.printJson(versionJson(this.config.version))
      return void process.stdout.write(`cluster version ${this.config.version} (node ${process.version}, ${process.platform}-${process.arch})\n`)
    }
    const r = await this.record(args.name, flags)
    const docker = (await pingEngine(r.dockerUrl, this.store, 10_000).catch((error: Error) => {
      throw new ClusterError(`Host is not running: machine "${r.name}" does not answer at ${r.dockerUrl} (${error.message})`,
        {hint: `see \`cluster status ${r.name}\``, cause: error})
    })).version.replace(/^v/, '')
    if (flags.json) return this.printJson(versionJson(this.config.version, {name: r.name, docker}))
    process.stdout.write(docker + '\n')
  }
}
