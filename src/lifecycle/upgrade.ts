/**
 * `cluster upgrade`: the distribution's upgrade of the Docker packages, then this CLI's
 * router bundle, on each machine in turn. Every machine is checked and reached before the
 * first is touched (a bad name or a stopped host changes nothing), and each machine's new
 * router must report back, connected to etcd, before the next one starts: a bad bundle
 * stops the upgrade on the first host instead of taking the whole overlay down.
 */
import {openKv, type Kv, type KvOptions} from '../kv/client.js'
import {findMachine, listMachines} from '../kv/machines.js'
import {trustedRecord} from './trust.js'
import {machineFrom} from './machine.js'
import {connectToMachine} from '../ssh/connect-machine.js'
import type {SshConnection} from '../ssh/client.js'
import {detectProvisioner, upgradeDockerPackages, type EngineUpgrade} from '../provision/install.js'
import {waitForEngine} from '../provision/engine.js'
import {dockerClientCert, loadOrCreateAuthorities} from '../tls/authorities.js'
import {installedRouter, localRouter, replaceRouter} from '../agent/deploy.js'
import {waitForRouter} from '../agent/status.js'
import {planRouterUpgrade, type RouterIdentity} from '../agent/router-version.js'
import {UNIT} from '../agent/unit.js'
import type {LocalStore} from '../store/local.js'
import type {Progress} from '../cli/progress.js'
import type {MachineRecord} from '../../core/model.js'
import {ClusterError, InputError} from '../../core/errors.js'

export interface UpgradeOptions {
  store: LocalStore
  kv: KvOptions
  progress: (machine: string) => Progress
  signal: AbortSignal
}

export interface RouterUpgrade {
  /** Null when the host had no router bundle. */
  before: RouterIdentity | null
  after: RouterIdentity
  /** The bundle was replaced. */
  changed: boolean
  /** The systemd unit was rewritten (this CLI's unit differs from the host's). */
  unitChanged: boolean
  restarted: boolean
}

export interface MachineUpgrade {
  name: string
  engine: EngineUpgrade
  router: RouterUpgrade
}

/** How long a new router has to report itself, connected to etcd (its first status write comes at once, etcd's within a maintenance round). */
const ROUTER_READY_MS = 30_000
/** SSH to a running machine answers at once; a stopped one is reported after this. */
const REACH_MS = 10_000

export async function upgradeMachines(names: string[], o: UpgradeOptions): Promise<MachineUpgrade[]> {
  const kv = await openKv(o.kv, o.store)
  const conns: Array<{record: MachineRecord; conn: SshConnection}> = []
  try {
    const records = await machinesToUpgrade(kv, names, o.store)
    // Reach them all first, so a stopped one fails the command before anything changed;
    // allSettled, so those reached before another failed are closed too.
    const reached = await Promise.allSettled(records.map(record => reach(record, o)))
    for (const r of reached) if (r.status === 'fulfilled') conns.push(r.value)
    const failed = reached.find(r => r.status === 'rejected')
    if (failed) throw failed.reason
    const results: MachineUpgrade[] = []
    for (const {record, conn} of conns) {
      o.signal.throwIfAborted()
      results.push(await upgradeOne(record, conn, o))
    }
    return results
  } finally {
    for (const {conn} of conns) conn.close()
    kv.close()
  }
}

/** The named machines (or every machine of the cluster), each trusted for SSH and set up. */
async function machinesToUpgrade(kv: Kv, names: string[], store: LocalStore): Promise<MachineRecord[]> {
  const wanted = names.length > 0 ? [...new Set(names)] : (await listMachines(kv)).map(r => r.name).sort()
  if (wanted.length === 0) throw new InputError('the cluster has no machines to upgrade', 'create one with `cluster create`')
  const records: MachineRecord[] = []
  for (const name of wanted) {
    const {record} = trustedRecord(store, name, await findMachine(kv, name))
    if (record.state !== 'ready') {
      throw new ClusterError(`machine "${name}" is ${record.state}, not set up`,
        {hint: record.state === 'error' ? `remove it with \`cluster rm -f ${name}\`` : `finish it with \`cluster provision ${name}\``})
    }
    records.push(record)
  }
  return records
}

async function reach(record: MachineRecord, o: UpgradeOptions): Promise<{record: MachineRecord; conn: SshConnection}> {
  const local = o.store.hasMachine(record.name) ? o.store.getMachine(record.name) : undefined
  const progress = o.progress(record.name)
  const machine = await machineFrom(o.store, record, local, {progress, signal: o.signal})
  try {
    return {record, conn: await connectToMachine(o.store, record, machine.driver.ssh(), {signal: o.signal, waitMs: REACH_MS, progress})}
  } catch (error) {
    throw new ClusterError(`machine "${record.name}" cannot be reached over SSH (${(error as Error).message.split('\n')[0]}); nothing was upgraded`,
      {hint: `see \`cluster status ${record.name}\`; start it with \`cluster start ${record.name}\``, cause: error})
  }
}

async function upgradeOne(record: MachineRecord, conn: SshConnection, o: UpgradeOptions): Promise<MachineUpgrade> {
  const progress = o.progress(record.name)
  const {provisioner} = await detectProvisioner(conn)
  progress.step(`${provisioner.name}: upgrading ${provisioner.dockerPackages.join(' ')}`)
  const engine = await upgradeDockerPackages(conn, provisioner)
  if (engine.note) progress.step(engine.note)
  if (engine.changed) {
    // The package's maintainer scripts restarted dockerd: wait for it before the router.
    progress.step(`Docker ${engine.before} → ${engine.after}; waiting for ${record.dockerUrl}`)
    const client = dockerClientCert(o.store)
    await waitForEngine(record.dockerUrl, {ca: loadOrCreateAuthorities(o.store).dockerServer.certPem, cert: client.certPem, key: client.keyPem}, 60_000)
  }
  const router = await upgradeRouter(record.name, conn, progress)
  return {name: record.name, engine, router}
}

async function upgradeRouter(name: string, conn: SshConnection, progress: Progress): Promise<RouterUpgrade> {
  const local = localRouter()
  const installed = await installedRouter(conn)
  const plan = planRouterUpgrade(installed, local, UNIT)
  const result = {before: installed.router ?? null, after: local, changed: plan.bundle, unitChanged: plan.unit, restarted: plan.bundle || plan.unit}
  if (!result.restarted) {
    progress.step(`router ${describeRouter(local)} is current`)
    return result
  }
  progress.step(`router ${describeRouter(installed.router)} → ${describeRouter(local)}: restarting it (the overlay stays up)`)
  const restartedAt = await replaceRouter(conn, plan)
  await waitForRouter(name, conn, restartedAt, ROUTER_READY_MS).catch((error: ClusterError) => {
    throw new ClusterError(`${error.message}; the machines after it were not upgraded`, {hint: error.hint, cause: error})
  })
  progress.step('the new router is serving')
  return result
}

/** `0.1.0 (3f2a1b9c04de)`: the version line and the start of the hash. */
export function describeRouter(r: RouterIdentity | undefined | null): string {
  if (!r) return 'none'
  return `${r.version ?? 'unversioned'} (${r.hash.slice(0, 12)})`
}
