/**
 * Joining a host to the overlay at provisioning time: its subnet (IPAM in etcd), the Docker
 * bridge settings that put its containers in that subnet, and the router agent with a peer
 * record signed by the cluster key this CLI holds.
 */
import type {SshConnection} from '../ssh/client.js'
import type {Provisioner} from '../provision/provisioner.js'
import {allocateSubnet} from '../ipam.js'
import {networkOf} from '../../core/subnets.js'
import {isPeerError, verifyRevocation, type PeerRecord, type SignedPeer} from '../../core/membership.js'
import {loadOrCreateSigningKey, signPeer} from '../signing.js'
import {dockerBridgeSettings} from '../provision/docker-bridge.js'
import {prepareRouter, startRouter, stopRouter} from '../agent/deploy.js'
import {ClusterError} from '../../core/errors.js'
import {kvCall, type Kv} from '../kv/client.js'
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
  const revocations = await currentRevocations(kv, signing.publicKey)
  // Issued after any revocation of this name, even one written by a CLI whose clock runs ahead.
  const revokedUntil = Math.max(0, ...revocations.filter(r => r.name === record.name).map(r => Date.parse(r.before)))
  const peer: PeerRecord = {
    name: record.name,
    subnet,
    publicKey: wgPublicKey,
    endpoints: {public: record.addresses.public, ...(privateAddr ? {private: privateAddr, privateNet: underlay.network} : {})},
    ...(c.advertiseAddr ? {advertise: c.advertiseAddr} : {}),
    backend: settings.backend,
    issuedAt: new Date(Math.max(Date.now(), revokedUntil + 1)).toISOString(),
  }
  // A TLS etcd gets the host its own client certificate and role (see src/kv/bootstrap).
  const routerKv = kv.tls
    ? await (await import('../kv/bootstrap/host-access.js')).issueRouterCredentials(conn, record.name, kv, c.store)
    : {endpoints: kv.endpoints}
  return {
    dockerDaemon: dockerBridgeSettings(subnet, settings.backend, Math.min(underlay.mtu, publicUnderlay.mtu), settings.domain),
    start: () => startRouter(conn, {
      clusterName: kv.clusterName,
      prefix: kv.layout.prefix,
      kv: routerKv,
      signingPublicKey: signing.publicKey,
      self: signPeer(peer, signing.secretKey),
      revocations: revocations.map(r => r.signed),
      backend: settings.backend,
      range: settings.range,
      domain: settings.domain,
      ...(settings.dnsUpstreams?.length ? {dnsUpstreams: settings.dnsUpstreams} : {}),
      underlay: {interface: underlay.interface, mtu: underlay.mtu},
    }),
  }
}

/** The valid revocations etcd holds (see src/membership.ts), for a new router to start with. */
async function currentRevocations(kv: Kv, signingKey: string): Promise<Array<{name: string; before: string; signed: SignedPeer}>> {
  const all = await kvCall(kv, 'read the revocations', () => kv.client.getAll().prefix(kv.layout.revocations).strings())
  return Object.values(all).flatMap(raw => {
    try {
      const signed = JSON.parse(raw) as SignedPeer
      const r = verifyRevocation(signed, signingKey)
      return isPeerError(r) ? [] : [{name: r.name, before: r.before, signed}]
    } catch {
      return []
    }
  })
}

export async function leaveOverlay(conn: SshConnection): Promise<void> {
  await stopRouter(conn)
  // The host's own etcd credentials (made when the cluster's etcd is TLS) go with its router.
  await conn.run(`rm -rf ${HOST_CLIENT_DIR}`, 'removing the host etcd credentials')
}
