/**
 * `cluster rm`, also the rollback of a failed create. Order matters: undo our setup on the
 * host while we still hold its SSH key, let the driver destroy what it made, then free the
 * machine's etcd keys (subnet, peer and DNS records, the record itself), and the local
 * folder last. Each step tolerates "already gone", so `rm` can always be run again.
 * With `force`, failures of the host and driver steps are reported but do not stop the
 * local and etcd clean-up (Docker Machine's `rm -f`).
 */
import {getDriver} from '../drivers/registry.js'
import {ClusterError, InputError, describeCause} from '../../core/errors.js'
import {kvConfigured, openKv, kvCall, type KvOptions, type Kv} from '../kv/client.js'
import {deleteMachine, findMachine} from '../kv/machines.js'
import type {MachineRecord} from '../../core/model.js'
import {LocalStore} from '../store/local.js'
import {loadSigningKey, signRevocation} from '../signing.js'
import {addRevocation, saveMembership, syncMembership} from '../store/membership.js'
import type {Progress} from '../cli/progress.js'
import {machineFrom} from './machine.js'
import {trustedRecord, type Trusted} from './trust.js'
import {teardownHost} from './setup-host.js'

export interface RemoveOptions {
  store: LocalStore
  progress: Progress
  kv: KvOptions
  force: boolean
  signal: AbortSignal
  /** A create being rolled back made the cluster's etcd on this machine: it may go with it. */
  dropStore?: boolean
}

export async function removeMachine(name: string, o: RemoveOptions): Promise<void> {
  // No etcd configured: only a machine whose create failed before it made the cluster's etcd.
  let kv = kvConfigured(o.kv, o.store) ? await openKv(o.kv, o.store) : undefined
  try {
    let shared: MachineRecord | undefined
    try {
      if (kv) shared = await findMachine(kv, name)
    } catch (error) {
      if (!o.force) throw error
      o.progress.step(`cannot read the etcd record (${describeCause(error)}); going on with this store's copy`)
    }
    // SSH and the driver act on the pinned copy only, never on an etcd record that differs (trust.ts).
    let trusted: Trusted | undefined
    try {
      trusted = trustedRecord(o.store, name, shared)
    } catch (error) {
      const local = o.store.hasMachine(name) ? o.store.getMachine(name) : undefined
      // A create killed between saving this store's copy and etcd's (in that order) leaves
      // etcd one step behind: the store's copy is the one to undo, as -f would.
      if (!o.force && local?.record.state !== 'creating') throw error
      trusted = local && {record: local.record, local}
      o.progress.step(`${describeCause(error)}; ${local ? "going on with this store's copy" : 'removing its etcd records only'}`)
    }
    if (!trusted) {
      const only = kv
      if (!only || await kvCall(only, `read machine ${name}`, () => only.client.get(only.layout.machine(name)).string()) === null) {
        throw new ClusterError(`machine "${name}" does not exist`, {hint: 'run `cluster ls` to see machine names'})
      }
      await forgetInEtcd(only, name, o.store)
      o.store.removeMachine(name)
      return
    }
    const {record, local} = trusted
    const members = kv?.tls ? await etcdMembers(kv, o.force) : []
    const lastMember = members.length === 1 && members[0].name === name
    // The last member goes with its machine only when a rolled-back create made it, or with -f.
    let dropsStore = lastMember && Boolean(o.dropStore)
    if (kv && members.some(m => m.name === name) && !dropsStore) {
      const {handOverMembership} = await import('../kv/bootstrap/membership.js')
      try {
        await handOverMembership(kv, o.kv, name, {store: o.store, progress: o.progress, signal: o.signal, force: o.force})
      } catch (error) {
        if (!o.force) throw error
        o.progress.step(`handing over its etcd membership failed (${error instanceof ClusterError ? error.oneLine() : describeCause(error)}); continuing because of --force`)
        dropsStore = lastMember
      }
      // The config names the members left: talk to them from now on.
      kv.close()
      kv = await openKv(o.kv, o.store)
    }
    const failures: string[] = []
    const attempt = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn()
      } catch (error) {
        // A refusal (the swarm's last manager) is the answer itself, not a failed step.
        if (!o.force && error instanceof InputError) throw error
        const msg = error instanceof ClusterError ? error.oneLine() : describeCause(error)
        if (!o.force) throw new ClusterError(`${what} of ${name} failed: ${msg}`, {hint: `retry, or run \`cluster rm -f ${name}\` to remove the record anyway`, cause: error})
        failures.push(`${what}: ${msg}`)
        o.progress.step(`${what} failed (${msg}); continuing because of --force`)
      }
    }
    const machine = await machineFrom(o.store, record, local, {progress: o.progress, signal: o.signal})
    const factory = await getDriver(record.driver)
    const open = kv
    if (record.swarm && open) {
      const {leaveSwarm} = await import('../swarm/leave.js')
      await attempt('leaving the swarm', () => leaveSwarm({kv: open, store: o.store, record: record, force: o.force, progress: o.progress}))
    }
    if (factory.adopts && record.hostKey && local) {
      await attempt('undoing the host setup', () => teardownHost(o.store, record, machine.driver.ssh(), o.progress))
    }
    o.progress.step(`Removing machine with driver ${record.driver}`)
    await attempt('driver removal', () => machine.driver.remove())
    // The last member takes the cluster's etcd with it: there is nothing left to clean there.
    if (open && !dropsStore) {
      o.progress.step('Removing etcd records')
      await attempt('etcd clean-up', () => forgetInEtcd(open, name, o.store))
    }
    o.store.removeMachine(name)
    if (dropsStore) forgetStoreEtcd(o.store, o.progress)
    if (failures.length) o.progress.step(`Removed ${name} with --force; not cleaned: ${failures.join('; ')}`)
  } finally {
    kv?.close()
  }
}

/** The members of a TLS etcd (the cluster's own, or any TLS one: empty when it is not ours to list). */
async function etcdMembers(kv: Kv, force: boolean): Promise<{name: string}[]> {
  try {
    return (await kvCall(kv, 'list the etcd members', () => kv.client.cluster.memberList({}))).members
  } catch (error) {
    if (force) return []
    throw error
  }
}

/** The local config forgets an etcd that no longer exists; the next create makes a new one. */
function forgetStoreEtcd(store: LocalStore, progress: Progress): void {
  const {kv, ...rest} = store.readConfig()
  if (!kv) return
  store.writeConfig(rest)
  progress.step(`The cluster's etcd (${kv.endpoints.join(',')}) is gone with its last member; config.json no longer names it`)
}

/**
 * Everything etcd holds for a machine: its subnet lease, peer and DNS records, the record.
 * A machine that joined the overlay leaves a signed revocation of its peer records behind
 * (src/membership.ts), so a copy of its old record written back into etcd brings nothing back.
 */
export async function forgetInEtcd(kv: Kv, name: string, store: LocalStore): Promise<void> {
  const {listSubnets, releaseSubnet} = await import('../ipam.js')
  const signing = loadSigningKey(store.root)
  // A subnet is taken before a record is ever signed: without one there is nothing to revoke.
  const joined = await kvCall(kv, `read the subnet of ${name}`, async () => [...(await listSubnets(kv.client, kv.layout)).values()].includes(name))
  if (signing && joined) {
    // The store keeps it too: etcd losing it later must not let a new router believe the old record.
    const membership = await syncMembership(kv, store.root, signing.publicKey)
    // Up to now, and at least up to the newest record of the name (signed by a clock ahead of ours).
    const before = Math.max(Date.now(), Date.parse(membership.newest.get(name) ?? '1970-01-01T00:00:00Z'))
    const revocation = signRevocation(name, new Date(before), signing.secretKey)
    addRevocation(membership, revocation, signing.publicKey)
    saveMembership(store.root, membership)
    await kvCall(kv, `revoke the overlay record of ${name}`, () => kv.client.put(kv.layout.revocation(name)).value(JSON.stringify(revocation)).exec())
  }
  await kvCall(kv, `release the subnet of ${name}`, () => releaseSubnet(kv.client, kv.layout, name))
  await kvCall(kv, `delete peer and DNS records of ${name}`, async () => {
    await kv.client.delete().key(kv.layout.peer(name)).exec()
    await kv.client.delete().prefix(kv.layout.dnsHost(name)).exec()
  })
  if (kv.tls) {
    const {removeHostAccess} = await import('../kv/bootstrap/rbac.js')
    await kvCall(kv, `remove the etcd user of ${name}`, () => removeHostAccess(kv.client, name))
  }
  await deleteMachine(kv, name)
}
