import {Flags} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {ensureSettings} from '../src/kv/machines.js'
import {kvConfigured} from '../src/kv/client.js'
import {KV_MEMBER_MODES, parseKvMembers} from '../src/kv/bootstrap/plan.js'
import {BACKENDS, type Backend, type ClusterSettings} from '../core/model.js'
import {LocalStore} from '../src/store/local.js'
import {checkIdentity, clusterIdentity} from '../src/lifecycle/identity.js'
import {ClusterError} from '../core/errors.js'

export default class Init extends KvCommand {
  static summary = 'Choose the cluster\'s settings once (otherwise the first create takes the defaults) and remember the etcd endpoints'
  static description = 'With no etcd configured, the settings stay in the local config.json until the first `cluster create` makes the cluster\'s own etcd and writes them there.'
  static flags = {
    'overlay-range': Flags.string({description: 'overlay range host subnets are carved from', default: '10.32.0.0/12'}),
    'subnet-size': Flags.integer({description: 'prefix length of each host subnet', default: 24, min: 8, max: 30}),
    backend: Flags.string({description: 'overlay datapath', options: [...BACKENDS], default: 'wireguard'}),
    domain: Flags.string({description: 'cluster DNS domain', default: 'cluster.internal'}),
    'dns-upstream': Flags.string({description: 'resolver for names outside the cluster domain, ip[:port] (default: each host\'s /etc/resolv.conf)', multiple: true, multipleNonGreedy: true}),
    'kv-members': Flags.string({description: `members of the cluster's own etcd: ${KV_MEMBER_MODES.join(', ')} (auto: 3 from 3 machines, 5 from 5)`, default: 'auto'}),
    json: Flags.boolean({description: 'print the settings as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Init)
    const store = new LocalStore()
    const wanted = {range: flags['overlay-range'], subnetSize: flags['subnet-size'], backend: flags.backend as Backend, domain: flags.domain, kvMembers: parseKvMembers(flags['kv-members'])}
    if (!kvConfigured(this.kvOptions(flags), store)) return this.keepLocally(store, {...wanted, dnsUpstreams: flags['dns-upstream']}, flags)
    const kv = await this.openKv(flags)
    const identity = clusterIdentity(store)
    const settings = await ensureSettings(kv, {...wanted, dnsUpstreams: flags['dns-upstream'], ...identity})
    checkIdentity(settings, identity, store)
    const differs = (Object.keys(wanted) as (keyof typeof wanted)[]).filter(k => (settings[k] ?? (k === 'kvMembers' ? 'auto' : undefined)) !== wanted[k])
    if (differs.length) {
      throw new ClusterError(`cluster ${settings.name} already exists with other settings (${differs.map(k => `${k}=${settings[k]}`).join(', ')})`,
        {hint: 'settings are chosen once; use another --cluster-name for a new cluster'})
    }
    store.writeConfig({...store.readConfig(), clusterName: kv.clusterName, kv: {endpoints: kv.endpoints, cacert: flags['kv-cacert'], cert: flags['kv-cert'], key: flags['kv-key']}})
    this.print(settings, flags.json)
  }

  /** No etcd yet: the first create makes the cluster's own and writes these settings into it. */
  private keepLocally(store: LocalStore, settings: Partial<ClusterSettings>, flags: {json: boolean; 'cluster-name'?: string}): void {
    const cfg = store.readConfig()
    const name = flags['cluster-name'] ?? process.env.CLUSTER_NAME ?? cfg.clusterName
    store.writeConfig({...cfg, ...(name ? {clusterName: name} : {}), settings})
    this.print({name: name ?? 'default', ...settings}, flags.json)
    process.stderr.write('No etcd is configured: the settings stay in config.json until the first `cluster create` makes the cluster\'s own etcd\n')
  }

  private print(s: Partial<ClusterSettings>, json: boolean): void {
    if (json) return this.printJson(s)
    process.stdout.write(`Cluster ${s.name}: range ${s.range}, /${s.subnetSize} per host, backend ${s.backend}, domain ${s.domain}, etcd members ${s.kvMembers ?? 'auto'}\n`)
  }
}
