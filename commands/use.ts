import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../src/cli/machine-command.js'
import {contextPlan, unsetContext, useContext} from '../src/docker-context.js'
import {swarmManagerOf} from '../src/swarm/plan.js'
import {certPaths} from '../src/tls/paths.js'
import {InputError} from '../core/errors.js'

export default class Use extends MachineCommand {
  static summary = 'Point the docker client at a machine through a docker context named after it'
  static description = 'Creates (or updates) the docker context NAME with the machine\'s URL and this store\'s TLS files, and makes it '
    + 'the current context: every docker command and every shell then uses it, with no environment variables. '
    + 'DOCKER_HOST, when set, still wins over any context (`eval "$(cluster env --unset)"`). `cluster rm` removes the context.'
  static examples = ['<%= config.bin %> use web1', '<%= config.bin %> use --swarm web1', '<%= config.bin %> use --unset']
  static args = {name: Args.string({description: 'machine name (omit with --unset)'})}
  static flags = {
    swarm: Flags.boolean({description: 'point at the swarm manager the machine belongs to'}),
    unset: Flags.boolean({char: 'u', description: 'go back to docker\'s default context'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Use)
    if (flags.unset) {
      if (args.name) throw new InputError('expected no machine name with --unset', 'run `cluster use --unset`')
      await unsetContext()
      return void process.stdout.write('Docker context: default\n')
    }
    if (!args.name) throw new InputError('cluster use needs a machine name', 'run `cluster use NAME` (see `cluster ls`), or `cluster use --unset`')
    const record = await this.record(args.name, flags)
    const manager = flags.swarm ? await this.record(swarmManagerOf(record), flags) : undefined
    await useContext(contextPlan(record.name, (manager ?? record).dockerUrl, certPaths(this.store), manager?.name))
    process.stdout.write(`Docker context: ${record.name}${manager ? ` (swarm manager ${manager.name})` : ''}\n`)
  }
}
