import {Args} from '@oclif/core'
import {resolve} from 'node:path'
import {KvCommand} from '../../src/cli/base.js'
import {saveSnapshot} from '../../src/kv/bootstrap/snapshot.js'
import {jsonFlag, snapshotJson} from '../../src/cli/json.js'

export default class KvSnapshot extends KvCommand {
  static summary = 'Save a snapshot of the etcd database to FILE (0600); see docs/kv.md to restore'
  static examples = ['cluster kv snapshot backup.db']
  static args = {file: Args.string({description: 'file to write', required: true})}
  static flags = jsonFlag

  async run(): Promise<void> {
    const {args, flags} = await this.parse(KvSnapshot)
    const r = await saveSnapshot(await this.openKv(flags), resolve(args.file))
    if (flags.json) return this.printJson(snapshotJson(r))
    process.stdout.write(`saved ${r.bytes} bytes${r.revision ? ` at revision ${r.revision}` : ''} to ${r.file}\n`)
  }
}
