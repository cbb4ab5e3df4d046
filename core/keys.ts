/**
 * The etcd key layout: the single source of truth for the cluster.
 *
 *   <prefix>/settings                    ClusterSettings (JSON), written once by `init`/first create
 *   <prefix>/machines/<name>             MachineRecord (JSON), CLI-owned; creation is a create-if-absent txn
 *   <prefix>/subnets/<a.b.c.d-len>       owning machine name (IPAM lease; created by txn, deleted by `rm`)
 *   <prefix>/peers/<name>                SignedPeer (JSON), router-owned, bound to the router's etcd lease
 *   <prefix>/revoked/<name>              signed Revocation left by `cluster rm`: the name's older records are void
 *   <prefix>/dns/<host>/<container-id>   DNS record of one container, bound to the router's lease
 *   <prefix>/dns-static/<name>/<ip>      records added with `cluster dns add`
 *   <prefix>/swarm/<key>                 sealed swarm join tokens
 *
 * The default prefix is `/cluster/<cluster-name>` so several clusters can share one etcd.
 */
export const DEFAULT_CLUSTER_NAME = 'default'

export function clusterPrefix(clusterName: string = DEFAULT_CLUSTER_NAME): string {
  return `/cluster/${clusterName}`
}

export const keys = (prefix: string) => ({
  prefix,
  settings: `${prefix}/settings`,
  machines: `${prefix}/machines/`,
  machine: (name: string) => `${prefix}/machines/${name}`,
  subnets: `${prefix}/subnets/`,
  /** CIDRs contain '/', which we keep out of key segments. */
  subnet: (cidr: string) => `${prefix}/subnets/${cidr.replace('/', '-')}`,
  peers: `${prefix}/peers/`,
  peer: (name: string) => `${prefix}/peers/${name}`,
  revocations: `${prefix}/revoked/`,
  revocation: (name: string) => `${prefix}/revoked/${name}`,
  dns: `${prefix}/dns/`,
  dnsHost: (host: string) => `${prefix}/dns/${host}/`,
  dnsRecord: (host: string, id: string) => `${prefix}/dns/${host}/${id}`,
  dnsStatic: `${prefix}/dns-static/`,
  dnsStaticRecord: (name: string, ip: string) => `${prefix}/dns-static/${name}/${ip}`,
  swarm: `${prefix}/swarm/`,
  swarmKey: (key: string) => `${prefix}/swarm/${key}`,
})

export type KeyLayout = ReturnType<typeof keys>

export function subnetFromKey(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1)
  const dash = last.lastIndexOf('-')
  return `${last.slice(0, dash)}/${last.slice(dash + 1)}`
}

/** The end of the key range holding every key that starts with `prefix` (etcd's convention). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'utf8')
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0]) // every key
}
