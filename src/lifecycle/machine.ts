/** Loading a machine for a command: its record, its folder, and its driver. */
import {userInfo, hostname} from 'node:os'
import {join} from 'node:path'
import type {Driver, DriverContext, DriverData} from '../../drivers/sdk/driver.js'
import {getDriver} from '../drivers/registry.js'
import {LocalStore, type LocalMachine} from '../store/local.js'
import type {MachineRecord} from '../../core/model.js'
import {silentProgress, type Progress} from '../cli/progress.js'

export interface Machine {
  record: MachineRecord
  dir: string
  driver: Driver
}

export interface OpenOptions {
  progress?: Progress
  signal?: AbortSignal
  /** Called when the driver persists new state (after each resource it makes). */
  onSave?: (data: DriverData) => Promise<void>
}

export function driverContext(store: LocalStore, name: string, hostKey: string | undefined, o: OpenOptions): DriverContext {
  return {
    machineName: name,
    machineDir: store.machineDir(name),
    cacheDir: join(store.root, 'cache'),
    progress: (o.progress ?? silentProgress).step,
    save: async data => { await o.onSave?.(data) },
    signal: o.signal ?? new AbortController().signal,
    sshExec: async (target, command) => {
      const {connectSsh} = await import('../ssh/client.js')
      const conn = await connectSsh({...target, pinnedHostKey: hostKey, machineName: name})
      try {
        await conn.exec(command)
      } finally {
        conn.close()
      }
    },
  }
}

/** A machine of the local store, with its local-only driver secrets. */
export async function openLocalMachine(store: LocalStore, name: string, o: OpenOptions = {}): Promise<Machine> {
  const local = store.getMachine(name)
  return machineFrom(store, local.record, local, o)
}

/** A machine known from etcd (perhaps created by someone else): no local secrets. */
export async function machineFrom(store: LocalStore, record: MachineRecord, local: LocalMachine | undefined, o: OpenOptions = {}): Promise<Machine> {
  const factory = await getDriver(record.driver)
  const data: DriverData = {...record.driverData, ...(local?.localDriverData ? {secret: local.localDriverData} : {})}
  const driver = factory.load(data, driverContext(store, record.name, record.hostKey, o))
  return {record, dir: store.machineDir(record.name), driver}
}

/** Splits driver data into what etcd may hold and what stays local. */
export function splitDriverData(data: DriverData): {shared: DriverData; secret?: Record<string, unknown>} {
  const {secret, ...shared} = data
  return {shared, secret}
}

export function whoAmI(): string {
  return `${userInfo().username}@${hostname()}`
}
