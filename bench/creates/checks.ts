/**
 * The pure verdicts of the creates bench: what a burst of concurrent `cluster create`
 * processes must leave behind, judged from what the bench read back (etcd, the store, the
 * simulator, the routers). Each check is one named line of the table, ok or not, with why.
 */
import {overlaps, parseIPv4Cidr} from '../../core/ipv4.js'

export interface Check {
  what: string
  ok: boolean
  detail: string
}

/** What one `cluster create` process did. */
export interface CreateRun {
  name: string
  code: number | null
  /** From the common start to the process's exit. */
  seconds: number
  /** Its last stderr line: the error line of a failed create. */
  lastLine: string
}

const check = (what: string, ok: boolean, detail: string): Check => ({what, ok, detail})

/** Names that occur more than once. */
function duplicates(names: string[]): string[] {
  const seen = new Set<string>()
  return [...new Set(names.filter(n => seen.has(n) || !seen.add(n)))]
}

/** The same name set in every source (store folders, etcd records, droplets), each name once. */
export function namesUnique(sources: Record<string, string[]>, expected: string[]): Check {
  const want = [...expected].sort().join(',')
  const wrong = Object.entries(sources).flatMap(([source, names]) => {
    const dup = duplicates(names)
    if (dup.length > 0) return [`${source} holds ${dup.join(',')} more than once`]
    return [...names].sort().join(',') === want ? [] : [`${source} holds {${[...names].sort().join(',')}}`]
  })
  return check('names unique (store, etcd, droplets)', wrong.length === 0,
    wrong.length === 0 ? `${expected.length} names, the same in ${Object.keys(sources).join(', ')}` : `expected {${want}}; ${wrong.join('; ')}`)
}

/**
 * Each machine holds exactly one subnet lease, no two leases overlap, and each router
 * serves the subnet etcd gave its machine (`routerSubnets`: name → the router's status).
 */
export function subnetsDistinct(leases: Map<string, string>, machines: string[], routerSubnets: Map<string, string>): Check {
  const problems: string[] = []
  const byOwner = new Map<string, string[]>()
  for (const [cidr, owner] of leases) byOwner.set(owner, [...(byOwner.get(owner) ?? []), cidr])
  for (const name of machines) {
    const held = byOwner.get(name) ?? []
    if (held.length !== 1) problems.push(`${name} holds ${held.length} leases (${held.join(',')})`)
    else if (routerSubnets.get(name) !== held[0]) problems.push(`${name}'s router serves ${routerSubnets.get(name) ?? 'nothing'}, etcd says ${held[0]}`)
  }
  for (const owner of byOwner.keys()) if (!machines.includes(owner)) problems.push(`a lease is held by ${owner}, which is no machine`)
  const cidrs = [...leases.keys()]
  for (let i = 0; i < cidrs.length; i++) {
    for (let j = i + 1; j < cidrs.length; j++) {
      if (overlaps(parseIPv4Cidr(cidrs[i]!)!, parseIPv4Cidr(cidrs[j]!)!)) problems.push(`${cidrs[i]} overlaps ${cidrs[j]}`)
    }
  }
  return check('subnets distinct, non-overlapping, served', problems.length === 0,
    problems.length === 0 ? `${leases.size} leases, one per machine, each served by its router` : problems.join('; '))
}

/**
 * Of several creates of one name, exactly one succeeds and every other fails with one
 * line saying the name exists; nothing of theirs is left (`copies`: how many of each
 * resource the name has: droplets, SSH keys, etcd records, store folders; 1 each).
 */
export function sameNameRace(runs: CreateRun[], copies: Record<string, number>): Check {
  const winners = runs.filter(r => r.code === 0)
  const losers = runs.filter(r => r.code !== 0)
  const unclear = losers.filter(r => !/already exists/.test(r.lastLine))
  const extra = Object.entries(copies).filter(([, n]) => n !== 1).map(([what, n]) => `${n} ${what}`)
  const ok = runs.length > 1 && winners.length === 1 && unclear.length === 0 && extra.length === 0
  const detail = [`${winners.length} of ${runs.length} won`,
    ...losers.map(r => `exit ${r.code}: ${r.lastLine}`),
    ...(extra.length > 0 ? [`left: ${extra.join(', ')}`] : [`one droplet, key, etcd record and store folder`])]
  return check(`${runs.length} creates of one name`, ok, detail.join('; '))
}

/** Nothing of the machines is left after `cluster rm`: every count is 0. */
export function nothingLeft(counts: Record<string, number>): Check {
  const left = Object.entries(counts).filter(([, n]) => n !== 0)
  return check('nothing left after rm -f -y', left.length === 0,
    left.length === 0 ? `0 ${Object.keys(counts).join(', 0 ')}` : left.map(([what, n]) => `${n} ${what}`).join(', '))
}

/** What the bench found of one machine after its create exited. */
export interface Outcome {
  run: CreateRun
  /** Its engine answered `cluster version NAME` over TLS. */
  dockerAnswers: boolean
  /** Its router's status file says it is connected to etcd. */
  routerUp: boolean
  /** What is left of it: droplets, etcd records, subnet leases, store folders by that name. */
  traces: Record<string, number>
}

/** Every create exited 0 and is ready, or exited non-zero and left no trace; none hung. */
export function readyOrRolledBack(outcomes: Outcome[]): Check {
  const wrong = outcomes.flatMap(({run, dockerAnswers, routerUp, traces}) => {
    if (run.code === null) return [`${run.name} did not exit in time`]
    if (run.code === 0) {
      return dockerAnswers && routerUp ? [] : [`${run.name} exited 0 but ${dockerAnswers ? '' : 'docker does not answer '}${routerUp ? '' : 'its router is not up'}`.trim()]
    }
    const left = Object.entries(traces).filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`)
    return left.length === 0 ? [] : [`${run.name} failed (${run.lastLine}) and left ${left.join(', ')}`]
  })
  const ready = outcomes.filter(o => o.run.code === 0).length
  return check('each ready or cleanly rolled back', wrong.length === 0,
    wrong.length === 0 ? `${ready} ready, ${outcomes.length - ready} rolled back` : wrong.join('; '))
}
