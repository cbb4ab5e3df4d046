/**
 * `provision` and `regenerate-certs`: run the host setup again on an existing machine.
 * Every step of setupHost is idempotent; the subnet and keys the host has are kept.
 */
import {openKv, type KvOptions} from '../kv/client.js'
import {findMachine, putMachine, readSettings} from '../kv/machines.js'
import {trustedRecord} from './trust.js'
import {LocalStore} from '../store/local.js'
import type {Progress} from '../cli/progress.js'
import type {MachineRecord} from '../../core/model.js'
import {machineFrom} from './machine.js'
import {setupHost} from './setup-host.js'
import {connectToMachine} from '../ssh/connect-machine.js'
import {rmSync} from 'node:fs'
import {join} from 'node:path'

export interface ReprovisionOptions {
  store: LocalStore
  kv: KvOptions
  progress: Progress
  signal: AbortSignal
  /** Ask the driver for the machine's addresses again (they go into the certificate's SANs). */
  refreshAddresses?: boolean
  /** Trust the host key the machine presents now (after a rebuild). */
  acceptHostKey?: boolean
  /** Put this store's pinned copy back over an etcd record that differs from it (or is not one). */
  restoreRecord?: boolean
}

export async function reprovision(name: string, o: ReprovisionOptions): Promise<MachineRecord> {
  const kv = await openKv(o.kv, o.store)
  try {
    const local = o.store.getMachine(name)
    // etcd's record is only compared with the pinned copy, never trusted over it (trust.ts).
    const record = o.restoreRecord ? local.record : trustedRecord(o.store, name, await findMachine(kv, name)).record
    if (o.restoreRecord) o.progress.step(`Putting this store's copy of ${name} back into etcd`)
    const settings = await readSettings(kv)
    const machine = await machineFrom(o.store, record, local, {progress: o.progress, signal: o.signal})
    if (o.refreshAddresses) {
      const addresses = await machine.driver.addresses()
      if (addresses.public !== record.addresses.public) o.progress.step(`Address changed: ${record.addresses.public} → ${addresses.public}`)
      record.addresses = addresses
      record.dockerUrl = `tcp://${addresses.public}:2376`
    }
    if (o.acceptHostKey) {
      o.progress.step('Forgetting the pinned SSH host key; the key presented now will be pinned')
      record.hostKey = undefined
      rmSync(join(o.store.machineDir(name), 'known_hosts'), {force: true})
    }
    const conn = await connectToMachine(o.store, record, machine.driver.ssh(), {signal: o.signal, waitMs: 30_000, progress: o.progress})
    try {
      await setupHost({store: o.store, kv, settings, record, conn, progress: o.progress, signal: o.signal})
    } finally {
      conn.close()
    }
    record.state = 'ready'
    delete record.error
    o.store.saveMachine({...local, record})
    await putMachine(kv, record)
    o.progress.step(`${name} provisioned`)
    return record
  } finally {
    kv.close()
  }
}
