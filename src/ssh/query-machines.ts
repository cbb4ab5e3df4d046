/** One query over SSH on many machines at once, each bounded in time. */
import {connectSsh, type SshConnection} from './client.js'
import {ClusterError, NotFoundError} from '../../core/errors.js'
import type {LocalStore} from '../store/local.js'
import {openLocalMachine} from '../lifecycle/machine.js'
import {trustedRecord} from '../lifecycle/trust.js'
import {withTimeout} from '../lifecycle/status.js'
import type {MachineRecord} from '../../core/model.js'

export interface PerMachine<T> {
  machine: string
  value?: T
  error?: string
}

/** An SSH connection to the machine, with the host key this store pinned for it. */
export async function connectMachineSsh(store: LocalStore, record: MachineRecord, timeoutMs: number): Promise<SshConnection> {
  if (!store.hasMachine(record.name)) throw new NotFoundError(`no SSH key for it in this store (${store.root})`)
  const pinned = trustedRecord(store, record.name, record).local!.record
  const machine = await openLocalMachine(store, record.name)
  return connectSsh({...machine.driver.ssh(), pinnedHostKey: pinned.hostKey, machineName: record.name, timeoutMs})
}

/** A failure as one line for a table or a page. */
export function errorLine(error: unknown): string {
  return error instanceof ClusterError ? error.oneLine() : (error as Error).message
}

/**
 * Runs `query` over SSH on every machine at once, each bounded by `timeoutMs`: a dead or
 * unknown machine shows its error instead of holding up (or failing) the rest.
 */
export async function queryMachines<T>(store: LocalStore, records: MachineRecord[], timeoutMs: number,
  query: (conn: SshConnection) => Promise<T>): Promise<Array<PerMachine<T>>> {
  return Promise.all(records.map(async record => {
    const attempt = (async (): Promise<PerMachine<T>> => {
      const conn = await connectMachineSsh(store, record, timeoutMs)
      try {
        return {machine: record.name, value: await query(conn)}
      } finally {
        conn.close()
      }
    })().catch((error: unknown) => ({machine: record.name, error: errorLine(error)}))
    return withTimeout(attempt, timeoutMs, () => ({machine: record.name, error: `no answer within ${timeoutMs / 1000} s`}))
  }))
}
