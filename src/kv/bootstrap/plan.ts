/**
 * The pure half of `cluster kv create`: which machines become members and at which URLs,
 * the systemd unit each member runs, and what each host's etcd role may touch. Effects
 * (SSH, etcd calls) live in the modules next to this one.
 */
import {InputError} from '../../../core/errors.js'
import type {KeyLayout} from '../../../core/keys.js'
import {prefixEnd as rangeEndOf} from '../../../core/keys.js'
import {CERT_NAMES} from '../../tls/authorities.js'

export const KV_SIZES = [1, 3, 5] as const
export const ETCD_UNIT = 'cluster-etcd.service'
export const ETCD_UNIT_PATH = `/etc/systemd/system/${ETCD_UNIT}`
export const ETCD_DATA_DIR = '/var/lib/cluster-etcd'
export const CLIENT_PORT = 2379
export const PEER_PORT = 2380
/**
 * Member TLS files; the folder is root:etcd 0750 so the etcd user reads them, nobody else.
 * ca.pem is the etcd member CA (peers, and what local clients verify the member with);
 * client-ca.pem the etcd client CA, the only CA the client port trusts.
 */
export const MEMBER_DIR = '/etc/cluster-etcd'
export const MEMBER_FILES = {ca: `${MEMBER_DIR}/ca.pem`, clientCa: `${MEMBER_DIR}/client-ca.pem`, cert: `${MEMBER_DIR}/server.pem`, key: `${MEMBER_DIR}/server-key.pem`}
/** A host's own etcd client credentials (its router's), root-only; ca.pem verifies the members. */
export const HOST_CLIENT_DIR = '/etc/cluster/kv'
export const HOST_CLIENT_FILES = {cacert: `${HOST_CLIENT_DIR}/ca.pem`, cert: `${HOST_CLIENT_DIR}/client.pem`, key: `${HOST_CLIENT_DIR}/client-key.pem`}
/** etcd with --client-cert-auth takes the user name from the client certificate's CN. */
export const ROOT_USER = CERT_NAMES.etcdRoot

export interface MemberPlan {
  name: string
  /** The address peers reach the member on: the machine's private address if it has one, so raft traffic stays off the public network. */
  address: string
  /** The public address of a machine that also has a private one: clients outside the private network (this CLI) come in there. */
  publicAddress?: string
}

/** A machine as an etcd member: peers on its private address where it has one. */
export function memberOf(r: {name: string; addresses: {public: string; private?: string}}): MemberPlan {
  return r.addresses.private && r.addresses.private !== r.addresses.public
    ? {name: r.name, address: r.addresses.private, publicAddress: r.addresses.public}
    : {name: r.name, address: r.addresses.public}
}

/** Where clients reach the member: its public address first (the CLI may be anywhere), then its private one. */
export function clientUrls(m: MemberPlan): string[] {
  return [...(m.publicAddress ? [m.publicAddress] : []), m.address].map(a => `https://${a}:${CLIENT_PORT}`)
}

export function clientUrl(m: MemberPlan): string {
  return clientUrls(m)[0]!
}

export function peerUrl(m: MemberPlan): string {
  return `https://${m.address}:${PEER_PORT}`
}

/** Checks the requested size against the number of machines named; an even or oversized etcd is refused. */
export function checkMemberCount(count: number, size?: number): void {
  const n = size ?? count
  if (!(KV_SIZES as readonly number[]).includes(n)) {
    throw new InputError(`an etcd of ${n} members is not offered`, `use --size ${KV_SIZES.join(', ')} (an odd count keeps a majority when one member fails)`)
  }
  if (count !== n) throw new InputError(`--size ${n} needs ${n} machine names, got ${count}`, `name exactly ${n} machines`)
}

export function planMembers(machines: MemberPlan[], size?: number): MemberPlan[] {
  checkMemberCount(machines.length, size)
  const names = new Set(machines.map(m => m.name))
  if (names.size !== machines.length) throw new InputError('a machine is named twice', 'name each member once')
  const addresses = new Set(machines.map(m => m.address))
  if (addresses.size !== machines.length) throw new InputError('two members share an address', 'put each member on its own machine')
  return machines.map(m => ({...m}))
}

/** etcd's --initial-cluster: name=peerURL for every member, in the order given. */
export function initialCluster(members: MemberPlan[]): string {
  return members.map(m => `${m.name}=${peerUrl(m)}`).join(',')
}

/**
 * The member's systemd unit. Clients must present a certificate of the etcd client CA,
 * peers one of the etcd member CA, so neither opens the other port; loopback is served too
 * so tools on the member itself work. The initial cluster state is only read on the first
 * start: `new` for members made together, `existing` for one added to a running etcd
 * (`members` then lists the running ones plus itself); once the data folder exists etcd
 * rejoins with what it holds.
 */
export function etcdUnit(self: MemberPlan, members: MemberPlan[], token: string, state: 'new' | 'existing' = 'new'): string {
  const args = [
    `--name ${self.name}`,
    `--data-dir ${ETCD_DATA_DIR}`,
    `--listen-client-urls ${[...clientUrls(self), `https://127.0.0.1:${CLIENT_PORT}`].join(',')}`,
    `--advertise-client-urls ${clientUrls(self).join(',')}`,
    `--listen-peer-urls ${peerUrl(self)}`,
    `--initial-advertise-peer-urls ${peerUrl(self)}`,
    `--initial-cluster ${initialCluster(members)}`,
    `--initial-cluster-state ${state}`,
    `--initial-cluster-token ${token}`,
    `--trusted-ca-file ${MEMBER_FILES.clientCa} --cert-file ${MEMBER_FILES.cert} --key-file ${MEMBER_FILES.key} --client-cert-auth`,
    `--peer-trusted-ca-file ${MEMBER_FILES.ca} --peer-cert-file ${MEMBER_FILES.cert} --peer-key-file ${MEMBER_FILES.key} --peer-client-cert-auth`,
    // Leases of routers and DNS records churn revisions; keep an hour of history.
    '--auto-compaction-mode periodic --auto-compaction-retention 1h',
  ]
  return `[Unit]
Description=cluster etcd member ${self.name} (mutual TLS, RBAC)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
User=etcd
StateDirectory=cluster-etcd
StateDirectoryMode=0700
ExecStart=/usr/bin/etcd ${args.join(' \\\n  ')}
Restart=always
RestartSec=2
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`
}

/** The etcd user and role of one host's router (also the CN of its client certificate). */
export const hostRoleName = CERT_NAMES.router

/** etcd's range end for "every key starting with `prefix`", as the string etcd3's role API takes. */
export function prefixEnd(prefix: string): string {
  return rangeEndOf(prefix).toString('latin1')
}

export interface KeyPermission {
  permType: 'Read' | 'Write' | 'Readwrite'
  key: string
  /** Empty: the single key. */
  rangeEnd: string
}

/**
 * What a host's router may do: read the whole cluster (peers, DNS, settings), write only its
 * own peer record and its own DNS records. Machines, subnets and settings stay CLI-only.
 */
export function hostPermissions(layout: KeyLayout, host: string): KeyPermission[] {
  const dnsOwn = layout.dnsHost(host)
  return [
    {permType: 'Read', key: `${layout.prefix}/`, rangeEnd: prefixEnd(`${layout.prefix}/`)},
    {permType: 'Readwrite', key: layout.peer(host), rangeEnd: ''},
    {permType: 'Readwrite', key: dnsOwn, rangeEnd: prefixEnd(dnsOwn)},
  ]
}

/** Keys copied when the cluster moves to a new etcd: all but the router-owned, leased ones. */
export function isCopiedOnMove(layout: KeyLayout, key: string): boolean {
  return key.startsWith(`${layout.prefix}/`) && !key.startsWith(layout.peers) && !key.startsWith(layout.dns)
}

/** `--kv-members`: how many members the cluster's own etcd keeps; `auto` follows the machine count. */
export const KV_MEMBER_MODES = ['auto', ...KV_SIZES.map(String)] as const
export type KvMembers = 'auto' | typeof KV_SIZES[number]

export function parseKvMembers(value: string): KvMembers {
  if (value === 'auto') return 'auto'
  const n = Number(value)
  if (!(KV_SIZES as readonly number[]).includes(n)) {
    throw new InputError(`--kv-members ${value} is not offered`, `use ${KV_MEMBER_MODES.join(', ')} (an odd count keeps a majority when one member fails)`)
  }
  return n as KvMembers
}

/**
 * How many members the etcd should have with `machines` ready machines: the largest odd size
 * the mode allows and the machines can hold (auto: 3 from 3 machines, 5 from 5).
 */
export function targetMemberCount(mode: KvMembers, machines: number): number {
  const most = mode === 'auto' ? Math.max(...KV_SIZES) : mode
  return Math.max(1, ...KV_SIZES.filter(n => n <= most && n <= machines))
}

/** A machine as placement sees it: members spread over distinct `spread` keys (driver and region). */
export interface Placeable {
  name: string
  spread: string
}

export function spreadKey(m: {driver: string; driverData: Record<string, unknown>}): string {
  const region = typeof m.driverData.region === 'string' ? m.driverData.region : ''
  return region ? `${m.driver}/${region}` : m.driver
}

/**
 * Which `count` candidates become members: one at a time, each from the driver/region the
 * members (and those already picked) are fewest in; ties go to the earlier candidate, so the
 * order given (oldest machine first) decides among equals.
 */
export function pickMembers(candidates: Placeable[], members: Placeable[], count: number): string[] {
  const used = new Map<string, number>()
  for (const m of members) used.set(m.spread, (used.get(m.spread) ?? 0) + 1)
  const left = candidates.filter(c => !members.some(m => m.name === c.name))
  const picked: string[] = []
  while (picked.length < count && left.length > 0) {
    let best = 0
    for (let i = 1; i < left.length; i++) if ((used.get(left[i].spread) ?? 0) < (used.get(left[best].spread) ?? 0)) best = i
    const [c] = left.splice(best, 1)
    picked.push(c.name)
    used.set(c.spread, (used.get(c.spread) ?? 0) + 1)
  }
  return picked
}

/** The majority of `n` voting members: how many must answer for etcd to work. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1
}

/**
 * Why taking `name` out of the voting members would lose quorum (or remove the last one), or
 * undefined when it is safe: the remaining members must still hold a majority of answering ones.
 */
export function removalRisk(members: {name: string; healthy: boolean}[], name: string): string | undefined {
  const self = members.find(m => m.name === name)
  if (!self) return undefined
  if (members.length === 1) return `${name} is the etcd's only member`
  const healthy = members.filter(m => m.healthy).length
  if (healthy < quorum(members.length)) return `the etcd has lost quorum already (${healthy} of ${members.length} members answer)`
  const left = healthy - (self.healthy ? 1 : 0)
  if (left < quorum(members.length - 1)) return `only ${left} of the ${members.length - 1} members left would answer, fewer than the ${quorum(members.length - 1)} etcd needs`
  return undefined
}
