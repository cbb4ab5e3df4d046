import {Flags} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {ensureSettings} from '../src/kv/machines.js'
import {BACKENDS, type Backend} from '../core/model.js'
import {LocalStore} from '../src/store/local.js'
import {checkIdentity, clusterIdentity} from '../src/lifecycle/identity.js'
import {ClusterError} from '../core/errors.js'

export default class Init extends KvCommand {
  static summary = 'Choose the cluster\'s settings once (otherwise the first create takes the defaults) and remember the etcd endpoints'
  static flags = {
    'overlay-range': Flags.string({description: 'overlay range host subnets are carved from', default: '10.32.0.0/12'}),
    'subnet-size': Flags.integer({description: 'prefix length of each host subnet', default: 24, min: 8, max: 30}),
    backend: Flags.string({description: 'overlay datapath', options: [...BACKENDS], default: 'wireguard'}),
    domain: Flags.string({description: 'cluster DNS domain', default: 'cluster.internal'}),
    'dns-upstream': Flags.string({description: 'resolver for names outside the cluster domain, ip[:port] (default: each host\'s /etc/resolv.conf)', multiple: true, multipleNonGreedy: true}),
    json: Flags.boolean({description: 'print the settings as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Init)
    const store = new LocalStore()
    const kv = await this.openKv(flags)
    const wanted = {range: flags['overlay-range'], subnetSize: flags['subnet-size'], backend: flags.backend as Backend, domain: flags.domain}
    const identity = clusterIdentity(store)
    const settings = await ensureSettings(kv, {...wanted, dnsUpstreams: flags['dns-upstream'], ...identity})
    checkIdentity(settings, identity, store)
    const differs = (Object.keys(wanted) as (keyof typeof wanted)[]).filter(k => settings[k] !== wanted[k])
    if (differs.length) {
      throw new ClusterError(`cluster ${settings.name} already exists with other settings (${differs.map(k => `${k}=${settings[k]}`).join(', ')})`,
        {hint: 'settings are chosen once; use another --cluster-name for a new cluster'})
    }
    store.writeConfig({...store.readConfig(), clusterName: kv.clusterName, kv: {endpoints: kv.endpoints, cacert: flags['kv-cacert'], cert: flags['kv-cert'], key: flags['kv-key']}})
    if (flags.json) return this.printJson(settings)
    process.stdout.write(`Cluster ${settings.name}: range ${settings.range}, /${settings.subnetSize} per host, backend ${settings.backend}, domain ${settings.domain}\n`)
  }
}
