/**
 * The churn of bench/dns-churn: which container stops or starts next. Pure and deterministic,
 * so a run can be repeated and the schedule unit-tested.
 *
 * Every record of bench/dns/records.ts is one container, replica k of name n on host
 * (n + k) mod HOSTS, so a name's replicas sit on different hosts. Events alternate: a stop,
 * then a start. Stops walk through the containers with a stride coprime to their count (so
 * consecutive stops hit different names and hosts, and each container is stopped once before
 * any is stopped twice); a start brings back the name stopped `restartAfter` pairs earlier as
 * a new container (new id) with a new address from 198.19.128.0/17, one no record of
 * bench/dns ever had, so a stale answer can always be told from a fresh one.
 */
import {createHash} from 'node:crypto'
import type {ServiceRecord} from '../dns/records.js'

export interface Container {
  /** Which of the schedule's records (slots) this container fills. */
  slot: number
  name: string
  ip: string
  /** Index of the host it runs on. */
  host: number
  /** A Docker-like id: 64 hex digits. */
  id: string
}

export type ChurnEvent = {kind: 'stop' | 'start'; container: Container}

/** Addresses handed to restarted containers: 198.19.128.1 onwards. */
const POOL_BASE = 128 << 8
const POOL_SIZE = (128 << 8) - 1
const STRIDE = 7919

export class ChurnSchedule {
  private readonly running: Array<Container | undefined>
  private readonly stride: number
  private readonly stopped: Container[] = []
  private pairs = 0
  private starts = 0
  private nextIsStop = true

  constructor(private readonly records: readonly ServiceRecord[], private readonly hosts: number, private readonly restartAfter: number) {
    if (records.some(r => Number(r.ip.split('.')[2]) >= 128)) throw new Error('the records reach 198.19.128.0/17, where restarted containers get their addresses (at most 7 addresses per name)')
    if (!Number.isInteger(hosts) || hosts < 1) throw new Error(`hosts must be a positive integer, not ${hosts}`)
    if (!Number.isInteger(restartAfter) || restartAfter < 0 || restartAfter >= records.length) throw new Error(`restartAfter must be 0-${records.length - 1} pairs, not ${restartAfter}`)
    this.running = records.map((r, slot) => ({slot, name: r.name, ip: r.ip, host: (r.index + r.replica) % hosts, id: containerId(slot, 0)}))
    this.stride = coprimeStride(records.length)
  }

  /** Every container before the churn starts. */
  initial(): Container[] {
    return this.running.filter((c): c is Container => c !== undefined)
  }

  /** The next event; undefined for a start while no stop is `restartAfter` pairs old yet (the first pairs of a run). */
  next(): ChurnEvent | undefined {
    const stop = this.nextIsStop
    this.nextIsStop = !stop
    return stop ? this.stop() : this.start()
  }

  private stop(): ChurnEvent {
    // The stride visits every slot once per `records.length` pairs; a slot it reaches has been restarted since.
    const slot = (this.pairs * this.stride) % this.records.length
    this.pairs++
    const container = this.running[slot]
    if (!container) throw new Error(`slot ${slot} is stopped twice (restartAfter too large)`)
    this.running[slot] = undefined
    this.stopped.push(container)
    return {kind: 'stop', container}
  }

  private start(): ChurnEvent | undefined {
    if (this.stopped.length <= this.restartAfter) return undefined
    const old = this.stopped.shift()!
    if (this.starts >= POOL_SIZE) throw new Error(`more than ${POOL_SIZE} restarts: 198.19.128.0/17 is used up`)
    const n = POOL_BASE + ++this.starts
    const container = {...old, ip: `198.19.${n >> 8}.${n & 255}`, id: containerId(old.slot, this.starts)}
    this.running[old.slot] = container
    return {kind: 'start', container}
  }
}

function containerId(slot: number, generation: number): string {
  return createHash('sha256').update(`${slot}/${generation}`).digest('hex')
}

function coprimeStride(n: number): number {
  let stride = STRIDE % n || 1
  while (gcd(stride, n) !== 1) stride++
  return stride
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}
