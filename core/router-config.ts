/**
 * /etc/cluster/router.json: everything a router needs, written by the CLI (0600) when it
 * provisions the host. The cluster signing PUBLIC key is pinned here and never read from
 * etcd, so whoever can write etcd still cannot make routers trust a record.
 */
import {readFileSync} from 'node:fs'
import type {Backend as BackendName} from './model.js'
import type {SignedPeer} from './membership.js'

export const CONFIG_PATH = '/etc/cluster/router.json'
export const WG_KEY_PATH = '/etc/cluster/wg.key'
export const RUN_DIR = '/run/cluster'
export const STATUS_PATH = `${RUN_DIR}/status.json`

export interface RouterConfig {
  clusterName: string
  /** etcd key prefix of the cluster (clusterPrefix(clusterName)). */
  prefix: string
  kv: {endpoints: string[]; cacert?: string; cert?: string; key?: string}
  /** base64 ed25519 public key that signs every peer record. */
  signingPublicKey: string
  /** This host's record, signed by the CLI. */
  self: SignedPeer
  /** Revocations etcd held when the host was provisioned (see router/revocations.ts). */
  revocations?: SignedPeer[]
  /** The newest issuedAt per name the CLI knew at provisioning: older records of those names are refused (router/revocations.ts). */
  newest?: Record<string, string>
  backend: BackendName
  /** The cluster's overlay range. */
  range: string
  domain: string
  /** Resolvers for names outside the cluster domain (`ip[:port]`); default: the host's /etc/resolv.conf. */
  dnsUpstreams?: string[]
  underlay: {interface: string; mtu: number}
  /**
   * Publish this host's Docker containers in cluster DNS (default true). false on a host
   * without Docker: the router then never dials the Docker socket, and still routes, answers
   * DNS for the other hosts' containers and announces itself.
   */
  publishContainers?: boolean
}

export function readRouterConfig(path = CONFIG_PATH): RouterConfig {
  let config: RouterConfig
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as RouterConfig
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message} (re-provision the host with \`cluster provision\`)`, {cause: error})
  }
  for (const field of ['clusterName', 'prefix', 'kv', 'signingPublicKey', 'self', 'backend', 'range', 'domain', 'underlay'] as const) {
    if (config[field] === undefined) throw new Error(`${path} has no "${field}" (re-provision the host with \`cluster provision\`)`)
  }
  if (config.publishContainers !== undefined && typeof config.publishContainers !== 'boolean') {
    throw new Error(`${path}: "publishContainers" is ${JSON.stringify(config.publishContainers)}; set it to true or false (or leave it out: true)`)
  }
  return config
}
