/**
 * `cluster rm` of a swarm node, before the host is torn down: drain it through another
 * manager (its tasks move elsewhere), leave, and drop it from the managers' node list, so
 * `docker node ls` does not keep a Down ghost. A manager is demoted first, the master role
 * passes to another manager, and the last manager ends the swarm — refused while other
 * nodes remain, unless --force.
 */
import type {Kv} from '../kv/client.js'
import {listMachines, putMachine} from '../kv/machines.js'
import {trustedRecord, type Trusted} from '../lifecycle/trust.js'
import {ClusterError, InputError, describeCause, wrap} from '../../core/errors.js'
import type {MachineRecord} from '../../core/model.js'
import type {LocalStore} from '../store/local.js'
import type {Progress} from '../cli/progress.js'
import {planLeave, type SwarmNode} from './plan.js'
import {forgetSwarm, moveMaster, currentMaster} from './state.js'
import {engineOf, localSwarm, type Engine} from './engine.js'
import {swarmCall} from './join.js'

export interface LeaveContext {
  kv: Kv
  store: LocalStore
  record: MachineRecord
  force: boolean
  progress: Progress
}

/** How long a drained node's tasks get to stop before it leaves anyway. */
const DRAIN_WAIT_MS = 20_000
const DEMOTE_WAIT_MS = 20_000

export async function leaveSwarm(c: LeaveContext): Promise<void> {
  const {record, progress} = c
  const name = record.name
  let engine: Engine
  let self
  try {
    engine = await engineOf(c.store, record)
    self = await localSwarm(engine)
  } catch (error) {
    // A machine whose create failed before its engine answered over TLS never joined.
    if (record.state === 'ready' && !c.force) throw wrap(error, `cannot reach the Docker engine of ${name} to leave the swarm`)
    await dropGhost(c)
    return
  }
  if (self.state === 'inactive' || (record.swarm?.nodeId && record.swarm.nodeId !== self.nodeId)) {
    // Never joined, already left, or since put in another swarm by hand: nothing of ours to undo there.
    await releaseClaim(c)
    return
  }
  if (self.state !== 'active') {
    // Still trying to join (a create that timed out), or broken: no manager knows it as a
    // working node, so there is nothing to drain; stop the attempt here.
    progress.step(`Leaving the swarm (node state ${self.state})`)
    await swarmCall(`swarm leave on ${name}`, () => engine.swarmLeave({force: true}))
    await dropGhost(c)
    return
  }
  let manager
  try {
    manager = self.manager ? {engine, name} : await otherManager(c)
  } catch (error) {
    if (!c.force) throw error
    // Its swarm has no manager left: leaving locally is all there is to do, and it spares
    // the engine from looking for managers at every restart.
    progress.step(`No manager answers (${(error as Error).message.split(':')[0]}); leaving the swarm locally`)
    await swarmCall(`swarm leave on ${name}`, () => engine.swarmLeave({force: true}))
    return
  }
  const nodes = await listNodes(manager.engine)
  const plan = planLeave(self.nodeId, nodes, c.force, name)
  if (plan.kind === 'refuse') {
    throw new InputError(plan.reason, `remove those first, add another manager (\`cluster create --swarm --swarm-master\`), or pass --force to end the swarm`)
  }
  if (plan.kind === 'dissolve') {
    progress.step('Leaving the swarm (its last manager: the swarm ends)')
    await swarmCall(`swarm leave on ${name}`, () => engine.swarmLeave({force: true}))
    await releaseOrphans(c)
    await forgetSwarm(c.kv)
    return
  }
  const peer = self.manager ? await otherManager(c) : manager
  if (plan.demoteFirst) {
    progress.step(`Demoting ${name} to a worker`)
    await updateNode(peer.engine, self.nodeId, {Role: 'worker'})
    await until(`${name} to stop being a manager`, DEMOTE_WAIT_MS, async () => !(await localSwarm(engine)).manager)
  }
  progress.step(`Draining ${name}: its tasks move to other nodes`)
  await updateNode(peer.engine, self.nodeId, {Availability: 'drain'})
  await until(`the tasks of ${name} to stop`, DRAIN_WAIT_MS, async () => (await runningTasks(peer.engine, self.nodeId)) === 0).catch(error => {
    progress.step(`${(error as Error).message}; leaving anyway`)
  })
  progress.step(`Leaving the swarm; removing ${name} from the node list of ${peer.name}`)
  await swarmCall(`swarm leave on ${name}`, () => engine.swarmLeave({force: false}))
  await swarmCall(`docker node rm ${name}`, () => peer.engine.getNode(self.nodeId).remove({force: true}))
  if (record.swarm?.role === 'master') await handOver(c, peer.name)
}

/**
 * The swarm ended with nodes still in it (--force): they could never be managed again, so
 * they leave it too and their records say so, ready to join a new swarm.
 */
async function releaseOrphans(c: LeaveContext): Promise<void> {
  for (const m of await listMachines(c.kv)) {
    if (!m.swarm || m.name === c.record.name) continue
    try {
      const engine = await engineOf(c.store, m)
      await engine.swarmLeave({force: true})
      c.progress.step(`${m.name} left the ended swarm`)
    } catch (error) {
      c.progress.step(`${m.name} could not leave the ended swarm (${(error as Error).message}); run \`docker swarm leave --force\` there`)
    }
    delete m.swarm
    await saveEverywhere(c, m)
  }
}

/**
 * Another machine's swarm field changed: etcd, and this store's copy when it has one. The
 * record is written back (and so signed by this store) only when this store trusts it
 * (src/lifecycle/trust.ts), and the local copy takes the swarm field alone, never etcd's record.
 */
async function saveEverywhere(c: LeaveContext, m: MachineRecord): Promise<void> {
  let trusted: Trusted
  try {
    trusted = trustedRecord(c.store, m.name, m)
  } catch (error) {
    c.progress.step(`${m.name}'s record is left as it is: ${describeCause(error)}`)
    return
  }
  await putMachine(c.kv, m)
  if (trusted.local) c.store.saveMachine({...trusted.local, record: {...trusted.local.record, swarm: m.swarm}})
}

/** A reachable manager other than this machine, from the records in etcd. */
async function otherManager(c: LeaveContext): Promise<{engine: Engine; name: string}> {
  const candidates = (await listMachines(c.kv)).filter(m => m.name !== c.record.name && m.state === 'ready' && m.swarm && m.swarm.role !== 'worker')
  for (const m of candidates) {
    try {
      const engine = await engineOf(c.store, m)
      if ((await localSwarm(engine)).manager) return {engine, name: m.name}
    } catch {
      // Try the next one: any manager can change the node list.
    }
  }
  throw new ClusterError(`no manager of ${c.record.name}'s swarm answers (tried ${candidates.map(m => m.name).join(', ') || 'none recorded'})`,
    {hint: `start a manager, or pass --force to remove ${c.record.name} anyway`})
}

async function listNodes(engine: Engine): Promise<SwarmNode[]> {
  const nodes = await swarmCall('listing the swarm nodes', () => engine.listNodes()) as {ID: string; Description?: {Hostname?: string}; Spec?: {Role?: string}; Status?: {State?: string}}[]
  return nodes.map(n => ({id: n.ID, hostname: n.Description?.Hostname ?? n.ID, manager: n.Spec?.Role === 'manager', state: n.Status?.State ?? 'unknown'}))
}

async function updateNode(engine: Engine, id: string, change: Record<string, unknown>): Promise<void> {
  const node = engine.getNode(id)
  const current = await swarmCall('reading the node', () => node.inspect()) as {Version: {Index: number}; Spec: Record<string, unknown>}
  await swarmCall(`updating the node (${JSON.stringify(change)})`, () => node.update({_query: {version: current.Version.Index}, _body: {...current.Spec, ...change}}))
}

async function runningTasks(engine: Engine, nodeId: string): Promise<number> {
  const tasks = await engine.listTasks({filters: JSON.stringify({node: [nodeId], 'desired-state': ['running']})}) as {Status?: {State?: string}}[]
  return tasks.filter(t => t.Status?.State === 'running').length
}

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new ClusterError(`waited ${ms / 1000} s for ${what}`)
    await new Promise(r => setTimeout(r, 500))
  }
}

/** The master left: another manager takes the role, and every record naming it follows. */
async function handOver(c: LeaveContext, to: string): Promise<void> {
  await moveMaster(c.kv, c.record.name, to)
  for (const m of await listMachines(c.kv)) {
    if (!m.swarm || m.name === c.record.name) continue
    m.swarm = m.name === to ? {...m.swarm, role: 'master', master: undefined} : {...m.swarm, master: to}
    await saveEverywhere(c, m)
  }
}

/**
 * The master never joined (a create rolled back early) or its engine is gone: with no
 * other manager recorded, the claim and tokens go, so a later --swarm-master starts afresh.
 */
async function releaseClaim(c: LeaveContext): Promise<void> {
  if ((await currentMaster(c.kv)) !== c.record.name) return
  const managers = (await listMachines(c.kv)).filter(m => m.name !== c.record.name && m.swarm && m.swarm.role !== 'worker')
  if (managers.length === 0) await forgetSwarm(c.kv)
}

/** The engine is gone (forced removal): drop its node from a manager's list if one answers. */
async function dropGhost(c: LeaveContext): Promise<void> {
  const nodeId = c.record.swarm?.nodeId
  if (nodeId) {
    try {
      const peer = await otherManager(c)
      await swarmCall('removing the node', () => peer.engine.getNode(nodeId).remove({force: true}))
      if (c.record.swarm?.role === 'master') await handOver(c, peer.name)
      return
    } catch (error) {
      c.progress.step(`could not drop ${c.record.name} from the swarm's node list: ${(error as Error).message}`)
    }
  }
  await releaseClaim(c)
}
