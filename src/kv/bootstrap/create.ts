/**
 * `cluster kv create`: turns cluster machines into a TLS + RBAC etcd and moves the cluster's
 * records onto it. Order: read what moves from the current etcd (nothing is touched if that
 * fails), check every member is free, prepare and start them all, wait for a leader, copy
 * the records, enable authentication, and only then point the local config at the new etcd.
 * A failure before that undoes the members; the old etcd is never modified.
 */
import {randomBytes} from 'node:crypto'
import type {IKeyValue} from 'etcd3'
import {ClusterError, describeCause} from '../../../core/errors.js'
import type {SshConnection} from '../../ssh/client.js'
import {etcdRootFiles} from '../../tls/authorities.js'
import type {LocalStore} from '../../store/local.js'
import type {MachineRecord} from '../../../core/model.js'
import type {Progress} from '../../cli/progress.js'
import {kvCall, openKv, type Kv, type KvOptions} from '../client.js'
import {checkMemberCount, clientUrl, memberOf, ETCD_UNIT, isCopiedOnMove, planMembers, type MemberPlan} from './plan.js'
import {connectMember, prepareMember, refuseUsedMember, startMember, undoMember} from './member.js'
import {waitForLeader} from './wait.js'
import {enableRbac} from './rbac.js'

export interface KvCreateRequest {
  names: string[]
  size?: number
  /** The etcd the cluster uses now (flags; env and local config fill the rest). */
  kv: KvOptions
}

export interface KvCreateResult {
  endpoints: string[]
  members: MemberPlan[]
  /** Records copied from the previous etcd. */
  copied: number
  /** Machines whose routers still use the previous etcd until `cluster provision`. */
  machines: string[]
  /** Seconds from the start of the members to a leader. */
  quorumSeconds: number
}

export async function createKv(req: KvCreateRequest, env: {store: LocalStore; progress: Progress; signal?: AbortSignal}): Promise<KvCreateResult> {
  const {store, progress} = env
  const signal = env.signal ?? new AbortController().signal
  checkMemberCount(req.names.length, req.size)
  const records = req.names.map(n => store.getMachine(n).record)
  const members = planMembers(records.map(memberOf), req.size)
  for (const r of records) {
    if (r.state !== 'ready') throw new ClusterError(`${r.name} is ${r.state}, not ready`, {hint: `run \`cluster provision ${r.name}\` first`})
  }
  const {moving, clusterName} = await readMovingRecords(req.kv, store, progress)
  const rootFiles = etcdRootFiles(store)
  const token = `${clusterName}-${randomBytes(6).toString('hex')}`

  const conns = await connectAll(store, records)
  try {
    await Promise.all(conns.map((c, i) => refuseUsedMember(c, records[i])))
    try {
      progress.step(`Preparing ${members.length} etcd member(s): ${members.map(m => m.name).join(', ')}`)
      await Promise.all(members.map((m, i) => prepareMember(conns[i], records[i], m, members, {store, token, step: progress.step})))
      signal.throwIfAborted()
      await Promise.all(conns.map(startMember))
      signal.throwIfAborted()
      const endpoints = members.map(clientUrl)
      const kv = await openKv({endpoints, ...rootFiles, clusterName}, store)
      try {
        progress.step(`Waiting for the members to elect a leader (${endpoints.join(',')})`)
        const quorumSeconds = await waitForLeader(kv, members.length, signal)
        signal.throwIfAborted()
        progress.step(`Copying ${moving.length} cluster record(s) from the previous etcd`)
        await kvCall(kv, 'copying the cluster records', () => copyRecords(kv, moving))
        progress.step('Enabling RBAC (root held by this CLI: certs/etcd-root.pem)')
        await kvCall(kv, 'enabling authentication', () => enableRbac(kv.client))
        store.writeConfig({...store.readConfig(), clusterName, kv: {endpoints, ...rootFiles}})
        const machines = moving.map(r => r.key.toString()).filter(k => k.startsWith(kv.layout.machines)).map(k => k.slice(kv.layout.machines.length))
        return {endpoints, members, copied: moving.length, machines, quorumSeconds}
      } finally {
        kv.close()
      }
    } catch (caught) {
      const error = signal.aborted ? new ClusterError('kv create was interrupted', {hint: 'the members were undone; the cluster stays on its previous etcd', cause: caught}) : caught
      progress.step(`etcd bootstrap failed (${error instanceof ClusterError ? error.oneLine() : describeCause(error)}); undoing the members`)
      await Promise.all(conns.map(c => undoMember(c).catch(undoError => {
        progress.step(`could not undo ${c.target.host}: ${describeCause(undoError)} (remove ${ETCD_UNIT} and its data there by hand)`)
      })))
      throw error
    }
  } finally {
    for (const c of conns) c.close()
  }
}

async function readMovingRecords(kvOptions: KvOptions, store: LocalStore, progress: Progress): Promise<{moving: IKeyValue[]; clusterName: string}> {
  const old = await openKv(kvOptions, store)
  try {
    progress.step(`Reading cluster ${old.clusterName} from ${old.endpoints.join(',')}`)
    const all = await kvCall(old, 'reading the cluster records', () => old.client.getAll().prefix(`${old.layout.prefix}/`).exec())
    return {moving: all.kvs.filter(kv => isCopiedOnMove(old.layout, kv.key.toString())), clusterName: old.clusterName}
  } finally {
    old.close()
  }
}

/** One connection per member, or none: those made are closed when another fails. */
async function connectAll(store: LocalStore, records: MachineRecord[]): Promise<SshConnection[]> {
  const settled = await Promise.allSettled(records.map(r => connectMember(store, r.name)))
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (!failed) return settled.map(s => (s as PromiseFulfilledResult<SshConnection>).value)
  for (const s of settled) if (s.status === 'fulfilled') s.value.close()
  throw failed.reason
}

async function copyRecords(kv: Kv, records: IKeyValue[]): Promise<void> {
  for (const r of records) await kv.client.put(r.key).value(r.value)
}
