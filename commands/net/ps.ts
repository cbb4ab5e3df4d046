import {Flags} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {renderTable} from '../../src/cli/format.js'
import {listMachines} from '../../src/kv/machines.js'
import {LocalStore} from '../../src/store/local.js'
import {LIST_CONTAINERS, parseContainers, type OverlayContainer} from '../../src/net/containers.js'
import {queryMachines, type PerMachine} from '../../src/ssh/query-machines.js'

export default class NetPs extends KvCommand {
  static summary = 'List every container on the overlay: host, name, IP'
  static description = 'Asks each machine\'s Docker over SSH for its running containers and their address on the default '
    + 'bridge, which carries the machine\'s overlay subnet. Machines that do not answer are listed on stderr.'
  static flags = {
    json: Flags.boolean({description: 'print JSON'}),
    timeout: Flags.integer({char: 't', description: 'seconds to wait for each machine', default: 10, min: 1}),
  }
  static examples = ['<%= config.bin %> net ps', '<%= config.bin %> net ps --json']

  async run(): Promise<{containers: OverlayContainer[]; errors: Array<{machine: string; error: string}>}> {
    const {flags} = await this.parse(NetPs)
    const broken: Array<PerMachine<string>> = []
    const records = await listMachines(await this.openKv(flags), b => broken.push({machine: b.name, error: `invalid etcd record: ${b.error}`}))
    const results = [...await queryMachines(new LocalStore(), records, flags.timeout * 1000,
      async conn => conn.run(LIST_CONTAINERS, 'listing containers')), ...broken]
    const containers = results.flatMap(r => r.value === undefined ? [] : parseContainers(r.machine, r.value))
    const errors = results.flatMap(r => r.error === undefined ? [] : [{machine: r.machine, error: r.error}])
    const result = {containers, errors}
    if (flags.json) {
      this.printJson(result)
      return result
    }
    process.stdout.write(renderTable(['HOST', 'NAME', 'IP', 'IMAGE'], containers.map(c => [c.host, c.name, c.ip, c.image])))
    for (const e of errors) process.stderr.write(`${e.machine}: ${e.error}\n`)
    return result
  }
}
