import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {certPaths} from '../src/tls/paths.js'
import {configJson, jsonFlag} from '../src/cli/json.js'
import {swarmManagerOf} from '../src/swarm/plan.js'

export default class Config extends MachineCommand {
  static summary = 'Print the docker client flags that reach a machine'
  static examples = ['docker $(cluster config node1) ps']
  static args = {name: Args.string({description: 'machine name', required: true})}
  static flags = {swarm: Flags.boolean({description: 'the swarm manager of the machine instead'}), ...jsonFlag}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Config)
    let r = await this.record(args.name, flags)
    if (flags.swarm) r = await this.record(swarmManagerOf(r), flags)
    const p = certPaths(this.store)
    if (flags.json) return this.printJson(configJson(r.name, r.dockerUrl, p))
    process.stdout.write(`--tlsverify\n--tlscacert="${p.ca}"\n--tlscert="${p.cert}"\n--tlskey="${p.key}"\n-H=${r.dockerUrl}\n`)
  }
}
