/**
 * Joining a host to the overlay at provisioning time: its subnet (IPAM in etcd), the Docker
 * bridge settings that put its containers in that subnet, and the router agent with a peer
 * record signed by the cluster key this CLI holds.
 */
import type {SshConnection} from '../ssh/client.js'
import type {Provisioner} from '../provision/provisioner.js'
import {allocateSubnet} from '../ipam.js'
import {networkOf} from '../../core/subnets.js'
import type {PeerRecord, SignedPeer} from '../../core/membership.js'
import type {ClusterSettings} from '../../core/model.js'
import type {RouterConfig} from '../../core/router-config.js'
import {loadOrCreateSigningKey, signPeer} from '../signing.js'
import {dockerBridgeSettings} from '../provision/docker-bridge.js'
import {prepareRouter, startRouter, stopRouter} from '../agent/deploy.js'
import {waitForRouter} from '../agent/status.js'
import {ClusterError} from '../../core/errors.js'
import {kvCall, type Kv} from '../kv/client.js'
import {addIssued, saveMembership, syncMembership, type Membership} from '../store/membership.js'
import type {SetupContext} from './setup-context.js'
import {HOST_CLIENT_DIR} from '../kv/bootstrap/plan.js'

/**
 * How long a new router has to report itself connected to etcd. Twice upgrade's: a new host's
 * router also makes its WireGuard device first, and 20 creates at once on two cores took
 * tens of seconds per step (bench/creates).
 */
const ROUTER_START_MS = 60_000

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
  /** Starts (or restarts) the router once Docker runs with those settings, and waits until it reports connected to etcd. */
  start(): Promise<void>
}

export async function joinOverlay(c: SetupContext, provisioner: Provisioner): Promise<OverlayJoin> {
  const {conn, record, settings, kv} = c
  const subnet = await allocateSubnet(kv.client, kv.layout, settings, record.name)
  const privateAddr = record.addresses.private
  const underlay = await underlayOf(conn, c.advertiseAddr && !privateAddr ? record.addresses.public : privateAddr ?? record.addresses.public)
  const publicUnderlay = privateAddr ? await underlayOf(conn, record.addresses.public).catch(() => underlay) : underlay
  const {wgPublicKey} = await prepareRouter(conn, provisioner)
  const peer = await issuePeerRecord({kv, storeRoot: c.store.root, settings, name: record.name, addresses: record.addresses, advertiseAddr: c.advertiseAddr, subnet, wgPublicKey, underlay})
  // A TLS etcd gets the host its own client certificate and role (see src/kv/bootstrap).
  const routerKv = kv.tls
    ? await (await import('../kv/bootstrap/host-access.js')).issueRouterCredentials(conn, record.name, kv, c.store)
    : {endpoints: kv.endpoints}
  return {
    dockerDaemon: dockerBridgeSettings(subnet, settings.backend, Math.min(underlay.mtu, publicUnderlay.mtu), settings.domain),
    start: async () => {
      const startedAt = await startRouter(conn, routerConfig(kv, routerKv, settings, peer, underlay))
      // "Ready" includes the overlay: a router that cannot start fails the create, which rolls back.
      await waitForRouter(record.name, conn, startedAt, ROUTER_START_MS)
      await spendRevocation(kv, peer)
    },
  }
}

/** A joining host's peer record, signed, with what the store knows of its name's history. */
export interface IssuedPeer {
  name: string
  signed: SignedPeer
  signingPublicKey: string
  membership: Membership
  /** The revocation of this name that the new record spends (deleted from etcd once the router runs). */
  revoked?: string
}

export interface PeerToIssue {
  kv: Kv
  storeRoot: string
  settings: ClusterSettings
  name: string
  addresses: {public: string; private?: string}
  advertiseAddr?: string
  /** Its subnet, from allocateSubnet. */
  subnet: string
  wgPublicKey: string
  /** The interface holding the address peers reach it on (its network goes into the record with a private address). */
  underlay: Underlay
}

/**
 * Signs the peer record of a host that holds `subnet`, issued after any revocation of its name
 * and any record of it seen (even ones signed by a CLI whose clock runs ahead: routers refuse a
 * record older than one they believed), and remembers it in the store's membership.
 */
export async function issuePeerRecord(p: PeerToIssue): Promise<IssuedPeer> {
  const signing = loadOrCreateSigningKey(p.storeRoot)
  const membership = await syncMembership(p.kv, p.storeRoot, signing.publicKey)
  const revoked = membership.revocations.get(p.name)?.revocation.before
  const newest = membership.newest.get(p.name)
  const floor = Math.max(0, ...[revoked, newest].map(d => (d === undefined ? 0 : Date.parse(d))))
  const privateAddr = p.addresses.private
  const peer: PeerRecord = {
    name: p.name,
    subnet: p.subnet,
    publicKey: p.wgPublicKey,
    endpoints: {public: p.addresses.public, ...(privateAddr ? {private: privateAddr, privateNet: p.underlay.network} : {})},
    ...(p.advertiseAddr ? {advertise: p.advertiseAddr} : {}),
    backend: p.settings.backend,
    issuedAt: new Date(Math.max(Date.now(), floor + 1)).toISOString(),
  }
  // This record voids everything a revocation of its name did: the revocation is spent.
  addIssued(membership, p.name, peer.issuedAt)
  saveMembership(p.storeRoot, membership)
  return {name: p.name, signed: signPeer(peer, signing.secretKey), signingPublicKey: signing.publicKey, membership, ...(revoked === undefined ? {} : {revoked})}
}

/** Pure: the host's /etc/cluster/router.json. */
export function routerConfig(kv: Kv, routerKv: RouterConfig['kv'], settings: ClusterSettings, peer: IssuedPeer, underlay: Underlay): RouterConfig {
  return {
    clusterName: kv.clusterName,
    prefix: kv.layout.prefix,
    kv: routerKv,
    signingPublicKey: peer.signingPublicKey,
    self: peer.signed,
    revocations: [...peer.membership.revocations.values()].map(r => r.signed),
    newest: Object.fromEntries(peer.membership.newest),
    backend: settings.backend,
    range: settings.range,
    domain: settings.domain,
    ...(settings.dnsUpstreams?.length ? {dnsUpstreams: settings.dnsUpstreams} : {}),
    underlay: {interface: underlay.interface, mtu: underlay.mtu},
  }
}

/** Once the host's router runs with the new record, the revocation it spends goes from etcd. */
export async function spendRevocation(kv: Kv, peer: IssuedPeer): Promise<void> {
  if (peer.revoked === undefined) return
  await kvCall(kv, `delete the spent revocation of ${peer.name}`, () => kv.client.delete().key(kv.layout.revocation(peer.name)).exec())
}

export async function leaveOverlay(conn: SshConnection): Promise<void> {
  await stopRouter(conn)
  // The host's own etcd credentials (made when the cluster's etcd is TLS) go with its router.
  await conn.run(`rm -rf ${HOST_CLIENT_DIR}`, 'removing the host etcd credentials')
}
