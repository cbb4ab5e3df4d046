import {Args, Flags} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {oclifFlagsOf, driverValues} from '../src/cli/driver-flags.js'
import {stderrProgress} from '../src/cli/progress.js'
import {listDrivers, getDriver} from '../src/drivers/registry.js'
import {createMachine} from '../src/lifecycle/create.js'
import {parseKeyValues} from '../src/names.js'
import {LocalStore} from '../src/store/local.js'
import {BACKENDS, type Backend} from '../core/model.js'
import {InputError} from '../core/errors.js'
import {withInterrupt} from '../src/cli/interrupt.js'
import {jsonFlag, machineJson} from '../src/cli/json.js'
import {parseKvMembers} from '../src/kv/bootstrap/plan.js'

// Every driver's flags are create's flags, third-party drivers included. A broken
// third-party package must not break the others: it fails only when chosen, in run().
const drivers = (await Promise.allSettled((await listDrivers()).map(d => getDriver(d.name))))
  .flatMap(r => (r.status === 'fulfilled' ? [r.value] : []))

export default class Create extends KvCommand {
  static summary = 'Create (or adopt) a machine, secure its Docker engine with TLS, record it in etcd and join it to the overlay'
  static examples = [
    'cluster create -d generic --generic-ip-address 198.18.0.11 --generic-ssh-key ~/.ssh/id_ed25519 node1',
    'cluster create -d digitalocean --digitalocean-region ams3 node2',
  ]
  static args = {name: Args.string({description: 'machine name', required: true})}
  static flags = {
    driver: Flags.string({char: 'd', description: `driver that makes the machine: ${drivers.map(d => d.name).join(', ')}`, required: true, env: 'CLUSTER_DRIVER'}),
    'engine-label': Flags.string({description: 'engine label key=value (repeatable)', multiple: true, multipleNonGreedy: true, helpGroup: 'ENGINE'}),
    'engine-opt': Flags.string({description: 'dockerd flag key=value, passed as --key=value (repeatable)', multiple: true, multipleNonGreedy: true, helpGroup: 'ENGINE'}),
    'engine-storage-driver': Flags.string({description: 'storage driver for dockerd, e.g. overlay2 (the same as --engine-opt storage-driver=…)', helpGroup: 'ENGINE'}),
    'engine-env': Flags.string({description: 'environment variable key=value for dockerd (repeatable)', multiple: true, multipleNonGreedy: true, helpGroup: 'ENGINE'}),
    'engine-insecure-registry': Flags.string({description: 'insecure registry host:port (repeatable)', multiple: true, multipleNonGreedy: true, helpGroup: 'ENGINE'}),
    'engine-registry-mirror': Flags.string({description: 'registry mirror URL (repeatable)', multiple: true, multipleNonGreedy: true, helpGroup: 'ENGINE'}),
    'tls-san': Flags.string({description: 'extra name or address for the server certificate (repeatable)', multiple: true, multipleNonGreedy: true, helpGroup: 'ENGINE'}),
    'advertise-addr': Flags.string({description: 'address other hosts reach this one on (overrides the per-pair choice)', helpGroup: 'NETWORK'}),
    'overlay-range': Flags.string({description: 'cluster overlay range, set by the first machine only (default 10.32.0.0/12)', helpGroup: 'NETWORK'}),
    'subnet-size': Flags.integer({description: 'prefix length of each host subnet, first machine only (default 24)', min: 8, max: 30, helpGroup: 'NETWORK'}),
    backend: Flags.string({description: 'overlay datapath, first machine only (default wireguard)', options: [...BACKENDS], helpGroup: 'NETWORK'}),
    domain: Flags.string({description: 'cluster DNS domain, first machine only (default cluster.internal)', helpGroup: 'NETWORK'}),
    'dns-upstream': Flags.string({description: 'resolver for names outside the cluster domain, ip[:port], first machine only (default: each host\'s /etc/resolv.conf)', multiple: true, multipleNonGreedy: true, helpGroup: 'NETWORK'}),
    'kv-members': Flags.string({description: 'members of the cluster\'s own etcd, first machine only: auto (3 from 3 machines, 5 from 5), 1, 3 or 5 (default auto)', helpGroup: 'ETCD'}),
    swarm: Flags.boolean({description: 'join the cluster\'s Docker swarm (as a worker unless --swarm-master)', helpGroup: 'SWARM'}),
    'swarm-master': Flags.boolean({description: 'make this host a swarm manager; the cluster\'s first one initialises the swarm', helpGroup: 'SWARM'}),
    'swarm-opt': Flags.string({description: 'swarm setting key=value (repeatable): availability, default-addr-pool, default-addr-pool-mask-length, data-path-port, task-history-limit, snapshot-interval, cert-expiry, dispatcher-heartbeat', multiple: true, multipleNonGreedy: true, helpGroup: 'SWARM'}),
    quiet: Flags.boolean({char: 'q', description: 'print no progress'}),
    ...jsonFlag,
    ...oclifFlagsOf(drivers),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Create)
    if (!flags.swarm && (flags['swarm-master'] || flags['swarm-opt'])) throw new InputError('--swarm-master and --swarm-opt need --swarm', 'add --swarm')
    const factory = await getDriver(flags.driver)
    const driverFlags = driverValues(factory, drivers, flags as Record<string, unknown>, this.argv)
    const created = await withInterrupt('rolling back', signal => createMachine({
      name: args.name,
      driver: factory.name,
      driverFlags,
      labels: parseKeyValues(flags['engine-label'], 'engine-label'),
      engine: {
        labels: flags['engine-label'] ?? [],
        opts: [...flags['engine-opt'] ?? [], ...(flags['engine-storage-driver'] ? [`storage-driver=${flags['engine-storage-driver']}`] : [])],
        env: flags['engine-env'] ?? [],
        insecureRegistries: flags['engine-insecure-registry'] ?? [],
        registryMirrors: flags['engine-registry-mirror'] ?? [],
        tlsSans: flags['tls-san'] ?? [],
      },
      settings: {range: flags['overlay-range'], subnetSize: flags['subnet-size'], backend: flags.backend as Backend | undefined, domain: flags.domain, dnsUpstreams: flags['dns-upstream'],
        kvMembers: flags['kv-members'] === undefined ? undefined : parseKvMembers(flags['kv-members'])},
      advertiseAddr: flags['advertise-addr'],
      swarm: flags.swarm ? {master: flags['swarm-master'], opts: flags['swarm-opt'] ?? []} : undefined,
      kv: this.kvOptions(flags),
    }, {store: new LocalStore(), progress: stderrProgress(args.name, flags.quiet), signal}))
    if (created.kvHint) process.stderr.write(`Hint: ${created.kvHint}\n`)
    if (flags.json) this.printJson(machineJson(created.record))
  }
}
