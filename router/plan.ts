/**
 * The reconcile plan: from the peers etcd says should exist and the peers the datapath
 * has now, what to add, change and remove. Pure, so it is tested without a host, and
 * linear-ish (a sort), so ten thousand peers plan in milliseconds.
 *
 * Every router must reach the same verdict on conflicting records (two claiming one
 * subnet or one key), so ties are broken by issue time then name, never by arrival order.
 */
import {chooseEndpoint, type PeerRecord} from '../core/membership.js'
import {contains, overlaps, parseIPv4Cidr, type IPv4Cidr} from '../core/ipv4.js'
import type {Rejection} from '../core/router-status.js'

/** One peer as the datapath holds it. */
export interface AppliedPeer {
  name: string
  subnet: string
  endpoint: string
  /** WireGuard key; absent where the datapath does not use one (vxlan, host-gw). */
  publicKey?: string
}

export interface CurrentState {
  peers: AppliedPeer[]
}

export interface Actions {
  add: AppliedPeer[]
  /** Same subnet, new endpoint or key. */
  update: Array<{from: AppliedPeer; to: AppliedPeer}>
  remove: AppliedPeer[]
  /** Already right; carried so the caller knows the whole applied set. */
  keep: AppliedPeer[]
  rejected: Rejection[]
}

/** A subnet that is a network address (a.b.c.0/24, not a.b.c.5/24), parsed; else null. */
function network(cidr: string): IPv4Cidr | null {
  const net = parseIPv4Cidr(cidr)
  return net && net.ip === net.start ? net : null
}

function byAge(a: PeerRecord, b: PeerRecord): number {
  if (a.issuedAt !== b.issuedAt) return a.issuedAt < b.issuedAt ? -1 : 1
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/** The peers this host should have, each with the endpoint it should use, and the records refused. */
export function desiredPeers(records: PeerRecord[], self: PeerRecord, range: string): {peers: AppliedPeer[]; rejected: Rejection[]} {
  const rejected: Rejection[] = []
  const rangeNet = network(range)!
  const selfNet = network(self.subnet)!
  const candidates: Array<{record: PeerRecord; at: IPv4Cidr}> = []
  for (const record of records) {
    if (record.name === self.name) continue
    const at = network(record.subnet)
    if (record.backend !== self.backend) rejected.push({name: record.name, reason: `backend ${record.backend} differs from this cluster's ${self.backend}`})
    else if (!at) rejected.push({name: record.name, reason: `subnet ${record.subnet} is not a network address`})
    else if (!contains(rangeNet, at)) rejected.push({name: record.name, reason: `subnet ${record.subnet} is outside the overlay range ${range}`})
    else if (overlaps(at, selfNet)) rejected.push({name: record.name, reason: `subnet ${record.subnet} overlaps this host's ${self.subnet}`})
    else if (record.publicKey === self.publicKey) rejected.push({name: record.name, reason: 'public key is this host\'s own'})
    else candidates.push({record, at})
  }
  // Oldest first: when two records conflict, the older one wins on every router alike.
  candidates.sort((a, b) => byAge(a.record, b.record))
  const keys = new Map<string, string>()
  const kept: Array<{record: PeerRecord; at: IPv4Cidr}> = []
  for (const c of candidates) {
    const owner = keys.get(c.record.publicKey)
    if (owner === undefined) {
      keys.set(c.record.publicKey, c.record.name)
      kept.push(c)
    } else {
      rejected.push({name: c.record.name, reason: `public key is already used by ${owner}`})
    }
  }
  // Overlap among peers: sweep by address, keeping the older record of an overlapping pair.
  kept.sort((a, b) => a.at.start - b.at.start || byAge(a.record, b.record))
  const accepted: Array<{record: PeerRecord; at: IPv4Cidr}> = []
  for (const c of kept) {
    const last = accepted[accepted.length - 1]
    if (last && overlaps(last.at, c.at)) {
      if (byAge(c.record, last.record) < 0) {
        rejected.push({name: last.record.name, reason: `subnet ${last.record.subnet} overlaps ${c.record.name}'s ${c.record.subnet}`})
        accepted[accepted.length - 1] = c
      } else {
        rejected.push({name: c.record.name, reason: `subnet ${c.record.subnet} overlaps ${last.record.name}'s ${last.record.subnet}`})
      }
      continue
    }
    accepted.push(c)
  }
  const peers = accepted.map(({record}) => ({
    name: record.name,
    subnet: record.subnet,
    endpoint: chooseEndpoint(self, record),
    publicKey: record.publicKey,
  }))
  return {peers, rejected}
}

function same(want: AppliedPeer, have: AppliedPeer): boolean {
  return want.endpoint === have.endpoint && (have.publicKey === undefined || want.publicKey === have.publicKey)
}

export function plan(records: PeerRecord[], current: CurrentState, self: PeerRecord, range: string): Actions {
  const {peers, rejected} = desiredPeers(records, self, range)
  const have = new Map(current.peers.map(p => [p.subnet, p]))
  const actions: Actions = {add: [], update: [], remove: [], keep: [], rejected}
  for (const want of peers) {
    const existing = have.get(want.subnet)
    if (!existing) actions.add.push(want)
    else if (same(want, existing)) actions.keep.push(want)
    else actions.update.push({from: existing, to: want})
    have.delete(want.subnet)
  }
  actions.remove = [...have.values()]
  return actions
}

export function isEmpty(actions: Actions): boolean {
  return actions.add.length + actions.update.length + actions.remove.length === 0
}
