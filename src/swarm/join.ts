/**
 * `cluster create --swarm`: the role is settled before the machine is made (so a worker of
 * a cluster without a master fails at once, and two masters created together cannot both
 * initialise a swarm), and the host joins once its engine runs with TLS and the overlay.
 */
import type {Kv} from '../kv/client.js'
import {wrap} from '../../core/errors.js'
import type {MachineRecord, SwarmMembership} from '../../core/model.js'
import type {LocalStore} from '../store/local.js'
import type {Progress} from '../cli/progress.js'
import {decideRole, initRequest, joinRequest, parseSwarmOptions, type SwarmOptions, type SwarmRequest} from './plan.js'
import {claimMaster, currentMaster, loadTokens, overlayAddress, releaseUnusedClaim, saveTokens} from './state.js'
import {putMachine} from '../kv/machines.js'
import {dockerMessage, engineOf, localSwarm, type Engine} from './engine.js'

export interface SwarmPlan {
  membership: SwarmMembership
  options: SwarmOptions
}

/** Refuses bad --swarm-opt values, or a worker for a cluster without a master, before anything is made. */
export async function checkSwarmRequest(kv: Kv, req: SwarmRequest): Promise<void> {
  parseSwarmOptions(req.opts, decideRole(req.master, await currentMaster(kv), kv.clusterName).role)
}

/** Takes the role (a master claim is released by `rm`, the rollback) and parses the options for it. */
export async function planMembership(kv: Kv, name: string, req: SwarmRequest): Promise<SwarmPlan> {
  let decided = decideRole(req.master, await currentMaster(kv), kv.clusterName)
  if (decided.role === 'master' && !(await claimMaster(kv, name))) {
    decided = decideRole(req.master, await currentMaster(kv), kv.clusterName)
  }
  return {
    membership: {role: decided.role, ...(decided.master ? {master: decided.master} : {})},
    options: parseSwarmOptions(req.opts, decided.role),
  }
}

export interface JoinContext {
  kv: Kv
  store: LocalStore
  record: MachineRecord
  plan: SwarmPlan
  progress: Progress
  signal: AbortSignal
}

/** How long a joining host waits for a master created at the same time to initialise. */
const MASTER_WAIT_MS = 180_000

/** Initialises or joins the swarm; fills record.swarm with the address and node ID. */
export async function joinSwarm(c: JoinContext): Promise<void> {
  const {kv, record, plan, progress} = c
  const membership = plan.membership
  const addr = await overlayAddress(kv, record.name)
  const engine = await engineOf(c.store, record)
  if ((await localSwarm(engine)).state !== 'inactive') {
    // Not ours: the rollback must leave that swarm alone, so the record forgets the role.
    delete record.swarm
    await putMachine(kv, record)
    if (membership.role === 'master') await releaseUnusedClaim(kv, record.name)
    throw wrap(new Error('this Docker engine is already part of a swarm'), `cannot add ${record.name} to the cluster's swarm`,
      `run \`docker swarm leave\` on it first (see \`cluster ssh ${record.name}\`)`)
  }
  if (membership.role === 'master') {
    progress.step(`Initialising the swarm, advertised on the overlay address ${addr}`)
    await swarmCall(`swarm init on ${record.name}`, () => whileOverlayStarts(() => engine.swarmInit(initRequest(addr, plan.options)), c.signal))
    await recordJoined(c, engine, addr)
    const inspect = await swarmCall('reading the join tokens', () => engine.swarmInspect()) as {JoinTokens: {Worker: string; Manager: string}}
    await saveTokens(kv, c.store, {worker: inspect.JoinTokens.Worker, manager: inspect.JoinTokens.Manager})
  } else {
    const master = membership.master!
    progress.step(`Joining the swarm of ${master} as ${membership.role}, advertised on the overlay address ${addr}`)
    const tokens = await loadTokens(kv, c.store, master, MASTER_WAIT_MS, c.signal)
    // Docker joins through the first address given: the master's, a manager while it lives.
    const managers = [await overlayAddress(kv, master)]
    const token = membership.role === 'manager' ? tokens.manager : tokens.worker
    await swarmCall(`swarm join of ${record.name}`, () => whileOverlayStarts(() => engine.swarmJoin(joinRequest(addr, managers, token, plan.options)), c.signal))
    await recordJoined(c, engine, addr)
  }
}

/** The node ID goes to etcd at once: it is how `rm` (and a rollback) knows the swarm on the host is ours. */
async function recordJoined(c: JoinContext, engine: Engine, addr: string): Promise<void> {
  c.record.swarm = {...c.plan.membership, addr, nodeId: (await localSwarm(engine)).nodeId}
  await putMachine(c.kv, c.record)
}

/** The router, just restarted, puts the overlay address on its tunnel device within seconds. */
const OVERLAY_WAIT_MS = 30_000

async function whileOverlayStarts<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
  const deadline = Date.now() + OVERLAY_WAIT_MS
  for (;;) {
    try {
      return await call()
    } catch (error) {
      if (!/cannot assign requested address/.test(dockerMessage(error)) || Date.now() > deadline) throw error
    }
    signal.throwIfAborted()
    await new Promise(r => setTimeout(r, 500))
  }
}

/** Runs one Docker API call, keeping Docker's own message and the cause. */
export async function swarmCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw wrap(Object.assign(new Error(dockerMessage(error)), {cause: error}), what)
  }
}

export type {Engine}
