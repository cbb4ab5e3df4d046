import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../src/cli/base.js'
import {LocalStore} from '../src/store/local.js'
import {openLocalMachine} from '../src/lifecycle/machine.js'
import {checkMachineFiles, parseScpPath, runOpenSsh, scpArgv, scpMachineNames, sshMachine} from '../src/ssh/external.js'

export default class Scp extends ClusterCommand {
  static summary = 'Copy files between this computer and a machine'
  static description = 'Runs the system scp with the machine\'s own key and pinned host key. '
    + 'NAME:PATH is a path on machine NAME; a path with no NAME: (or starting with ./ or /) is local. '
    + 'Both sides may name machines, the same or two different ones: the data then flows through this computer (scp -3).'
  static args = {
    source: Args.string({description: '[NAME:]SRC', required: true}),
    destination: Args.string({description: '[NAME:]DST', required: true}),
  }
  static flags = {
    recursive: Flags.boolean({char: 'r', description: 'copy folders recursively'}),
  }
  static examples = [
    '<%= config.bin %> scp ./app.tar web1:/tmp/',
    '<%= config.bin %> scp -r web1:/var/log/nginx ./logs',
  ]

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Scp)
    const opts = {recursive: flags.recursive, source: parseScpPath(args.source), destination: parseScpPath(args.destination)}
    const store = new LocalStore()
    const machines = await Promise.all(scpMachineNames(opts).map(async name => {
      const {record, dir, driver} = await openLocalMachine(store, name)
      return sshMachine(record, dir, driver.ssh())
    }))
    machines.forEach(checkMachineFiles)
    const code = await runOpenSsh('scp', scpArgv(machines, opts))
    if (code !== 0) this.exit(code)
  }
}
