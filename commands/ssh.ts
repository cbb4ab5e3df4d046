import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../src/cli/base.js'
import {LocalStore} from '../src/store/local.js'
import {checkMachineFiles, runOpenSsh, sshArgv, sshMachine} from '../src/ssh/external.js'

export default class Ssh extends ClusterCommand {
  static summary = 'Log in to a machine, or run a command on it'
  static description = 'Runs the system ssh with the machine\'s own key and its pinned host key (never trust on first use). '
    + 'Without a command, opens an interactive shell. The words after `--` are joined into one shell line on the machine, '
    + 'as ssh does; the exit code is the remote command\'s.'
  static strict = false
  static args = {name: Args.string({description: 'machine name', required: true})}
  static flags = {
    'local-forward': Flags.string({char: 'L', multiple: true, multipleNonGreedy: true, description: 'forward a local port: [bind:]port:host:hostport (as ssh -L); repeatable'}),
    'remote-forward': Flags.string({char: 'R', multiple: true, multipleNonGreedy: true, description: 'forward a remote port: [bind:]port:host:hostport (as ssh -R); repeatable'}),
    'tty': Flags.boolean({char: 't', description: 'give the command a terminal (as ssh -t), e.g. for top'}),
  }
  static examples = [
    '<%= config.bin %> ssh web1',
    '<%= config.bin %> ssh web1 -- docker ps',
    '<%= config.bin %> ssh web1 -L 8080:127.0.0.1:80',
    '<%= config.bin %> ssh web1 -t -- top',
  ]

  async run(): Promise<void> {
    const {args, argv, flags} = await this.parse(Ssh)
    const store = new LocalStore()
    const machine = sshMachine(store.getMachine(args.name).record, store.machineDir(args.name))
    checkMachineFiles(machine)
    const code = await runOpenSsh('ssh', sshArgv(machine, {
      command: (argv as string[]).slice(1),
      localForwards: flags['local-forward'],
      remoteForwards: flags['remote-forward'],
      tty: flags.tty,
    }))
    if (code !== 0) this.exit(code)
  }
}
