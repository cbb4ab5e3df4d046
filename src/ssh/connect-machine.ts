/**
 * First contact and every later one: reach a machine over SSH, pinning its host key on
 * first contact; a password-only machine gets a fresh key, and the password is used once.
 */
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import type {SshTarget} from '../../drivers/sdk/index.js'
import {connectSsh, waitForSsh, type SshConnection} from './client.js'
import {installAuthorizedKey} from './keys.js'
import {ensureKeyPair} from '../../drivers/sdk/index.js'
import {knownHostsLine} from './external.js'
import {writeFileSafe} from '../../core/files.js'
import type {LocalStore} from '../store/local.js'
import type {MachineRecord} from '../../core/model.js'
import type {Progress} from '../cli/progress.js'

export interface ConnectOptions {
  signal: AbortSignal
  waitMs: number
  progress: Progress
}

/**
 * Reaches the machine, pinning its host key on first contact. A password-only machine gets
 * a fresh key installed, and we prove the key works before forgetting the password.
 */
export async function connectToMachine(store: LocalStore, record: MachineRecord, target: SshTarget, o: ConnectOptions): Promise<SshConnection> {
  const dir = store.machineDir(record.name)
  const conn = await waitForSsh({...target, pinnedHostKey: record.hostKey, machineName: record.name, signal: o.signal}, o.waitMs)
  if (!record.hostKey) {
    record.hostKey = conn.hostKey
    writeFileSafe(join(dir, 'known_hosts'), knownHostsLine(target.host, target.port, conn.hostKey) + '\n', 0o600)
  }
  if (target.privateKeyPath && existsSync(target.privateKeyPath)) return conn
  o.progress.step('Installing a fresh SSH key (password login is used only this once)')
  const pair = await ensureKeyPair(dir, `cluster-${record.name}`)
  try {
    await installAuthorizedKey(conn, pair.publicKey)
  } finally {
    conn.close()
  }
  return connectSsh({...target, password: undefined, privateKeyPath: pair.privateKeyPath, pinnedHostKey: record.hostKey, machineName: record.name, signal: o.signal})
}
