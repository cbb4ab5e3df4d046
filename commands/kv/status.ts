import {Flags} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {renderTable} from '../../src/cli/format.js'
import {kvStatus} from '../../src/kv/bootstrap/status.js'
import {LocalStore} from '../../src/store/local.js'

export default class KvStatus extends KvCommand {
  static summary = 'Show the etcd members: leader, health, database size'
  static examples = ['cluster kv status', 'cluster kv status --json']
  static flags = {
    json: Flags.boolean({description: 'print JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(KvStatus)
    const status = await kvStatus(this.kvOptions(flags), new LocalStore())
    if (flags.json) return this.printJson(status)
    process.stdout.write(renderTable(['NAME', 'ID', 'ENDPOINT', 'LEADER', 'HEALTH', 'DB SIZE', 'VERSION'], status.members.map(m => [
      m.name, m.id, m.endpoint, m.leader ? '*' : '', m.healthy ? 'healthy' : `unhealthy: ${m.error ?? '?'}`,
      m.dbSize === undefined ? '-' : `${(m.dbSize / 1024).toFixed(0)} KiB`, m.version ?? '-',
    ])))
    if (!status.healthy) this.fail('etcd has no leader or no majority of healthy members', 1)
  }
}
