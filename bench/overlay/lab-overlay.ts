/**
 * Drives the router on lab hosts the way `cluster create` does, for the overlay e2e test
 * and the overlay bench: a subnet from etcd (allocateSubnet), the router uploaded and its
 * WireGuard key made on the host (prepareRouter, over real SSH), Docker's default bridge
 * put in the subnet (dockerBridgeSettings), a signed record and the systemd unit
 * (startRouter). Each run uses its own etcd prefix, so runs never see each other's peers.
 */
import {randomBytes} from 'node:crypto'
import nacl from 'tweetnacl'
import {Etcd3} from 'etcd3'
import {connectSsh, type SshConnection} from '../../src/ssh/client.js'
import {detectProvisioner} from '../../src/provision/install.js'
import {allocateSubnet} from '../../src/ipam.js'
import type {PeerRecord} from '../../src/membership.js'
import {signPeer} from '../../src/signing.js'
import {dockerBridgeSettings, prepareRouter, startRouter, stopRouter, readRouterStatus} from '../../src/router-deploy.js'
import {keys, type KeyLayout} from '../../src/kv/keys.js'
import type {Backend, ClusterSettings} from '../../src/model.js'
import type {RouterConfig} from '../../router/config.js'
import type {RouterStatus} from '../../router/status.js'
import {ETCD_ENDPOINT, SSH_KEY, execOk, startHost, removeHost, loadImage, type LabHost} from '../../test/lab/lab.js'

export const OVERLAY_RANGE = '198.19.0.0/16'

export interface OverlayCluster {
  name: string
  settings: ClusterSettings
  layout: KeyLayout
  etcd: Etcd3
  signing: nacl.SignKeyPair
  hosts: OverlayHost[]
}

export interface OverlayHost extends LabHost {
  subnet: string
  conn: SshConnection
  config: RouterConfig
}

export function newCluster(backend: Backend): OverlayCluster {
  const name = `ov-${backend}-${randomBytes(3).toString('hex')}`
  return {
    name,
    settings: {name, range: OVERLAY_RANGE, subnetSize: 24, backend, domain: 'cluster.internal', createdAt: new Date().toISOString()},
    layout: keys(`/cluster/${name}`),
    etcd: new Etcd3({hosts: ETCD_ENDPOINT}),
    signing: nacl.sign.keyPair(),
    hosts: [],
  }
}

/** Starts a fresh trixie lab host with the busybox image loaded into its Docker. */
export async function startLabHost(name: string): Promise<LabHost> {
  const host = await startHost({name, image: 'trixie'})
  await execOk(name, ['sh', '-c', 'for i in $(seq 100); do docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1'])
  await loadImage(name)
  return host
}

/** Everything `cluster create` does for the overlay, on one running lab host. */
export async function joinHost(cluster: OverlayCluster, host: LabHost): Promise<OverlayHost> {
  const conn = await connectSsh({host: host.ip, port: 22, user: 'root', privateKeyPath: SSH_KEY})
  const {provisioner} = await detectProvisioner(conn)
  const subnet = await allocateSubnet(cluster.etcd, cluster.layout, cluster.settings, host.name)
  const {wgPublicKey} = await prepareRouter(conn, provisioner)
  const underlay = JSON.parse(await conn.run(`node /usr/local/lib/cluster/router.cjs underlay ${host.ip}`, 'reading the underlay')) as RouterConfig['underlay']
  await configureDocker(conn, dockerBridgeSettings(subnet, cluster.settings.backend, underlay.mtu, cluster.settings.domain))
  const record: PeerRecord = {
    name: host.name, subnet, publicKey: wgPublicKey, endpoints: {public: host.ip},
    backend: cluster.settings.backend, issuedAt: new Date().toISOString(),
  }
  const config: RouterConfig = {
    clusterName: cluster.name,
    prefix: cluster.layout.prefix,
    kv: {endpoints: [ETCD_ENDPOINT]},
    signingPublicKey: Buffer.from(cluster.signing.publicKey).toString('base64'),
    self: signPeer(record, cluster.signing.secretKey),
    backend: cluster.settings.backend,
    range: cluster.settings.range,
    domain: cluster.settings.domain,
    underlay,
  }
  await startRouter(conn, config)
  const joined = {...host, subnet, conn, config}
  cluster.hosts.push(joined)
  return joined
}

/** Merges the bridge settings into the lab image's daemon.json (the real CLI does it in configureEngine). */
async function configureDocker(conn: SshConnection, settings: Record<string, unknown>): Promise<void> {
  const current = JSON.parse((await conn.readFile('/etc/docker/daemon.json')) ?? '{}') as Record<string, unknown>
  await conn.writeFile('/etc/docker/daemon.json', JSON.stringify({...current, ...settings}, null, 2) + '\n', 0o644)
  // Lab hosts are reconfigured many times a run: keep systemd's start rate limit out of it.
  await conn.run('systemctl reset-failed docker; systemctl restart docker && for i in $(seq 100); do docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1', 'restarting docker')
}

export async function routerStatus(host: OverlayHost): Promise<RouterStatus | undefined> {
  return readRouterStatus(host.conn)
}

/** Stops every router (removing what it made), closes connections, removes the hosts and the etcd keys. */
export async function destroyCluster(cluster: OverlayCluster, removeHosts = true): Promise<void> {
  for (const h of cluster.hosts) {
    await stopRouter(h.conn).catch(() => undefined)
    h.conn.close()
    if (removeHosts) await removeHost(h.name)
  }
  await cluster.etcd.delete().prefix(cluster.layout.prefix + '/').exec().catch(() => undefined)
  cluster.etcd.close()
}
