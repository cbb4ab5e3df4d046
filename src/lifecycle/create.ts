/**
 * `cluster create`, orchestrated once for every driver (libmachine's order, with its flaw
 * fixed): validate, take the name in etcd, let the driver make the machine (it saves after
 * each resource), reach it over SSH and pin its host key, set the host up, record it ready.
 * Any failure or Ctrl-C rolls back through the same code as `cluster rm`; if the rollback
 * itself fails the record stays in etcd in state "error", which `cluster rm -f` finishes.
 */
import type {DriverData, FlagValues} from '../../drivers/sdk/driver.js'
import {getDriver} from '../drivers/registry.js'
import {ClusterError, describeCause} from '../../core/errors.js'
import {openKv, type KvOptions} from '../kv/client.js'
import {claimMachine, deleteMachine, ensureSettings, putMachine} from '../kv/machines.js'
import type {ClusterSettings, EngineOptions, MachineRecord} from '../../core/model.js'
import {validateMachineName} from '../names.js'
import {checkEngineOptions} from '../provision/engine-files.js'
import {LocalStore, type LocalMachine} from '../store/local.js'
import type {Progress} from '../cli/progress.js'
import {driverContext, splitDriverData, whoAmI} from './machine.js'
import {checkIdentity, clusterIdentity} from './identity.js'
import {removeMachine} from './remove.js'
import {setupHost} from './setup-host.js'
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

export async function createMachine(req: CreateRequest, env: CreateEnv): Promise<MachineRecord> {
  const {store, progress, signal} = env
  validateMachineName(req.name)
  checkEngineOptions(req.engine)
  const factory = await getDriver(req.driver)
  const kv = await openKv(req.kv, store)
  try {
    progress.step(`Checking etcd at ${kv.endpoints.join(',')}`)
    // Bad swarm flags, or a worker with no master to join, are refused before anything is written.
    const swarm = req.swarm && await import('../swarm/join.js')
    if (swarm) await swarm.checkSwarmRequest(kv, req.swarm!)
    const identity = clusterIdentity(store)
    const settings = await ensureSettings(kv, {...req.settings, ...identity})
    checkIdentity(settings, identity, store)
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
    await claimMachine(kv, record)
    try {
      store.claimMachineDir(req.name)
    } catch (error) {
      await deleteMachine(kv, req.name)
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
      await putMachine(kv, record)
    }
    try {
      const swarmPlan = swarm && await swarm.planMembership(kv, req.name, req.swarm!)
      if (swarmPlan) record.swarm = swarmPlan.membership
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
      try {
        await setupHost({store, kv, settings, record, conn, progress, signal, advertiseAddr: req.advertiseAddr})
      } finally {
        signal.removeEventListener('abort', closeOnAbort)
        conn.close()
      }
      if (swarm && swarmPlan) await swarm.joinSwarm({kv, store, record, plan: swarmPlan, progress, signal})
      record.state = 'ready'
      await save(driver.data())
      progress.step(`Machine ${req.name} is ready: eval "$(cluster env ${req.name})"`)
      return record
    } catch (error) {
      const cause = signal.aborted ? new ClusterError(`create of ${req.name} was interrupted`, {hint: 'everything it made was removed', cause: error}) : error
      await rollBack(cause, record, {store, progress, kvOptions: req.kv, save})
      throw cause
    }
  } finally {
    kv.close()
  }
}

async function rollBack(error: unknown, record: MachineRecord, o: {store: LocalStore; progress: Progress; kvOptions: KvOptions; save: () => Promise<void>}) {
  const why = error instanceof ClusterError ? error.oneLine() : describeCause(error)
  o.progress.step(`Create failed (${why}); rolling back`)
  try {
    await removeMachine(record.name, {store: o.store, progress: o.progress, kv: o.kvOptions, force: false, signal: new AbortController().signal})
  } catch (rollbackError) {
    record.state = 'error'
    record.error = why
    await o.save().catch(() => {})
    throw new ClusterError(`${why}; rolling back failed too (${describeCause(rollbackError)})`,
      {hint: `run \`cluster rm -f ${record.name}\` to remove what is left`, cause: error})
  }
}
