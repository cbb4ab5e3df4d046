/**
 * The cluster's own etcd grows and shrinks live. A member is added as a raft learner (it
 * copies the data without voting, so a slow or broken newcomer never costs quorum), promoted
 * once etcd says it has caught up, and only then given to clients; a member is removed only
 * when the members left keep a majority (unless forced). The local config follows the member
 * list after every change.
 */
import {EtcdLockFailedError, type IMember} from 'etcd3'
import {ClusterError, InputError, describeCause} from '../../../core/errors.js'
import type {MachineRecord} from '../../../core/model.js'
import type {LocalStore} from '../../store/local.js'
import type {Progress} from '../../cli/progress.js'
import {getMachine, listMachines, readSettings} from '../machines.js'
import {trustedRecord} from '../../lifecycle/trust.js'
import {UNHEALTHY, isBrokenCircuit, kvCall, openKv, translateKvError, type Kv, type KvOptions} from '../client.js'
import {memberOf, peerUrl, pickMembers, removalRisk, spreadKey, targetMemberCount, type MemberPlan, type Placeable} from './plan.js'
import {connectMember, prepareMember, refuseUsedMember, startMember, undoMember} from './member.js'
import {kvStatus} from './status.js'

export interface MembershipEnv {
  store: LocalStore
  progress: Progress
  signal: AbortSignal
}

const PROMOTE_WAIT_MS = 90_000
const LOCK_WAIT_MS = 180_000
const CHANGE_WAIT_MS = 20_000

/**
 * One membership change at a time per cluster: creates that finish together would otherwise
 * both grow the etcd. etcd3's lock is a try-lock, so it is tried again until it is free.
 */
async function withMembershipLock<T>(kv: Kv, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const lock = kv.client.lock(`${kv.layout.prefix}/locks/kv-members`).ttl(30)
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    signal.throwIfAborted()
    try {
      await lock.acquire()
      break
    } catch (error) {
      if (!(error instanceof EtcdLockFailedError)) throw translateKvError(error, kv.endpoints, 'locking the etcd membership')
      if (Date.now() > deadline) throw new ClusterError(`another command kept the etcd membership locked for ${LOCK_WAIT_MS / 1000} s`, {hint: 'retry once it has finished', cause: error})
    }
    await new Promise(r => setTimeout(r, 500))
  }
  try {
    return await fn()
  } finally {
    await lock.release().catch(() => undefined)
  }
}

/** Linearizable: a member that has just joined may still show an older list of its own. */
export async function listMembers(kv: Kv): Promise<IMember[]> {
  return (await kvCall(kv, 'listing the etcd members', () => kv.client.cluster.memberList({linearizable: true}))).members
}

const memberPlan = (m: IMember): MemberPlan => ({name: m.name, address: new URL(m.peerURLs[0]!).hostname})

/** Adds machine `name` as a learner, waits until etcd promotes it; returns the seconds it took. */
export async function addMember(kv: Kv, name: string, env: MembershipEnv): Promise<number> {
  const started = Date.now()
  const shared = await getMachine(kv, name)
  if (shared.state !== 'ready') throw new InputError(`machine ${name} is ${shared.state}, not ready`, `run \`cluster provision ${name}\` first`)
  if (!env.store.hasMachine(name)) throw new InputError(`machine ${name} is not in this store (no SSH key for it)`, 'run this from the store that created it')
  // The member's peer address comes from the record too: etcd's copy must match what this store pinned.
  const {record} = trustedRecord(env.store, name, shared)
  const members = await listMembers(kv)
  if (members.some(m => m.name === name)) throw new InputError(`machine ${name} is a member of the cluster's etcd already`, 'see `cluster kv status`')
  const unstarted = members.find(m => m.name === '' || m.isLearner)
  if (unstarted) {
    throw new ClusterError(`the etcd has a member that is not started or not promoted (${unstarted.peerURLs.join(',')})`,
      {hint: 'run `cluster kv status`; remove it with `cluster kv remove` if its machine is gone'})
  }
  const self = memberOf(record)
  const conn = await connectMember(env.store, name)
  try {
    await refuseUsedMember(conn, record)
    env.progress.step(`Adding ${name} to the cluster's etcd as a learner (${members.length} → ${members.length + 1} members)`)
    await prepareMember(conn, record, self, [...members.map(memberPlan), self], {store: env.store, token: kv.clusterName, state: 'existing', step: env.progress.step})
    let id: string | undefined
    try {
      id = (await kvCall(kv, `adding ${name} as a learner`, () => whenConnected(() => kv.client.cluster.memberAdd({peerURLs: [peerUrl(self)], isLearner: true}), env.signal))).member.ID
      await startMember(conn)
      env.progress.step(`${name} is a learner; promoting it once it has caught up`)
      await promoteWhenCaughtUp(kv, id, name, env.signal)
      await servingAsVoter(kv, id, name, env.signal)
      env.progress.step(`${name} is a voting member`)
    } catch (error) {
      env.progress.step(`Adding ${name} failed (${error instanceof ClusterError ? error.oneLine() : describeCause(error)}); undoing it`)
      if (id) await kv.client.cluster.memberRemove({ID: id}).catch(() => undefined)
      await undoMember(conn)
      throw error
    }
  } finally {
    conn.close()
  }
  await syncEndpoints(kv, env.store)
  return (Date.now() - started) / 1000
}

/** etcd refuses to promote a learner that is behind its leader: ask again until it accepts. */
async function promoteWhenCaughtUp(kv: Kv, id: string, name: string, signal: AbortSignal): Promise<void> {
  await askAgain(() => kv.client.cluster.memberPromote({ID: id}), () => true, PROMOTE_WAIT_MS, signal).catch(error => {
    throw new ClusterError(`the etcd learner on ${name} did not catch up within ${PROMOTE_WAIT_MS / 1000} s (${(error as Error).message})`,
      {hint: `look at \`journalctl -u cluster-etcd\` on ${name} (cluster ssh ${name})`})
  })
}

/**
 * A promoted member publishes its name and client URLs by a raft proposal of its own, which
 * may come after the promotion; until then the list shows it nameless, and a next addMember
 * would take it for a member not started. Done once the list shows it whole.
 */
async function servingAsVoter(kv: Kv, id: string, name: string, signal: AbortSignal): Promise<void> {
  await askAgain(async () => {
    const m = (await listMembers(kv)).find(x => x.ID === id)
    if (!m || m.isLearner || m.name !== name || m.clientURLs.length === 0) throw new Error(`the member list shows ${m ? `name "${m.name}", ${m.clientURLs.length} client URLs` : 'no such member'}`)
  }, () => true, PROMOTE_WAIT_MS, signal).catch(error => {
    throw new ClusterError(`the etcd member on ${name} did not publish its name and client URLs within ${PROMOTE_WAIT_MS / 1000} s (${(error as Error).message})`,
      {hint: `look at \`journalctl -u cluster-etcd\` on ${name} (cluster ssh ${name})`})
  })
}

/**
 * Asks again every 500 ms while `passing` says the refusal will pass, for at most `ms`; then
 * the last error. etcd3's circuit breaker refuses a host for a few seconds after its failures.
 */
async function askAgain<T>(fn: () => Promise<T>, passing: (error: Error) => boolean, ms: number, signal: AbortSignal): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    signal.throwIfAborted()
    try {
      return await fn()
    } catch (error) {
      if (Date.now() > deadline || !(passing(error as Error) || isBrokenCircuit(error))) throw error
    }
    await new Promise(r => setTimeout(r, 500))
  }
}

/**
 * Takes machine `name` out of the etcd: refused when the members left would lose quorum
 * (unless `force`); the member's etcd is then stopped and its data removed on the machine.
 */
export async function removeMember(kv: Kv, opts: KvOptions, name: string, env: MembershipEnv & {force: boolean}): Promise<void> {
  const members = await listMembers(kv)
  const member = members.find(m => m.name === name)
  if (!member) throw new InputError(`machine ${name} is not a member of the cluster's etcd`, 'see `cluster kv status` for the members')
  if (members.length === 1) {
    throw new InputError(`${name} runs the etcd's only member`, `add a member first (\`cluster kv add NAME\`); \`cluster rm -f ${name}\` removes the machine and the etcd`)
  }
  const status = await kvStatus(opts, env.store)
  const risk = removalRisk(status.members.map(m => ({name: m.name, healthy: m.healthy})), name)
  if (risk && !env.force) throw new ClusterError(`removing ${name} from the etcd would lose quorum: ${risk}`, {hint: 'add a member first (`cluster kv add NAME`), or pass -f'})
  env.progress.step(`Removing ${name} from the cluster's etcd (${members.length} → ${members.length - 1} members)`)
  const machines = await listMachines(kv)
  const stays = members.filter(m => m.ID !== member.ID && m.clientURLs.length > 0)
  const leaving = status.members.find(m => m.name === name)
  const heir = stays.find(m => !m.isLearner)
  if (leaving?.leader && heir) await handLeadership(kv, env, leaving.endpoint, {id: heir.ID, name: heir.name}, name)
  // Asked of the members that stay: the one leaving may stop before it answers.
  const via = await openKv({endpoints: stays.map(m => m.clientURLs[0]!), ...kv.tls, clusterName: kv.clusterName}, env.store)
  try {
    const left = await kvCall(via, `removing the etcd member ${name}`, () => whenConnected(() => via.client.cluster.memberRemove({ID: member.ID}), env.signal))
      .then(r => r.members, error => removedAfterAll(via, member.ID, error, env.signal))
    writeEndpoints(kv, env.store, left, machines)
  } finally {
    via.close()
  }
  if (!env.store.hasMachine(name)) return
  try {
    const conn = await connectMember(env.store, name)
    try {
      await undoMember(conn)
    } finally {
      conn.close()
    }
  } catch (error) {
    env.progress.step(`${name} left the etcd, but its stopped member could not be cleaned (${describeCause(error)}): remove /var/lib/cluster-etcd there`)
  }
}

/**
 * etcd adds or removes a member only once its leader has been connected to every peer for 5 s
 * (else "unhealthy cluster"): right after a member joined or the leadership moved, ask again.
 */
const whenConnected = <T>(change: () => Promise<T>, signal: AbortSignal): Promise<T> =>
  askAgain(change, e => UNHEALTHY.test(e.message), CHANGE_WAIT_MS, signal)

/**
 * A leader that commits its own removal may stop before its followers learn the entry is
 * committed; with two members the one left then waits forever for the removed one's vote.
 * etcd's advice: move the leadership away first. MoveLeader is answered only by the leader.
 */
async function handLeadership(kv: Kv, env: MembershipEnv, leaderEndpoint: string, heir: {id: string; name: string}, name: string): Promise<void> {
  const leader = await openKv({endpoints: [leaderEndpoint], ...kv.tls, clusterName: kv.clusterName}, env.store)
  try {
    // A member that has just been promoted may not take the leadership at once.
    await kvCall(leader, `moving the etcd leadership from ${name} to ${heir.name}`,
      () => askAgain(() => leader.client.maintenance.moveLeader({targetID: heir.id}), () => true, CHANGE_WAIT_MS, env.signal))
  } finally {
    leader.close()
  }
}

/**
 * A leader that removes itself may stop before the answer gets back (two members, the leader
 * leaving): the removal is then judged by the member list the others show once they have a
 * new leader. Still listed after that: the original error.
 */
async function removedAfterAll(via: Kv, id: string, error: unknown, signal: AbortSignal): Promise<IMember[]> {
  return askAgain(async () => {
    const members = await listMembers(via)
    if (members.some(m => m.ID === id)) throw new Error('still listed')
    return members
  }, () => true, 15_000, signal).catch(() => { throw error })
}

/**
 * The config names every voting member's client URL, so the CLI reaches the etcd through any
 * of them. Only for the cluster's own etcd, and when the config names it (not when a flag or
 * variable chose another).
 */
export async function syncEndpoints(kv: Kv, store: LocalStore): Promise<string[]> {
  const [members, machines] = await Promise.all([listMembers(kv), listMachines(kv)])
  return writeEndpoints(kv, store, members, machines)
}

function writeEndpoints(kv: Kv, store: LocalStore, members: IMember[], machines: MachineRecord[]): string[] {
  const endpoints = members.filter(m => !m.isLearner && m.clientURLs.length > 0).map(m => m.clientURLs[0]!)
  const cfg = store.readConfig()
  // An etcd of the user's keeps the endpoints the user gave: its members may advertise addresses only they reach.
  if (cfg.kv && endpoints.length > 0 && ownEtcd(kv, members, machines) && cfg.kv.endpoints.some(e => kv.endpoints.includes(e))) {
    store.writeConfig({...cfg, kv: {...cfg.kv, endpoints}})
  }
  return endpoints
}

/** The cluster's own etcd: TLS and every member a machine of the cluster (not an etcd of the user's). */
function ownEtcd(kv: Kv, members: IMember[], machines: MachineRecord[]): boolean {
  return Boolean(kv.tls) && members.length > 0 && members.every(m => machines.some(r => r.name === m.name))
}

/** Ready machines this store can reach, oldest first, as placement sees them. */
function candidates(machines: MachineRecord[], store: LocalStore, except?: string): Placeable[] {
  return machines
    .filter(r => r.state === 'ready' && r.name !== except && store.hasMachine(r.name))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map(r => ({name: r.name, spread: spreadKey(r)}))
}

/**
 * `--kv-members` (auto by default): grows the cluster's own etcd to the size the machine count
 * allows, one member at a time. Returns the machines added. Never shrinks it.
 */
export async function followMembership(kv: Kv, env: MembershipEnv): Promise<string[]> {
  // An etcd of the user's is left alone, and not even locked.
  if (!kv.tls || !ownEtcd(kv, ...await Promise.all([listMembers(kv), listMachines(kv)]))) return []
  return withMembershipLock(kv, env.signal, () => growToTarget(kv, env))
}

async function growToTarget(kv: Kv, env: MembershipEnv): Promise<string[]> {
  const [settings, machines, members] = await Promise.all([readSettings(kv), listMachines(kv), listMembers(kv)])
  if (!ownEtcd(kv, members, machines)) return []
  const ready = machines.filter(r => r.state === 'ready')
  const target = targetMemberCount(settings.kvMembers ?? 'auto', ready.length)
  if (members.length >= target) return []
  const memberSpread = members.map(m => ({name: m.name, spread: spreadKey(machines.find(r => r.name === m.name)!)}))
  const picked = pickMembers(candidates(machines, env.store), memberSpread, target - members.length)
  // An even size tolerates no more failures than the odd one below it: grow only to the target.
  if (members.length + picked.length !== target) return []
  env.progress.step(`Growing the cluster's etcd to ${target} members (kv-members ${settings.kvMembers ?? 'auto'}): adding ${picked.join(', ')}`)
  for (const name of picked) await addMember(kv, name, env)
  return picked
}

/**
 * Before machine `name` leaves the cluster: if it runs an etcd member, another machine takes
 * its place first (when there is one), then it leaves the etcd, so quorum is never lost.
 * Returns false when `name` runs no member of the cluster's own etcd.
 */
export async function handOverMembership(kv: Kv, opts: KvOptions, name: string, env: MembershipEnv & {force: boolean}): Promise<boolean> {
  return withMembershipLock(kv, env.signal, () => handOver(kv, opts, name, env))
}

async function handOver(kv: Kv, opts: KvOptions, name: string, env: MembershipEnv & {force: boolean}): Promise<boolean> {
  const [machines, members] = await Promise.all([listMachines(kv), listMembers(kv)])
  if (!members.some(m => m.name === name) || !ownEtcd(kv, members, machines)) return false
  const memberSpread = members.filter(m => m.name !== name).map(m => ({name: m.name, spread: spreadKey(machines.find(r => r.name === m.name)!)}))
  const [replacement] = pickMembers(candidates(machines, env.store, name), memberSpread, 1)
  if (replacement) {
    env.progress.step(`${name} runs a member of the cluster's etcd: handing it to ${replacement} first`)
    await addMember(kv, replacement, env)
  } else if (members.length === 1) {
    throw new InputError(`machine "${name}" runs the only member of the cluster's etcd`,
      `removing it deletes every record of the cluster; create another machine first, or run \`cluster rm -f ${name}\``)
  }
  await removeMember(kv, opts, name, env)
  return true
}
