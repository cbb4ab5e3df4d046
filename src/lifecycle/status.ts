/**
 * The live state of machines for `ls` and `status`: every machine is checked at once, each
 * bounded by the same timeout, so 200 machines take about as long as the slowest one and a
 * dead host shows a state instead of hanging the listing.
 */
import type {MachineState} from '../../drivers/driver.js'
import type {MachineRecord, MachineStatus} from '../model.js'
import {LocalStore} from '../store/local.js'
import {machineFrom} from './machine.js'
import {dockerVersion} from '../docker.js'

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

export async function checkMachine(record: MachineRecord, o: CheckOptions): Promise<MachineStatus> {
  const errors: string[] = []
  let state: MachineState = 'Unknown'
  let docker = 'Unknown'
  const local = o.store.hasMachine(record.name) ? o.store.getMachine(record.name) : undefined
  const stateP = machineFrom(o.store, record, local)
    .then(m => m.driver.state())
    .catch((e: Error) => { errors.push(e.message); return 'Error' as MachineState })
  const dockerP = record.state === 'ready'
    ? dockerVersion(record.dockerUrl, o.store, o.timeoutMs).catch((e: Error) => { errors.push(e.message); return undefined })
    : Promise.resolve(undefined)
  ;[state, docker] = await withTimeout(Promise.all([stateP, dockerP.then(v => v ?? 'Unknown')]), o.timeoutMs, () => {
    errors.push(`no answer within ${o.timeoutMs / 1000}s`)
    return ['Timeout' as MachineState, 'Unknown']
  })
  if (record.state === 'error') errors.unshift(`create failed: ${record.error ?? 'unknown'}; run \`cluster rm -f ${record.name}\``)
  if (record.state === 'creating') state = state === 'Running' ? 'Starting' : state
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
