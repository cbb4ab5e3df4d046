/**
 * The pure decisions of swarm membership: which role a new host takes, what `--swarm-opt`
 * means, the exact init/join requests sent to the Docker API, and how a node leaves.
 * The effects (etcd, the engines) are in membership.ts.
 */
import {isIPv4} from 'node:net'
import {InputError} from '../../core/errors.js'

export type SwarmRole = 'master' | 'manager' | 'worker'

/** `docker swarm init`'s default size of each network carved from --default-addr-pool. */
const DEFAULT_POOL_SUBNET_SIZE = 24

/** The swarm's own TCP port for managers (control plane, raft). */
export const SWARM_PORT = 2377

export interface SwarmRequest {
  /** --swarm-master: a manager; the cluster's first one initialises the swarm. */
  master: boolean
  /** --swarm-opt key=value, as given. */
  opts: string[]
}

export type Availability = 'active' | 'pause' | 'drain'

export interface SwarmOptions {
  availability?: Availability
  /** Only for `swarm init`: the settings of the whole swarm. */
  init: {
    defaultAddrPool?: string[]
    subnetSize?: number
    dataPathPort?: number
    taskHistoryLimit?: number
    snapshotInterval?: number
    /** Nanoseconds, as the Docker API takes durations. */
    certExpiry?: number
    dispatcherHeartbeat?: number
  }
}

type OptionParser = (value: string, into: SwarmOptions) => void

const OPTIONS: Record<string, OptionParser> = {
  availability: (v, o) => { o.availability = oneOf(v, ['active', 'pause', 'drain'] as const, 'availability') },
  'default-addr-pool': (v, o) => { o.init.defaultAddrPool = [...o.init.defaultAddrPool ?? [], ...v.split(',').map(c => cidr(c, 'default-addr-pool'))] },
  'default-addr-pool-mask-length': (v, o) => { o.init.subnetSize = int(v, 'default-addr-pool-mask-length', 8, 30) },
  'data-path-port': (v, o) => { o.init.dataPathPort = int(v, 'data-path-port', 1024, 49151) },
  'task-history-limit': (v, o) => { o.init.taskHistoryLimit = int(v, 'task-history-limit', 0, 1_000_000) },
  'snapshot-interval': (v, o) => { o.init.snapshotInterval = int(v, 'snapshot-interval', 1, 1_000_000_000) },
  'cert-expiry': (v, o) => { o.init.certExpiry = duration(v, 'cert-expiry') },
  'dispatcher-heartbeat': (v, o) => { o.init.dispatcherHeartbeat = duration(v, 'dispatcher-heartbeat') },
}

const INIT_ONLY = new Set(Object.keys(OPTIONS).filter(k => k !== 'availability'))

/** Parses --swarm-opt values; init-only settings on a host that joins are refused, not ignored. */
export function parseSwarmOptions(opts: string[], role?: SwarmRole): SwarmOptions {
  const out: SwarmOptions = {init: {}}
  for (const opt of opts) {
    const eq = opt.indexOf('=')
    const key = eq > 0 ? opt.slice(0, eq) : opt
    const parse = OPTIONS[key]
    if (eq <= 0 || !parse) {
      throw new InputError(`invalid --swarm-opt "${opt}"`, `use key=value with a key among ${Object.keys(OPTIONS).join(', ')}`)
    }
    if (role && role !== 'master' && INIT_ONLY.has(key)) {
      throw new InputError(`--swarm-opt ${key} sets up a new swarm, but this host joins the existing one`, 'give it when creating the first --swarm-master')
    }
    parse(opt.slice(eq + 1), out)
  }
  return out
}

function oneOf<T extends string>(v: string, allowed: readonly T[], key: string): T {
  if (!(allowed as readonly string[]).includes(v)) throw new InputError(`--swarm-opt ${key}=${v} is not valid`, `use one of ${allowed.join(', ')}`)
  return v as T
}

function int(v: string, key: string, min: number, max: number): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < min || n > max) throw new InputError(`--swarm-opt ${key}=${v} is not valid`, `use a whole number from ${min} to ${max}`)
  return n
}

function cidr(v: string, key: string): string {
  const [ip, len, extra] = v.split('/')
  if (extra !== undefined || !isIPv4(ip ?? '') || !/^\d{1,2}$/.test(len ?? '') || Number(len) > 32) {
    throw new InputError(`--swarm-opt ${key}=${v} is not an IPv4 CIDR`, 'give it as a.b.c.d/len')
  }
  return v
}

const UNIT_NS: Record<string, number> = {s: 1e9, m: 60e9, h: 3600e9, d: 86_400e9}

/** "90s", "5m", "2160h", "90d" → nanoseconds. */
function duration(v: string, key: string): number {
  const m = /^(\d+)([smhd])$/.exec(v)
  if (!m || Number(m[1]) === 0) throw new InputError(`--swarm-opt ${key}=${v} is not a duration`, 'use a number with s, m, h or d, e.g. 2160h')
  return Number(m[1]) * UNIT_NS[m[2]]
}

/**
 * The role of a new host: the first --swarm-master of a cluster initialises the swarm,
 * later ones join as managers, every other host as a worker of the existing swarm.
 */
export function decideRole(wantsManager: boolean, currentMaster: string | undefined, clusterName: string): {role: SwarmRole; master: string | undefined} {
  if (wantsManager) return currentMaster ? {role: 'manager', master: currentMaster} : {role: 'master', master: undefined}
  if (!currentMaster) {
    throw new InputError(`cluster ${clusterName} has no swarm master yet`, 'create the first swarm host with --swarm --swarm-master')
  }
  return {role: 'worker', master: currentMaster}
}

/** Body of POST /swarm/init: control plane and VXLAN both on the host's overlay address. */
export function initRequest(overlayAddr: string, o: SwarmOptions): Record<string, unknown> {
  const i = o.init
  const spec: Record<string, unknown> = {}
  if (i.taskHistoryLimit !== undefined) spec.Orchestration = {TaskHistoryRetentionLimit: i.taskHistoryLimit}
  if (i.snapshotInterval !== undefined) spec.Raft = {SnapshotInterval: i.snapshotInterval}
  if (i.dispatcherHeartbeat !== undefined) spec.Dispatcher = {HeartbeatPeriod: i.dispatcherHeartbeat}
  if (i.certExpiry !== undefined) spec.CAConfig = {NodeCertExpiry: i.certExpiry}
  return {
    ...addresses(overlayAddr),
    ForceNewCluster: false,
    Spec: spec,
    ...(o.availability ? {Availability: o.availability} : {}),
    ...(i.defaultAddrPool ? {DefaultAddrPool: i.defaultAddrPool} : {}),
    // Docker takes a pool without a size as size 0 and then cannot even make `ingress`.
    ...(i.defaultAddrPool || i.subnetSize !== undefined ? {SubnetSize: i.subnetSize ?? DEFAULT_POOL_SUBNET_SIZE} : {}),
    ...(i.dataPathPort !== undefined ? {DataPathPort: i.dataPathPort} : {}),
  }
}

/** Body of POST /swarm/join. `managers` are the overlay addresses of the swarm's managers. */
export function joinRequest(overlayAddr: string, managers: string[], token: string, o: SwarmOptions): Record<string, unknown> {
  if (managers.length === 0) throw new InputError('the swarm has no manager to join', 'create a --swarm-master first')
  return {
    ...addresses(overlayAddr),
    RemoteAddrs: managers.map(m => `${m}:${SWARM_PORT}`),
    JoinToken: token,
    ...(o.availability ? {Availability: o.availability} : {}),
  }
}

/**
 * Listening on the overlay address keeps the control plane off the underlay; advertising
 * it and using it as the data path sends raft, gossip and VXLAN through the encrypted tunnel.
 */
function addresses(overlayAddr: string) {
  return {ListenAddr: `${overlayAddr}:${SWARM_PORT}`, AdvertiseAddr: `${overlayAddr}:${SWARM_PORT}`, DataPathAddr: overlayAddr}
}

/** What a manager knows about a node (GET /nodes, trimmed). */
export interface SwarmNode {
  id: string
  hostname: string
  manager: boolean
  /** "ready", "down", … */
  state: string
}

export type LeavePlan =
  | {kind: 'refuse'; reason: string}
  /** The last manager with nothing left (or --force): the swarm ends with it. */
  | {kind: 'dissolve'}
  /** Drain through a manager, leave, then drop the node from the managers' list. */
  | {kind: 'leave'; demoteFirst: boolean}

/**
 * How `self` leaves. A swarm whose only manager goes loses its control plane: its workers
 * keep running tasks nobody can manage, so that needs --force.
 */
export function planLeave(selfId: string, nodes: SwarmNode[], force: boolean, name: string): LeavePlan {
  const self = nodes.find(n => n.id === selfId)
  const others = nodes.filter(n => n.id !== selfId)
  const otherManagers = others.filter(n => n.manager)
  if (!self?.manager) return {kind: 'leave', demoteFirst: false}
  if (otherManagers.length > 0) return {kind: 'leave', demoteFirst: true}
  if (others.length === 0 || force) return {kind: 'dissolve'}
  return {
    kind: 'refuse',
    reason: `${name} is the only manager of a swarm that still has ${others.length} other node${others.length === 1 ? '' : 's'} (${others.map(n => n.hostname).join(', ')})`,
  }
}

/** The machine `--swarm` points at (env, config, use): a worker's master, or the manager itself. */
export function swarmManagerOf(r: {name: string; swarm?: {role: SwarmRole; master?: string}}): string {
  if (!r.swarm) throw new InputError(`machine "${r.name}" is not part of a swarm`, 'create it with --swarm, or drop --swarm')
  return r.swarm.role === 'worker' && r.swarm.master ? r.swarm.master : r.name
}
