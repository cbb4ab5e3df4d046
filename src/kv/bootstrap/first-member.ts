/**
 * Zero setup: when no etcd is configured, the first machine `cluster create` makes becomes
 * the first member of the cluster's own etcd, secured exactly as `kv create` secures one
 * (peer TLS, client mutual TLS, RBAC with root held by this CLI). The local config then
 * names it, so every later command and every router uses it.
 *
 * A claim file in the store keeps two creates started together on an empty store from making
 * two etcds: the second is refused until the first has written the config.
 */
import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {ClusterError} from '../../../core/errors.js'
import type {MachineRecord} from '../../../core/model.js'
import type {SshConnection} from '../../ssh/client.js'
import {etcdRootFiles} from '../../tls/authorities.js'
import type {LocalStore} from '../../store/local.js'
import {kvCall, openKv, type Kv} from '../client.js'
import {clientUrl, memberOf, planMembers} from './plan.js'
import {prepareMember, refuseUsedMember, startMember} from './member.js'
import {enableRbac} from './rbac.js'
import {waitForLeader} from './wait.js'

const CLAIM_FILE = 'kv-first-member.json'

/** Takes the right to make the cluster's etcd for this store; released by the returned function. */
export function claimFirstMember(store: LocalStore, machine: string): () => void {
  const path = join(store.root, CLAIM_FILE)
  store.withLock(() => {
    const held = readClaim(path)
    if (held && held.pid !== process.pid && processAlive(held.pid)) {
      throw new ClusterError(`another create (of ${held.machine}) is making this cluster's etcd`,
        {hint: 'wait until it has finished, then run this create again'})
    }
    if (store.readConfig().kv?.endpoints.length) {
      throw new ClusterError('another create has just made this cluster\'s etcd', {hint: 'run this create again: it will use that etcd'})
    }
    writeFileSync(path, JSON.stringify({machine, pid: process.pid}) + '\n', {mode: 0o600})
  })
  return () => rmSync(path, {force: true})
}

function readClaim(path: string): {machine: string; pid: number} | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as {machine: string; pid: number}
  } catch {
    return undefined
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Makes `record`'s machine a one-member etcd and returns it opened with the root credentials.
 * The caller undoes the member (`cluster rm`'s path) if anything after this fails.
 */
export async function startFirstMember(conn: SshConnection, record: MachineRecord, o: {store: LocalStore; clusterName: string; signal: AbortSignal; step: (s: string) => void}): Promise<Kv> {
  const {store} = o
  const members = planMembers([memberOf(record)], 1)
  await refuseUsedMember(conn, record)
  const rootFiles = etcdRootFiles(store)
  await prepareMember(conn, record, members[0], members, {store, token: `${o.clusterName}-${randomBytes(6).toString('hex')}`, step: o.step})
  o.signal.throwIfAborted()
  await startMember(conn)
  const endpoints = members.map(clientUrl)
  const kv = await openKv({endpoints, ...rootFiles, clusterName: o.clusterName}, store)
  try {
    await waitForLeader(kv, 1, o.signal)
    await kvCall(kv, 'enabling authentication', () => enableRbac(kv.client))
  } catch (error) {
    kv.close()
    throw error
  }
  store.writeConfig({...store.readConfig(), clusterName: o.clusterName, kv: {endpoints, ...rootFiles}})
  return kv
}
