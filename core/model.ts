/** The records that cross the seams: stored in etcd, read by CLI and router alike. */

/** A machine's power state as its driver reports it. */
export type MachineState =
  | 'Running' | 'Stopped' | 'Starting' | 'Stopping' | 'Paused'
  | 'Error' | 'Timeout' | 'NotFound' | 'Unknown'

/**
 * Serializable driver state, saved in the local store and in etcd. Whatever sits under the
 * key `secret` (tokens, passwords) is kept only in the local store and never sent to etcd.
 */
export type DriverData = Record<string, unknown> & {secret?: Record<string, unknown>}

export const BACKENDS = ['wireguard', 'vxlan', 'host-gw'] as const
export type Backend = typeof BACKENDS[number]

/** Chosen once per cluster (by `cluster init` or the first create) and kept in etcd. */
export interface ClusterSettings {
  name: string
  /** Overlay range every host subnet is carved from. */
  range: string
  /** Prefix length of each host's subnet. */
  subnetSize: number
  backend: Backend
  /** DNS domain answered by the routers. */
  domain: string
  /** Where routers send queries for other names (`ip[:port]`); unset: each host's /etc/resolv.conf. */
  dnsUpstreams?: string[]
  /** ed25519 public key (base64) that signs peer records; its secret stays with the CLI. */
  signingKey?: string
  /** SHA-256 of the store's Docker server CA certificate: the identity of the stores that administer the cluster. */
  caFingerprint?: string
  /** Members of the cluster's own etcd: `auto` (unset) follows the machine count (1, 3, 5). */
  kvMembers?: 'auto' | 1 | 3 | 5
  createdAt: string
}

export const DEFAULT_SETTINGS = {
  range: '10.32.0.0/12',
  subnetSize: 24,
  backend: 'wireguard' as Backend,
  domain: 'cluster.internal',
}

/** What etcd holds about a machine. Secrets (keys, tokens, passwords) never go here. */
export interface MachineRecord {
  name: string
  driver: string
  driverData: DriverData
  addresses: {public: string; private?: string}
  /** tcp://host:2376 */
  dockerUrl: string
  sshUser: string
  sshPort: number
  labels: Record<string, string>
  engine: EngineOptions
  /** SHA-256 fingerprints (hex) of the Docker server certificate and of the CA that signed it (the Docker server CA). */
  certFingerprint: string
  caFingerprint: string
  /** Pinned SSH host key, as `<algo> <base64>`. */
  hostKey?: string
  state: 'creating' | 'ready' | 'error' | 'removing'
  error?: string
  swarm?: SwarmMembership
  createdAt: string
  /** Who made it (user@host), for clusters shared between people. */
  createdBy: string
  /**
   * ed25519 signature (base64) by the cluster signing key of the rest of the record
   * (core/records.ts machineSignedText): a store that has not met the machine trusts its
   * address and host key only when this holds.
   */
  signature?: string
}

/** A machine's place in the cluster's Docker swarm (`create --swarm`). */
export interface SwarmMembership {
  role: 'master' | 'manager' | 'worker'
  /** Name of the machine that initialised the swarm (unset on the master itself). */
  master?: string
  /** The host's overlay address, which swarm advertises and carries VXLAN on. */
  addr?: string
  /** Swarm node ID, once joined: lets `rm` drop the node even when its engine is gone. */
  nodeId?: string
}

export interface EngineOptions {
  labels: string[]
  opts: string[]
  env: string[]
  insecureRegistries: string[]
  registryMirrors: string[]
  tlsSans: string[]
}

/** A row of `cluster ls`. */
export interface MachineStatus {
  name: string
  active: boolean
  driver: string
  state: MachineState
  url: string
  swarm: string
  docker: string
  errors: string
}
