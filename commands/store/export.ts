import {Args, Flags} from '@oclif/core'
import {resolve} from 'node:path'
import {KvCommand} from '../../src/cli/base.js'
import {readPassphrase, PASSPHRASE_ENV} from '../../src/cli/passphrase.js'
import {resolveKvOptions} from '../../src/kv/client.js'
import {whoAmI} from '../../src/lifecycle/machine.js'
import {LocalStore} from '../../src/store/local.js'
import {exportStore} from '../../src/store/share.js'

export default class StoreExport extends KvCommand {
  static summary = 'Write this store (CA, client certificate, signing key, machines\' SSH keys, etcd settings) to FILE, encrypted with a passphrase'
  static description = `FILE lets a second computer drive the same cluster (\`cluster store import FILE\`). It is encrypted with AES-256-GCM under a key made from the passphrase by scrypt, and written 0600. It holds the cluster's CA key: hand the passphrase over by another channel than the file. The passphrase is asked on the terminal, or read from --passphrase-file or $${PASSPHRASE_ENV}.`
  static examples = ['cluster store export team.clusterstore', `${PASSPHRASE_ENV}=… cluster store export /tmp/team.clusterstore`]
  static args = {file: Args.string({description: 'file to write', required: true})}
  static flags = {
    'passphrase-file': Flags.string({description: `read the passphrase from the first line of this file [else env: ${PASSPHRASE_ENV}, else a prompt]`}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(StoreExport)
    const store = new LocalStore()
    const kv = resolveKvOptions(this.kvOptions(flags), process.env, store.readConfig())
    const passphrase = () => readPassphrase({file: flags['passphrase-file'], env: process.env, confirm: true})
    const r = await exportStore({store, kv, file: resolve(args.file), passphrase, createdBy: whoAmI()})
    process.stdout.write(`wrote ${r.file} (${r.bytes} bytes, 0600): cluster ${r.clusterName}, ${r.machines.length} machine(s), ${r.files} file(s), etcd ${r.endpoints.join(',')}\n`)
    for (const l of r.leftOut) process.stdout.write(`left out ${l.path} (${l.bytes} bytes): files over 1 MiB (VM disks, ISOs) stay on this computer\n`)
    process.stdout.write(`on the other computer: cluster store import ${args.file} (give the passphrase by another channel than the file)\n`)
  }
}
