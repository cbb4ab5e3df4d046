/**
 * The cluster the router benches run their hosts in (bench/scale, bench/dns-churn): one etcd
 * on this machine, on the bench bridge, and a cluster made and filled as the CLI does it:
 * `cluster init`, then per host what `cluster create` does for its router (key, IPAM lease,
 * signed peer record, router.json: src/lifecycle/overlay.ts).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {openSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Backend, ClusterSettings} from '../../core/model.js'
import {allocateSubnet} from '../../src/ipam.js'
import {openKv, type Kv} from '../../src/kv/client.js'
import {issuePeerRecord, parseUnderlay, routerConfig, spendRevocation, type IssuedPeer} from '../../src/lifecycle/overlay.js'
import {LocalStore} from '../../src/store/local.js'
import {REPO_ROOT} from '../../test/lab/lab.js'
import {cliOk, newCliEnv} from '../../test/support/cli.js'
import {freePort} from '../../test/support/net.js'
import {NET, type Host} from './hosts.js'

export const BUNDLE = join(REPO_ROOT, 'dist', 'router.cjs')
export const ENDPOINT = `http://${NET.gateway}:2379`

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** etcd on the bridge address, its data and log in `dir`; resolves once it answers. */
export async function startEtcd(dir: string): Promise<ChildProcess> {
  const peer = `http://127.0.0.1:${await freePort()}`
  const log = openSync(join(dir, 'etcd.log'), 'a')
  const child = spawn('etcd', ['--name', 'scale', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', ENDPOINT, '--advertise-client-urls', ENDPOINT,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `scale=${peer}`], {stdio: ['ignore', log, log]})
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${ENDPOINT}/health`).then(r => r.ok, () => false)) return child
    if (child.exitCode !== null) break
    await sleep(100)
  }
  throw new Error(`etcd did not answer on ${ENDPOINT} (see ${join(dir, 'etcd.log')})`)
}

/** SIGTERM, and waits for the exit. */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await gone
}

/** Ctrl-C or SIGTERM: tears down once, then exits 130 (namespaces and etcd left behind would break the next run). */
export function tearDownOnSignal(tearDown: () => Promise<void>): void {
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    void tearDown().finally(() => process.exit(130))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

export class BenchCluster {
  private constructor(readonly kv: Kv, readonly store: LocalStore, readonly settings: ClusterSettings) {}

  /** `cluster init` against the bench's etcd (the DNS upstream: the bridge address, where nothing answers). */
  static async init(backend: Backend, namePrefix: string): Promise<BenchCluster> {
    const clusterName = `${namePrefix}-${randomBytes(3).toString('hex')}`
    const env = newCliEnv(clusterName, ENDPOINT)
    await cliOk(env, ['init', '--backend', backend, '--overlay-range', NET.range, '--subnet-size', String(NET.subnetSize), '--dns-upstream', NET.gateway])
    const store = new LocalStore(env.storage)
    const kv = await openKv({endpoints: [ENDPOINT], clusterName}, store)
    const settings = JSON.parse((await kv.client.get(kv.layout.settings).string())!) as ClusterSettings
    return new BenchCluster(kv, store, settings)
  }

  /**
   * What create does for the host's router: key, IPAM lease, signed record, router.json
   * (without Docker: `publishContainers: false`); then the bridge address dockerd would take.
   */
  async provision(h: Host): Promise<IssuedPeer> {
    const wgPublicKey = (await h.run([BUNDLE, 'keygen'])).trim()
    const subnet = await allocateSubnet(this.kv.client, this.kv.layout, this.settings, h.name)
    const {addrs, links} = await h.interfaces()
    const underlay = parseUnderlay(addrs, links, h.address)
    if (!underlay) throw new Error(`no interface in ${h.ns} holds ${h.address}`)
    const peer = await issuePeerRecord({kv: this.kv, storeRoot: this.store.root, settings: this.settings, name: h.name, addresses: {public: h.address}, subnet, wgPublicKey, underlay})
    const config = {...routerConfig(this.kv, {endpoints: this.kv.endpoints}, this.settings, peer, underlay), publishContainers: false}
    writeFileSync(join(h.dir, 'etc', 'router.json'), JSON.stringify(config, null, 2) + '\n', {mode: 0o600})
    await h.setSubnet(subnet)
    return peer
  }

  /** Starts the host's router (`wrap`: a command it runs under, e.g. taskset) and spends its revocation, as create does. */
  async start(h: Host, peer: IssuedPeer, wrap: string[] = []): Promise<void> {
    h.startRouter(BUNDLE, wrap)
    await spendRevocation(this.kv, peer)
  }

  /** Closes etcd's client and removes the CLI's store (a folder in /tmp a run). */
  close(): void {
    this.kv.close()
    rmSync(this.store.root, {recursive: true, force: true})
  }
}
