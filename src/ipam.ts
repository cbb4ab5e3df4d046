/**
 * IPAM: each host owns one subnet of the cluster's overlay range, recorded in etcd as
 * `<prefix>/subnets/<a.b.c.d-len>` → owner name.
 *
 * The key is created by a create-if-absent transaction (flannel's model), so two hosts
 * created in parallel can never hold the same subnet: the loser of a race picks another
 * free subnet and tries again. Unlike flannel, the key is NOT bound to a lease: a host
 * keeps its subnet across router and host restarts, and only `cluster rm` releases it.
 */
import type {Etcd3} from 'etcd3'
import type {KeyLayout} from '../core/keys.js'
import {subnetFromKey} from '../core/keys.js'
import type {ClusterSettings} from '../core/model.js'
import {ClusterError, wrap} from '../core/errors.js'
import {pickSubnet, subnetLayout} from '../core/subnets.js'
import {checkSubnetLease, isChecked} from '../core/records.js'

/** Conflicts only happen when hosts race for the same random pick; a few retries suffice. */
const MAX_ATTEMPTS = 16

/** Every allocated subnet (CIDR → owning machine); a key or value that is no lease is skipped. */
export async function listSubnets(client: Etcd3, layout: KeyLayout): Promise<Map<string, string>> {
  const byKey = await client.getAll().prefix(layout.subnets).strings()
  return new Map(Object.entries(byKey).flatMap(([key, owner]) => {
    const lease = checkSubnetLease(subnetFromKey(key), owner)
    return isChecked(lease) ? [[lease.ok.cidr, lease.ok.owner] as const] : []
  }))
}

/**
 * The subnet of `owner`: the one it already holds, else a new random free one taken
 * atomically. Throws a ClusterError when the range is full.
 */
export async function allocateSubnet(client: Etcd3, layout: KeyLayout, settings: ClusterSettings, owner: string): Promise<string> {
  const {count} = subnetLayout(settings.range, settings.subnetSize)
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const subnets = await listSubnets(client, layout)
      for (const [cidr, holder] of subnets) if (holder === owner) return cidr
      const cidr = pickSubnet(settings.range, settings.subnetSize, [...subnets.keys()])
      if (cidr === null) throw rangeFull(settings, count)
      const key = layout.subnet(cidr)
      const txn = await client.if(key, 'Create', '==', 0).then(client.put(key).value(owner)).commit()
      if (txn.succeeded) return cidr
    }
  } catch (error) {
    throw wrap(error, `cannot allocate an overlay subnet for ${owner} in etcd`, 'check that etcd is reachable (`cluster kv status`)')
  }
  throw new ClusterError(`cannot allocate an overlay subnet for ${owner}: lost the race for a free subnet ${MAX_ATTEMPTS} times`,
    {hint: 'retry the command'})
}

function rangeFull(settings: ClusterSettings, inUse: number): ClusterError {
  return new ClusterError(`overlay range ${settings.range} is full (${inUse} subnets of /${settings.subnetSize} in use)`,
    {hint: 'remove machines or choose a larger --overlay-range at cluster init'})
}

/** Frees every subnet `owner` holds; a subnet already gone or taken over by another owner is left alone. */
export async function releaseSubnet(client: Etcd3, layout: KeyLayout, owner: string): Promise<string[]> {
  try {
    const released: string[] = []
    for (const [cidr, holder] of await listSubnets(client, layout)) {
      if (holder !== owner) continue
      const key = layout.subnet(cidr)
      const txn = await client.if(key, 'Value', '==', owner).then(client.delete().key(key)).commit()
      if (txn.succeeded) released.push(cidr)
    }
    return released
  } catch (error) {
    throw wrap(error, `cannot release the overlay subnet of ${owner} in etcd`, 'check that etcd is reachable (`cluster kv status`)')
  }
}
