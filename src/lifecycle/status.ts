/**
 * The live state of machines for `ls` and `status`: every machine is checked at once, each
 * bounded by the same timeout, so 200 machines take about as long as the slowest one and a
 * dead host shows a state instead of hanging the listing.
 */
import type {MachineState} from '../../drivers/sdk/driver.js'
import type {MachineRecord, MachineStatus} from '../../core/model.js'
import {LocalStore} from '../store/local.js'
import {machineFrom} from './machine.js'
import {pingEngine} from '../docker.js'

export interface CheckOptions {
  store: LocalStore
  timeoutMs: number
  /** DOCKER_HOST of the caller, to mark the active machine. */
  dockerHost?: string
}

export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout
  const t = new Promise<T>(resolve => { timer = setTimeout(() => resolve(onTimeout()), ms) })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

/**
 * An engine that answers over TLS is Running, whatever the driver would say. The driver
 * (a cloud API, or an SSH port probe) is asked only when the engine has not answered
 * within a third of the budget, so `ls` costs one connection per healthy machine and a
 * stopped machine (whose address swallows packets) still shows Stopped, not Timeout.
 */
export async function checkMachine(record: MachineRecord, o: CheckOptions): Promise<MachineStatus> {
  const errors: string[] = []
  const engine = record.state === 'ready'
    ? pingEngine(record.dockerUrl, o.store, o.timeoutMs).then(p => p.version).catch((error: Error) => { errors.push(`Docker: ${error.message}`); return undefined })
    : Promise.resolve(undefined)
  const driverState = async (): Promise<MachineState> => {
    try {
      const local = o.store.hasMachine(record.name) ? o.store.getMachine(record.name) : undefined
      return await (await machineFrom(o.store, record, local)).driver.state()
    } catch (error) {
      errors.push((error as Error).message)
      return 'Error'
    }
  }
  const live = async (): Promise<[MachineState, string]> => {
    const early = await withTimeout(engine, Math.min(3000, o.timeoutMs / 3), () => null)
    if (early) return ['Running', early]
    const [version, state] = await Promise.all([engine, driverState()])
    return version ? ['Running', version] : [state, 'Unknown']
  }
  const [liveState, docker] = await withTimeout(live(), o.timeoutMs, () => {
    errors.push(`no answer within ${o.timeoutMs / 1000}s`)
    return ['Timeout', 'Unknown'] as [MachineState, string]
  })
  if (record.state === 'error') errors.unshift(`create failed: ${record.error ?? 'unknown'}; run \`cluster rm -f ${record.name}\``)
  const state = record.state === 'creating' && liveState === 'Running' ? 'Starting' : liveState
  return {
    name: record.name,
    active: !!o.dockerHost && o.dockerHost === record.dockerUrl,
    driver: record.driver,
    state,
    url: state === 'Running' ? record.dockerUrl : '',
    swarm: swarmColumn(record),
    docker,
    errors: errors.join('; '),
  }
}

export function swarmColumn(r: MachineRecord): string {
  if (!r.swarm) return ''
  if (r.swarm.role === 'master') return `${r.name} (master)`
  if (r.swarm.role === 'manager') return `${r.swarm.master ?? r.name} (manager)`
  return r.swarm.master ?? ''
}

export function checkMachines(records: MachineRecord[], o: CheckOptions): Promise<MachineStatus[]> {
  return Promise.all(records.map(r => checkMachine(r, o)))
}
