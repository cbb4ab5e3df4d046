/** `cluster kv status`: every member of the etcd the CLI uses, asked one by one. */
import {kvCall, openKv, type KvOptions} from '../client.js'
import type {LocalStore} from '../../store/local.js'

export interface MemberStatus {
  name: string
  /** etcd's member id, hex. */
  id: string
  endpoint: string
  leader: boolean
  healthy: boolean
  /** Bytes of the backend database, when the member answered. */
  dbSize?: number
  version?: string
  raftIndex?: string
  error?: string
}

export interface KvStatus {
  members: MemberStatus[]
  leader?: string
  /** A majority of members answers and one of them leads. */
  healthy: boolean
}

const MEMBER_TIMEOUT_MS = 3000

const hex = (id: string) => BigInt(id).toString(16)

export async function kvStatus(opts: KvOptions, store: LocalStore): Promise<KvStatus> {
  // Two reads at once, on two clients: the linearizable one is right after a member joined
  // (a member's own view may still lack it) but needs a majority; the member's own view
  // answers without one. A failed call opens etcd3's circuit breaker on its client only.
  const [kv, strict] = await Promise.all([openKv({...opts, timeoutMs: MEMBER_TIMEOUT_MS}, store), openKv({...opts, timeoutMs: MEMBER_TIMEOUT_MS}, store)])
  let list
  try {
    const [linear, local] = await Promise.allSettled([
      strict.client.cluster.memberList({linearizable: true}),
      kvCall(kv, 'listing the members', () => kv.client.cluster.memberList({linearizable: false})),
    ])
    if (linear.status === 'fulfilled') list = linear.value
    else if (local.status === 'fulfilled') list = local.value
    else throw local.reason
  } finally {
    kv.close()
    strict.close()
  }
  const members = await Promise.all(list.members.map(async (m): Promise<MemberStatus> => {
    const endpoint = m.clientURLs[0] ?? m.peerURLs[0] ?? ''
    const base = {name: m.name || '(not started)', id: hex(m.ID), endpoint, leader: false}
    if (m.clientURLs.length === 0) return {...base, healthy: false, error: 'not started'}
    const one = await openKv({...opts, endpoints: [endpoint], timeoutMs: MEMBER_TIMEOUT_MS}, store)
    try {
      const s = await one.client.maintenance.status()
      return {...base, leader: s.leader === s.header.member_id, healthy: s.errors.length === 0,
        dbSize: Number(s.dbSize), version: s.version, raftIndex: s.raftIndex, ...(s.errors.length ? {error: s.errors.join('; ')} : {})}
    } catch (error) {
      return {...base, healthy: false, error: (error as Error).message.split('\n')[0]}
    } finally {
      one.close()
    }
  }))
  const leader = members.find(m => m.leader)?.name
  const answering = members.filter(m => m.healthy).length
  return {members, leader, healthy: leader !== undefined && answering > members.length / 2}
}
