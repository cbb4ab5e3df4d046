/**
 * `cluster create`, orchestrated once for every driver (libmachine's order, with its flaw
 * fixed): validate, take the name in etcd, let the driver make the machine (it saves after
 * each resource), reach it over SSH and pin its host key, set the host up, record it ready.
 * Any failure or Ctrl-C rolls back through the same code as `cluster rm`; if the rollback
 * itself fails the record stays in etcd in state "error", which `cluster rm -f` finishes.
 * With no etcd configured, the machine is made first and becomes the first member of the
 * cluster's own etcd (src/kv/bootstrap/first-member.ts) before the name is taken in it.
 */
import type {DriverData, FlagValues} from '../../drivers/sdk/driver.js'
import {getDriver} from '../drivers/registry.js'
import {ClusterError, describeCause} from '../../core/errors.js'
import {kvConfigured, openKv, resolveKvOptions, type Kv, type KvOptions} from '../kv/client.js'
import {claimFirstMember, startFirstMember} from '../kv/bootstrap/first-member.js'
import {claimMachine, deleteMachine, ensureSettings, putMachine} from '../kv/machines.js'
import type {ClusterSettings, EngineOptions, MachineRecord} from '../../core/model.js'
import {validateMachineName} from '../names.js'
import {checkEngineOptions} from '../provision/engine-files.js'
import {LocalStore, type LocalMachine} from '../store/local.js'
import type {Progress} from '../cli/progress.js'
import {driverContext, splitDriverData, whoAmI} from './machine.js'
import {checkIdentity, clusterIdentity} from './identity.js'
import {removeMachine} from './remove.js'
import {installHostPackages, setupHost} from './setup-host.js'
import type {Provisioner} from '../provision/provisioner.js'
import {connectToMachine} from '../ssh/connect-machine.js'
import type {SwarmRequest} from '../swarm/plan.js'

export interface CreateRequest {
  name: string
  driver: string
  driverFlags: FlagValues
  engine: EngineOptions
  labels: Record<string, string>
  /** Only used by the first machine of a cluster (`cluster init` settings). */
  settings?: Partial<ClusterSettings>
  advertiseAddr?: string
  /** `--swarm`: join the cluster's swarm (see src/swarm/). */
  swarm?: SwarmRequest
  kv: KvOptions
}

export interface CreateEnv {
  store: LocalStore
  progress: Progress
  signal: AbortSignal
}

const DEFAULT_SSH_WAIT_S = 300

export interface CreateResult {
  record: MachineRecord
  /** Set when this create made the cluster's own etcd: one line on how it grows. */
  kvHint?: string
}

export async function createMachine(req: CreateRequest, env: CreateEnv): Promise<CreateResult> {
  const {store, progress, signal} = env
  validateMachineName(req.name)
  checkEngineOptions(req.engine)
  const factory = await getDriver(req.driver)
  // No etcd anywhere: this machine becomes the first member of the cluster's own.
  const releaseFirst = kvConfigured(req.kv, store) ? undefined : claimFirstMember(store, req.name)
  let kv: Kv | undefined
  try {
    const record: MachineRecord = {
      name: req.name,
      driver: factory.name,
      driverData: {},
      addresses: {public: ''},
      dockerUrl: '',
      sshUser: '',
      sshPort: 0,
      labels: req.labels,
      engine: req.engine,
      certFingerprint: '',
      caFingerprint: '',
      state: 'creating',
      createdAt: new Date().toISOString(),
      createdBy: whoAmI(),
    }
    const identity = clusterIdentity(store)
    let settings: ClusterSettings | undefined
    let swarm: typeof import('../swarm/join.js') | undefined
    /** Checks the request against the cluster and takes the name in etcd; before anything is made when etcd exists. */
    const enterCluster = async (open: Kv) => {
      progress.step(`Checking etcd at ${open.endpoints.join(',')}`)
      // Bad swarm flags, or a worker with no master to join, are refused before anything is written.
      swarm = req.swarm && await import('../swarm/join.js')
      if (swarm) await swarm.checkSwarmRequest(open, req.swarm!)
      // Settings `cluster init` kept locally before any etcd existed are proposed first.
      settings = await ensureSettings(open, {...store.readConfig().settings, ...definedOnly(req.settings ?? {}), ...identity})
      checkIdentity(settings, identity, store)
      await claimMachine(open, record)
      // The config follows the member list, also when another store changed it.
      if (open.tls) await (await import('../kv/bootstrap/membership.js')).syncEndpoints(open, store)
    }
    if (!releaseFirst) {
      kv = await openKv(req.kv, store)
      await enterCluster(kv)
    }
    try {
      store.claimMachineDir(req.name)
    } catch (error) {
      if (kv) await deleteMachine(kv, req.name)
      throw error
    }
    const local: LocalMachine = {record}
    const save = async (data?: DriverData) => {
      if (data) {
        const {shared, secret} = splitDriverData(data)
        record.driverData = shared
        local.localDriverData = secret
      }
      store.saveMachine(local)
      if (kv) await putMachine(kv, record)
    }
    try {
      await save()
      const driver = factory.fromFlags(req.driverFlags, driverContext(store, req.name, undefined, {progress, signal, onSave: save}))
      progress.step('Running pre-create checks')
      await driver.preCreateCheck()
      signal.throwIfAborted()
      progress.step(`Creating machine with driver ${driver.name}`)
      await driver.create()
      await save(driver.data())
      signal.throwIfAborted()

      const addresses = await driver.addresses()
      const target = driver.ssh()
      Object.assign(record, {addresses, sshUser: target.user, sshPort: target.port, dockerUrl: `tcp://${addresses.public}:2376`})
      await save(driver.data())

      progress.step(`Waiting for SSH on ${target.host}:${target.port}`)
      const conn = await connectToMachine(store, record, target, {signal, waitMs: (factory.sshWaitSeconds ?? DEFAULT_SSH_WAIT_S) * 1000, progress})
      await save()
      // Ctrl-C during a long remote step (apt) ends it at once instead of after it.
      const closeOnAbort = () => conn.close()
      signal.addEventListener('abort', closeOnAbort, {once: true})
      let swarmPlan
      let installed: Provisioner | undefined
      try {
        if (!kv) {
          // The member makes its key with the host's Node.js: the packages come first.
          installed = await installHostPackages({conn, progress, signal})
          const clusterName = resolveKvOptions(req.kv, process.env, store.readConfig()).clusterName
          progress.step(`No etcd is configured: making ${req.name} the first member of the cluster's own etcd (TLS, RBAC)`)
          kv = await startFirstMember(conn, record, {store, clusterName, signal, step: progress.step})
          await enterCluster(kv)
        }
        swarmPlan = swarm && await swarm.planMembership(kv, req.name, req.swarm!)
        if (swarmPlan) record.swarm = swarmPlan.membership
        await save()
        await setupHost({store, kv, settings: settings!, record, conn, progress, signal, advertiseAddr: req.advertiseAddr}, installed)
      } finally {
        signal.removeEventListener('abort', closeOnAbort)
        conn.close()
      }
      if (swarm && swarmPlan) await swarm.joinSwarm({kv, store, record, plan: swarmPlan, progress, signal})
      record.state = 'ready'
      await save(driver.data())
      progress.step(`Machine ${req.name} is ready: eval "$(cluster env ${req.name})"`)
      const kvHint = releaseFirst ? firstMemberHint(req.name, settings!.kvMembers ?? 'auto') : await growEtcd(kv, {store, progress, signal})
      return {record, kvHint}
    } catch (error) {
      const cause = signal.aborted ? new ClusterError(`create of ${req.name} was interrupted`, {hint: 'everything it made was removed', cause: error}) : error
      await rollBack(cause, record, {store, progress, kvOptions: req.kv, save, dropStore: Boolean(releaseFirst)})
      throw cause
    }
  } finally {
    kv?.close()
    releaseFirst?.()
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function firstMemberHint(name: string, mode: 'auto' | number): string {
  const grows = mode === 'auto' ? 'it grows to 3 members when the cluster has 3 machines (5 at 5)'
    : mode === 1 ? 'it stays at one (kv-members 1)' : `it grows to ${mode} members when the cluster has ${mode} machines (kv-members ${mode})`
  return `the cluster's etcd has one member, on ${name}; ${grows}; \`cluster kv add NAME\` adds one now`
}

/**
 * The machine is made: the etcd follows the cluster's size (kv-members). A failed growth is
 * undone by itself and leaves the machine in place; it comes back as a hint line.
 */
async function growEtcd(kv: Kv, env: {store: LocalStore; progress: Progress; signal: AbortSignal}): Promise<string | undefined> {
  const {followMembership} = await import('../kv/bootstrap/membership.js')
  try {
    await followMembership(kv, env)
    return undefined
  } catch (error) {
    return `the machine is ready, but growing the cluster's etcd failed (${error instanceof ClusterError ? error.oneLine() : describeCause(error)}); retry with \`cluster kv add NAME\``
  }
}

async function rollBack(error: unknown, record: MachineRecord, o: {store: LocalStore; progress: Progress; kvOptions: KvOptions; save: () => Promise<void>; dropStore: boolean}) {
  const why = error instanceof ClusterError ? error.oneLine() : describeCause(error)
  o.progress.step(`Create failed (${why}); rolling back`)
  try {
    await removeMachine(record.name, {store: o.store, progress: o.progress, kv: o.kvOptions, force: false, dropStore: o.dropStore, signal: new AbortController().signal})
  } catch (rollbackError) {
    record.state = 'error'
    record.error = why
    await o.save().catch(() => {})
    throw new ClusterError(`${why}; rolling back failed too (${describeCause(rollbackError)})`,
      {hint: `run \`cluster rm -f ${record.name}\` to remove what is left`, cause: error})
  }
}
