import {Flags} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {renderTable} from '../../src/cli/format.js'
import {listDns} from '../../src/dns/static.js'

export default class DnsLs extends KvCommand {
  static summary = 'List the names the cluster DNS answers: every container and every added record'
  static examples = ['cluster dns ls', 'cluster dns ls --json']
  static flags = {
    json: Flags.boolean({description: 'print JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(DnsLs)
    const rows = await listDns(await this.openKv(flags))
    if (flags.json) return this.printJson(rows)
    process.stdout.write(renderTable(['NAME', 'IP', 'HOST', 'ALIASES', 'CONTAINER'],
      rows.map(r => [r.name, r.ip, r.host || '(added)', r.aliases.join(',') || '-', r.containerId.slice(0, 12) || '-'])))
  }
}
