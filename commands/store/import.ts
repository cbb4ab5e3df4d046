import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../../src/cli/base.js'
import {readPassphrase, PASSPHRASE_ENV} from '../../src/cli/passphrase.js'
import {LocalStore} from '../../src/store/local.js'
import {importStore, readExportFile} from '../../src/store/share.js'

export default class StoreImport extends ClusterCommand {
  static summary = 'Import a `cluster store export` file into this store, to drive the same cluster from this computer'
  static description = `The store ($CLUSTER_STORAGE_PATH, default ~/.cluster) must be empty or already hold the same cluster (same CA and signing key); a store of another cluster is refused. The file is decrypted and checked whole before any file is written; a wrong passphrase or a damaged file writes nothing.`
  static examples = ['cluster store import team.clusterstore', 'CLUSTER_STORAGE_PATH=~/.cluster-team cluster store import team.clusterstore']
  static args = {file: Args.string({description: 'file written by `cluster store export`', required: true})}
  static flags = {
    'passphrase-file': Flags.string({description: `read the passphrase from the first line of this file [else env: ${PASSPHRASE_ENV}, else a prompt]`}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(StoreImport)
    const data = readExportFile(args.file)
    const passphrase = await readPassphrase({file: flags['passphrase-file'], env: process.env, confirm: false})
    const store = new LocalStore()
    const r = importStore({store, file: args.file, data, passphrase})
    process.stdout.write(`imported cluster ${r.clusterName} (exported by ${r.createdBy} at ${r.createdAt}) into ${store.root}: ${r.machines.length} machine(s), ${r.writes.length} file(s) written, ${r.unchanged} unchanged, ${r.revocations} revocation(s) remembered\n`)
    process.stdout.write(`etcd ${r.config.kv?.endpoints.join(',')}; try \`cluster ls\`\n`)
  }
}
