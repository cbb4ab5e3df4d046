/**
 * `cluster kv restore FILE --on NAME`: when the cluster's etcd has lost its majority for
 * good, rebuilds a one-member etcd on NAME from a snapshot, secured as `kv create` secures
 * one (a key made on NAME, a certificate from the cluster CA, the unit, RBAC), takes the
 * other former members out, and points this store at it. The snapshot is checked here and
 * the current etcd asked first: a file that is not a snapshot, or an etcd that still has a
 * majority, changes nothing anywhere.
 */
import {randomBytes} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {ClusterError, describeCause, InputError, KvUnavailableError} from '../../../core/errors.js'
import type {Progress} from '../../cli/progress.js'
import type {SshConnection} from '../../ssh/client.js'
import {detectProvisioner, ensurePackages} from '../../provision/install.js'
import {etcdRootFiles} from '../../tls/authorities.js'
import type {LocalStore} from '../../store/local.js'
import {kvCall, openKv, resolveKvOptions, type Kv, type KvOptions} from '../client.js'
import {connectMember} from './member.js'
import {waitForLeader} from './wait.js'
import {prepareMember} from './member.js'
import {clientUrl, memberOf, type MemberPlan} from './plan.js'
import {followMembership} from './membership.js'
import {enableRbac} from './rbac.js'
import {asideDir, previousMembers, restoreScript, retireScript} from './restore-plan.js'
import {checkSnapshotFile} from './snapshot-file.js'
import {kvStatus} from './status.js'

export interface KvRestoreRequest {
  file: string
  on: string
  /** Restore even though the current etcd answers with a leader and a majority. */
  force?: boolean
  kv: KvOptions
}

export interface KvRestoreResult {
  endpoint: string
  member: MemberPlan
  /** Machines the restored etcd holds records of. */
  machines: string[]
  /** Former members taken out (unit disabled, data moved aside). */
  retired: string[]
  /** Former members that could not be reached: they must not start their etcd again. */
  unreachable: {name: string; error: string}[]
  /** Where NAME's previous data went, if it had any. */
  aside: string
  /** Machines whose routers were provisioned against other endpoints. */
  reprovision: string[]
  snapshotBytes: number
  quorumSeconds: number
  /** Machines added back as members by the cluster's kv-members setting (auto: 3 from 3 machines). */
  grown: string[]
  /** Why growing stopped, when it failed (the restored member stands on its own). */
  growError?: string
}

const LEADER_WAIT_MS = 60_000
const SNAPSHOT_ON_HOST = '/var/lib/cluster-etcd.restore.db'

export async function restoreKv(req: KvRestoreRequest, env: {store: LocalStore; progress: Progress}): Promise<KvRestoreResult> {
  const {store, progress} = env
  const snapshot = await checkSnapshotFile(req.file)
  const record = store.getMachine(req.on).record
  if (record.state !== 'ready') throw new ClusterError(`${record.name} is ${record.state}, not ready`, {hint: `restore on a machine that is ready (cluster ls)`})
  const current = resolveKvOptions(req.kv, process.env, store.readConfig())
  if (!req.force) await refuseHealthyKv(req.kv, current.endpoints, store)

  const self = memberOf(record)
  const records = store.listMachines().map(n => store.getMachine(n).record)
  const former = previousMembers(current.endpoints, records).filter(m => m.name !== self.name)
  const rootFiles = etcdRootFiles(store)
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')
  const token = `${current.clusterName}-restored-${randomBytes(4).toString('hex')}`

  const conn = await connectMember(store, record.name)
  let quorumSeconds: number
  try {
    progress.step(`Copying the snapshot (${snapshot.bytes} bytes) to ${record.name}`)
    await conn.writeFile(SNAPSHOT_ON_HOST, await readFile(req.file), 0o600)
    await prepareMember(conn, record, self, [self], {store, token, step: progress.step})
    await ensureRestoreTool(conn)
    const retired = await retireFormer(store, former, stamp, progress)
    progress.step(`Restoring the snapshot on ${record.name} as a new one-member etcd (its previous data, if any, goes to ${asideDir(stamp)})`)
    await conn.run(restoreScript(self, token, SNAPSHOT_ON_HOST, stamp), 'restoring the snapshot')
    const endpoint = clientUrl(self)
    const kv = await openKv({endpoints: [endpoint], ...rootFiles, clusterName: current.clusterName}, store)
    try {
      progress.step(`Waiting for ${endpoint} to lead`)
      quorumSeconds = await waitForLeader(kv, 1, new AbortController().signal, LEADER_WAIT_MS)
      await kvCall(kv, 'enabling authentication', () => enableRbac(kv.client))
      const keys = await kvCall(kv, 'reading the restored records', () => kv.client.getAll().prefix(kv.layout.machines).keys())
      const machines = keys.map(k => k.slice(kv.layout.machines.length)).sort()
      store.writeConfig({...store.readConfig(), clusterName: current.clusterName, kv: {endpoints: [endpoint], ...rootFiles}})
      // Routers try every endpoint of their config: those that list NAME find it again.
      const reprovision = current.endpoints.includes(endpoint) ? [] : machines
      const growth = await grow(kv, store, progress)
      return {endpoint, member: self, machines, ...retired, aside: asideDir(stamp), reprovision, snapshotBytes: snapshot.bytes, quorumSeconds, ...growth}
    } finally {
      kv.close()
    }
  } finally {
    conn.close()
  }
}

/**
 * The store grows back as after any create (kv-members, auto by default), one learner at a
 * time; the former members qualify again, their old data being aside. A failure here leaves
 * a working one-member store, so it is reported, not thrown.
 */
async function grow(kv: Kv, store: LocalStore, progress: Progress): Promise<Pick<KvRestoreResult, 'grown' | 'growError'>> {
  try {
    return {grown: await followMembership(kv, {store, progress, signal: new AbortController().signal})}
  } catch (error) {
    return {grown: [], growError: error instanceof ClusterError ? error.oneLine() : describeCause(error)}
  }
}

/** Restoring over an etcd that still works would throw away every write since the snapshot. */
async function refuseHealthyKv(flags: KvOptions, endpoints: string[], store: LocalStore): Promise<void> {
  if (endpoints.length === 0) return
  try {
    const status = await kvStatus(flags, store)
    if (status.healthy) {
      throw new InputError(`the etcd at ${endpoints.join(',')} has a leader (${status.leader}) and a majority of healthy members: restoring would lose every change since the snapshot`,
        'restore only when the majority is lost for good (see `cluster kv status`), or pass --force')
    }
  } catch (error) {
    if (!(error instanceof KvUnavailableError)) throw error
  }
}

/** Former members stop their etcd for good; one that cannot be reached is reported, not waited for. */
async function retireFormer(store: LocalStore, former: MemberPlan[], stamp: string, progress: Progress): Promise<Pick<KvRestoreResult, 'retired' | 'unreachable'>> {
  if (former.length) progress.step(`Taking the former members out: ${former.map(m => m.name).join(', ')} (unit disabled, data moved to ${asideDir(stamp)})`)
  const settled = await Promise.allSettled(former.map(async m => {
    const c = await connectMember(store, m.name)
    try {
      await c.run(retireScript(stamp), `taking ${m.name} out of the lost etcd`)
    } finally {
      c.close()
    }
  }))
  const retired: string[] = []
  const unreachable: KvRestoreResult['unreachable'] = []
  settled.forEach((s, i) => s.status === 'fulfilled' ? retired.push(former[i].name) : unreachable.push({name: former[i].name, error: describeCause(s.reason)}))
  return {retired, unreachable}
}

/** etcd 3.5 restores with etcdutl (etcd-server); etcd 3.4 only with etcdctl (etcd-client). */
async function ensureRestoreTool(conn: SshConnection): Promise<void> {
  if ((await conn.exec('command -v etcdutl')).code === 0) return
  const {provisioner} = await detectProvisioner(conn)
  await ensurePackages(conn, provisioner, ['etcd-client'])
}
