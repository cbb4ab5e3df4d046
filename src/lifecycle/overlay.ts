/**
 * Joining a host to the overlay at provisioning time: its subnet (IPAM in etcd), the Docker
 * bridge settings that put its containers in that subnet, and the router agent with a peer
 * record signed by the cluster key this CLI holds.
 */
import type {SshConnection} from '../ssh/client.js'
import type {Provisioner} from '../provision/provisioner.js'
import {allocateSubnet} from '../ipam.js'
import {networkOf} from '../../core/subnets.js'
import type {PeerRecord} from '../../core/membership.js'
import {loadOrCreateSigningKey, signPeer} from '../signing.js'
import {dockerBridgeSettings} from '../provision/docker-bridge.js'
import {prepareRouter, startRouter, stopRouter} from '../agent/deploy.js'
import {ClusterError} from '../../core/errors.js'
import {kvCall} from '../kv/client.js'
import {addIssued, saveMembership, syncMembership} from '../store/membership.js'
import type {SetupContext} from './setup-context.js'
import {HOST_CLIENT_DIR} from '../kv/bootstrap/plan.js'

export interface Underlay {
  interface: string
  mtu: number
  /** CIDR of the network the address sits in. */
  network: string
}

/** Finds the interface holding `address` in `ip -o -4 addr show` output, and its MTU from `ip -o link`. */
export function parseUnderlay(addrOutput: string, linkOutput: string, address: string): Underlay | undefined {
  for (const line of addrOutput.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line)
    if (!m || m[2] !== address) continue
    const ifname = m[1].replace(/@.*$/, '')
    const mtu = new RegExp(`^\\d+:\\s+${ifname.replace(/[.]/g, '\\.')}(@\\S+)?:.*\\smtu\\s+(\\d+)`, 'm').exec(linkOutput)?.[2]
    return {interface: ifname, mtu: Number(mtu ?? 1500), network: `${networkOf(`${address}/${m[3]}`)}/${m[3]}`}
  }
  return undefined
}

async function underlayOf(conn: SshConnection, address: string): Promise<Underlay> {
  const out = await conn.run('ip -o -4 addr show; echo ===; ip -o link show', 'reading network interfaces', {sudo: false})
  const [addrs, links] = out.split('===\n')
  const u = parseUnderlay(addrs, links ?? '', address)
  if (!u) {
    throw new ClusterError(`no interface of the host holds ${address}`,
      {hint: 'the host is behind NAT: pass the address its peers reach it on with --advertise-addr'})
  }
  return u
}

export interface OverlayJoin {
  /** daemon.json keys that put the Docker bridge in the host's subnet. */
  dockerDaemon: Record<string, unknown>
  /** Starts (or restarts) the router once Docker runs with those settings. */
  start(): Promise<void>
}

export async function joinOverlay(c: SetupContext, provisioner: Provisioner): Promise<OverlayJoin> {
  const {conn, record, settings, kv} = c
  const subnet = await allocateSubnet(kv.client, kv.layout, settings, record.name)
  const privateAddr = record.addresses.private
  const underlay = await underlayOf(conn, c.advertiseAddr && !privateAddr ? record.addresses.public : privateAddr ?? record.addresses.public)
  const publicUnderlay = privateAddr ? await underlayOf(conn, record.addresses.public).catch(() => underlay) : underlay
  const {wgPublicKey} = await prepareRouter(conn, provisioner)
  const signing = loadOrCreateSigningKey(c.store.root)
  const membership = await syncMembership(kv, c.store.root, signing.publicKey)
  // Issued after any revocation of this name and any record of it seen, even ones signed by
  // a CLI whose clock runs ahead: routers refuse a record older than one they believed.
  const revoked = membership.revocations.get(record.name)?.revocation.before
  const newest = membership.newest.get(record.name)
  const floor = Math.max(0, ...[revoked, newest].map(d => (d === undefined ? 0 : Date.parse(d))))
  const peer: PeerRecord = {
    name: record.name,
    subnet,
    publicKey: wgPublicKey,
    endpoints: {public: record.addresses.public, ...(privateAddr ? {private: privateAddr, privateNet: underlay.network} : {})},
    ...(c.advertiseAddr ? {advertise: c.advertiseAddr} : {}),
    backend: settings.backend,
    issuedAt: new Date(Math.max(Date.now(), floor + 1)).toISOString(),
  }
  // This record voids everything a revocation of its name did: the revocation is spent.
  addIssued(membership, record.name, peer.issuedAt)
  saveMembership(c.store.root, membership)
  // A TLS etcd gets the host its own client certificate and role (see src/kv/bootstrap).
  const routerKv = kv.tls
    ? await (await import('../kv/bootstrap/host-access.js')).issueRouterCredentials(conn, record.name, kv, c.store)
    : {endpoints: kv.endpoints}
  return {
    dockerDaemon: dockerBridgeSettings(subnet, settings.backend, Math.min(underlay.mtu, publicUnderlay.mtu), settings.domain),
    start: async () => {
      await startRouter(conn, {
        clusterName: kv.clusterName,
        prefix: kv.layout.prefix,
        kv: routerKv,
        signingPublicKey: signing.publicKey,
        self: signPeer(peer, signing.secretKey),
        revocations: [...membership.revocations.values()].map(r => r.signed),
        newest: Object.fromEntries(membership.newest),
        backend: settings.backend,
        range: settings.range,
        domain: settings.domain,
        ...(settings.dnsUpstreams?.length ? {dnsUpstreams: settings.dnsUpstreams} : {}),
        underlay: {interface: underlay.interface, mtu: underlay.mtu},
      })
      if (revoked !== undefined) await kvCall(kv, `delete the spent revocation of ${record.name}`, () => kv.client.delete().key(kv.layout.revocation(record.name)).exec())
    },
  }
}

export async function leaveOverlay(conn: SshConnection): Promise<void> {
  await stopRouter(conn)
  // The host's own etcd credentials (made when the cluster's etcd is TLS) go with its router.
  await conn.run(`rm -rf ${HOST_CLIENT_DIR}`, 'removing the host etcd credentials')
}
