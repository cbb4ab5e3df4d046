import {Args} from '@oclif/core'
import {ClusterCommand} from '../src/cli/base.js'
import {LocalStore} from '../src/store/local.js'
import {openLocalMachine} from '../src/lifecycle/machine.js'
import {checkMachineFiles, runOpenSsh, sshArgv, sshMachine} from '../src/ssh/external.js'

export default class Ssh extends ClusterCommand {
  static summary = 'Log in to a machine, or run a command on it'
  static description = 'Runs the system ssh with the machine\'s own key and its pinned host key (never trust on first use). '
    + 'Everything after NAME goes to ssh as written, as Docker Machine does: ssh options first (-L, -fN, -A, -C, -o, -p…), '
    + 'then the remote command, joined into one shell line on the machine. `--` ends ssh\'s options. '
    + 'Without a command, opens an interactive shell; the exit code is the remote command\'s. '
    + '-o settings about host keys (StrictHostKeyChecking, UserKnownHostsFile, …) are refused: the pinned key decides.'
  // bin/run.js puts `--` before NAME, so oclif reads none of the words after it (not even -h).
  static strict = false
  static args = {name: Args.string({description: 'machine name', required: true})}
  static usage = 'ssh NAME [SSH OPTIONS] [COMMAND...]'
  static examples = [
    '<%= config.bin %> ssh web1',
    '<%= config.bin %> ssh web1 docker ps',
    '<%= config.bin %> ssh web1 df -h',
    '<%= config.bin %> ssh web1 -fN -L 8080:localhost:8080',
    '<%= config.bin %> ssh web1 -t top',
    '<%= config.bin %> ssh web1 -- ls -la',
  ]

  async run(): Promise<void> {
    const {args} = await this.parse(Ssh)
    // The words as typed: oclif's argv moves and drops later `--`s, which ssh must see.
    const words = this.argv.slice(this.argv.indexOf(args.name) + 1)
    const store = new LocalStore()
    const {record, dir, driver} = await openLocalMachine(store, args.name)
    const machine = sshMachine(record, dir, driver.ssh())
    checkMachineFiles(machine)
    const code = await runOpenSsh('ssh', sshArgv(machine, words))
    if (code !== 0) this.exit(code)
  }
}
