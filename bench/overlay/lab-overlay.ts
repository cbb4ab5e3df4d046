/**
 * Overlay clusters of lab hosts, made with the real CLI, for the overlay and DNS e2e tests
 * and the overlay bench: `cluster init` (backend, the lab's overlay range, the lab's DNS as
 * upstream), then `cluster create -d generic` per host and `cluster rm` at the end. Each
 * cluster has its own store and etcd prefix, so runs never see each other's peers.
 */
import {randomBytes} from 'node:crypto'
import {rmSync} from 'node:fs'
import {Etcd3} from 'etcd3'
import {connectSsh, type SshConnection} from '../../src/ssh/client.js'
import {readRouterStatus} from '../../src/agent/status.js'
import {clusterPrefix, keys, type KeyLayout} from '../../core/keys.js'
import {loadSigningKey, type SigningKey} from '../../src/signing.js'
import type {SignedPeer} from '../../core/membership.js'
import type {Backend, ClusterSettings} from '../../core/model.js'
import type {RouterStatus} from '../../core/router-status.js'
import {DNS_IP, ETCD_ENDPOINT, SSH_KEY, execOk, startHost, removeHost, loadImage, type LabHost} from '../../test/lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../../test/support/cli.js'

export const OVERLAY_RANGE = '198.19.0.0/16'

export interface OverlayCluster {
  name: string
  /** The CLI's store and etcd settings for this cluster. */
  env: CliEnv
  settings: ClusterSettings
  layout: KeyLayout
  etcd: Etcd3
  /** The store's signing key (for tests that sign records of their own). */
  signing: SigningKey
  hosts: OverlayHost[]
}

export interface OverlayHost extends LabHost {
  subnet: string
  /** The host's signed peer record, as its router announced it. */
  self: SignedPeer
  /** Its WireGuard public key. */
  publicKey: string
  conn: SshConnection
}

export async function newCluster(backend: Backend): Promise<OverlayCluster> {
  const name = `ov-${backend}-${randomBytes(3).toString('hex')}`
  const env = newCliEnv(name, ETCD_ENDPOINT)
  // The lab's DNS as upstream: no container lookup leaves the lab.
  await cliOk(env, ['init', '--backend', backend, '--overlay-range', OVERLAY_RANGE, '--dns-upstream', DNS_IP])
  const layout = keys(clusterPrefix(name))
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  const settings = JSON.parse((await etcd.get(layout.settings).string())!) as ClusterSettings
  return {name, env, settings, layout, etcd, signing: loadSigningKey(env.storage)!, hosts: []}
}

/** Starts a fresh trixie lab host with the busybox image loaded into its Docker. */
export async function startLabHost(name: string): Promise<LabHost> {
  const host = await startHost({name, image: 'trixie'})
  await execOk(name, ['sh', '-c', 'for i in $(seq 100); do docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1'])
  await loadImage(name)
  return host
}

/** `cluster create -d generic` of a running lab host; returns once its router has announced it. */
export async function joinHost(cluster: OverlayCluster, host: LabHost): Promise<OverlayHost> {
  await cliOk(cluster.env, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, host.name])
  let raw: string | null = null
  for (let i = 0; i < 100 && raw === null; i++) {
    raw = await cluster.etcd.get(cluster.layout.peer(host.name)).string()
    if (raw === null) await new Promise(r => setTimeout(r, 100))
  }
  if (raw === null) throw new Error(`the router of ${host.name} did not announce itself within 10 s`)
  const self = JSON.parse(raw) as SignedPeer
  const record = JSON.parse(self.record) as {subnet: string; publicKey: string}
  const conn = await connectSsh({host: host.ip, port: 22, user: 'root', privateKeyPath: SSH_KEY})
  const joined = {...host, subnet: record.subnet, publicKey: record.publicKey, self, conn}
  cluster.hosts.push(joined)
  return joined
}

/**
 * The router's resident memory (VmRSS, what the 60 MB target is about) and the part of it
 * that is its own heap and stacks (RssAnon); the rest is node's and its libraries' code.
 */
export async function routerMemory(host: LabHost): Promise<{rss: number; anon: number}> {
  const pid = (await execOk(host.name, ['systemctl', 'show', '-p', 'MainPID', '--value', 'cluster-router'])).trim()
  const status = await execOk(host.name, ['cat', `/proc/${pid}/status`])
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024
  return {rss: kb('VmRSS'), anon: kb('RssAnon')}
}

export async function routerStatus(host: OverlayHost): Promise<RouterStatus | undefined> {
  return readRouterStatus(host.conn)
}

/** `cluster rm -f` of every host still there, then the cluster's etcd keys and store. */
export async function destroyCluster(cluster: OverlayCluster, removeHosts = true): Promise<void> {
  for (const h of cluster.hosts) {
    h.conn.close()
    await cli(cluster.env, ['rm', '-f', '-y', h.name])
    if (removeHosts) await removeHost(h.name)
  }
  await cluster.etcd.delete().prefix(cluster.layout.prefix + '/').exec().catch(() => undefined)
  cluster.etcd.close()
  rmSync(cluster.env.storage, {recursive: true, force: true})
}
