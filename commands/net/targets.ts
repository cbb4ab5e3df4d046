import {Flags} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {routerTargets, type FileSdGroup} from '../../src/metrics/targets.js'
import {renderTable} from '../../src/cli/format.js'

export default class NetTargets extends KvCommand {
  static summary = 'List every router\'s metrics endpoint; --prometheus prints them as a Prometheus file_sd target list'
  static description = 'One target per machine: its bridge address (the first address of its overlay subnet) and the metrics '
    + 'port, reachable over the overlay only, so Prometheus must run on a cluster host or in a container on the overlay. '
    + 'Write the --prometheus output to the file a file_sd_config reads (docs/metrics.md).'
  static flags = {
    prometheus: Flags.boolean({description: 'print a Prometheus file_sd JSON list (targets and labels per machine)'}),
  }
  static examples = ['<%= config.bin %> net targets', '<%= config.bin %> net targets --prometheus > /etc/prometheus/cluster.json']

  async run(): Promise<FileSdGroup[]> {
    const {flags} = await this.parse(NetTargets)
    const groups = await routerTargets(await this.openKv(flags))
    if (flags.prometheus) process.stdout.write(JSON.stringify(groups, null, 2) + '\n')
    else process.stdout.write(renderTable(['MACHINE', 'SUBNET', 'TARGET'], groups.map(g => [g.labels.machine, g.labels.subnet, g.targets[0]])))
    return groups
  }
}
