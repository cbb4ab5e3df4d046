import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../src/cli/base.js'
import {ENV_OPTIONS as O, envOutput} from '../src/env-command.js'

export default class Env extends ClusterCommand {
  static summary = 'Print the commands that point the docker client at a machine'
  static description = 'Reads only the local store: no network round trip. Evaluate the output in your shell.'
  static examples = ['eval "$(cluster env node1)"', 'eval "$(cluster env --unset)"', 'cluster env --shell fish node1 | source']
  static args = {name: Args.string({description: 'machine name (omit with --unset)'})}
  // Descriptions come from the option table the fast path in bin/run.js parses with.
  static flags = {
    shell: Flags.string({description: O.shell.description}),
    unset: Flags.boolean({char: O.unset.short, description: O.unset.description}),
    swarm: Flags.boolean({description: O.swarm.description}),
    'no-proxy': Flags.boolean({description: O['no-proxy'].description}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Env)
    process.stdout.write(await envOutput({...flags, name: args.name}))
  }
}
