/**
 * How long a churn event takes to reach every router's answers, seen from outside: each
 * router's DNS server is asked for the name until its answer is right (a stopped container's
 * address gone, a started one's there).
 *
 * Wrong answers: a stopped container's address in an answer to a query sent more than
 * WRONG_AFTER_MS after the stop, while waiting for it to go, or in the one query each
 * router gets RECHECK_AT_MS after the stop (an address that went and came back).
 */
import type {ChurnEvent} from './schedule.js'
import type {Prober, Server} from './probe.js'
import {percentile} from '../scale/stats.js'

/** The target: a stopped container's address is gone everywhere within a second. */
export const WRONG_AFTER_MS = 1000
const RECHECK_AT_MS = 1200
/** How long a router gets before the event counts as never converged there. */
const DEADLINE_MS = 5000
const POLL_MS = 10
const PROBE_TIMEOUT_MS = 250

export interface Outcome {
  kind: ChurnEvent['kind']
  /** Ms from the event until the last router answered right; undefined when one did not within DEADLINE_MS. */
  convergedMs: number | undefined
  wrong: number
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))

/** Follows one event, which happened at `at` (performance.now()), on every router. */
export async function follow(prober: Prober, routers: readonly Server[], event: ChurnEvent, at: number, domain: string): Promise<Outcome> {
  const {kind, container} = event
  const fqdn = `${container.name}.${domain}`
  let wrong = 0
  const untilRight = async (router: Server): Promise<number | undefined> => {
    while (performance.now() - at < DEADLINE_MS) {
      const sent = performance.now()
      const answer = await prober.ask(router, fqdn, PROBE_TIMEOUT_MS)
      if (answer !== 'timeout') {
        const has = answer.includes(container.ip)
        if (kind === 'stop' && has && sent - at > WRONG_AFTER_MS) wrong++
        if (has === (kind === 'start')) return performance.now() - at
      }
      await sleep(POLL_MS)
    }
    return undefined
  }
  const recheck = async (router: Server): Promise<void> => {
    await sleep(at + RECHECK_AT_MS - performance.now())
    const answer = await prober.ask(router, fqdn, PROBE_TIMEOUT_MS)
    if (answer !== 'timeout' && answer.includes(container.ip)) wrong++
  }
  const times = await Promise.all(routers.map(async router => {
    const t = await untilRight(router)
    if (kind === 'stop' && t !== undefined) await recheck(router)
    return t
  }))
  const convergedMs = times.some(t => t === undefined) ? undefined : Math.max(...(times as number[]))
  return {kind, convergedMs, wrong}
}

export interface Summary {
  events: number
  /** Of the converged events, ms. */
  p50: number
  p95: number
  max: number
  /** Events some router had not got right after DEADLINE_MS. */
  unconverged: number
  wrong: number
}

/** Pure: the statistics of the outcomes of one kind. */
export function summarize(outcomes: readonly Outcome[], kind: ChurnEvent['kind']): Summary {
  const mine = outcomes.filter(o => o.kind === kind)
  const times = mine.flatMap(o => (o.convergedMs === undefined ? [] : [o.convergedMs]))
  return {
    events: mine.length,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    max: times.length === 0 ? NaN : Math.max(...times),
    unconverged: mine.length - times.length,
    wrong: mine.reduce((sum, o) => sum + o.wrong, 0),
  }
}
