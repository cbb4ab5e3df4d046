/**
 * What `cluster ui` draws, as a pure function of what etcd holds and what the routers
 * report: machines, the overlay links between them coloured by health, and each machine's
 * containers. The server computes it (src/ui/live.ts), sends the page only what changed
 * (diffView), and the page applies that (applyPatch); all three are pure, so the picture's
 * logic is unit-tested without a browser, etcd or SSH.
 */
import type {MachineRecord} from '../../core/model.js'
import type {DnsRecord} from '../../core/dns-records.js'
import type {PeerHealth} from '../metrics/scrape.js'

/** One router's view of one peer, as its metrics say (null: not reported). */
export type PeerObservation = PeerHealth

/** What the poller learnt from one machine's router (over SSH) at its last attempt. */
export interface RouterReport {
  /** The metrics could be read; false: no SSH, no router, or no answer in time. */
  answering: boolean
  error?: string
  /** Docker's server version on the machine, when known. */
  docker?: string
  peers: Record<string, PeerObservation>
}

/** A peer record as etcd holds it (peers/<name>), reduced to what the page shows. */
export interface PeerInfo {
  subnet: string
  endpoint: string
  backend: string
  /** False when its signature does not hold for the cluster key: routers ignore it. */
  trusted: boolean
}

export interface ClusterData {
  clusterName: string
  etcd: {up: boolean; since: string; error?: string}
  domain: string
  machines: MachineRecord[]
  peers: Record<string, PeerInfo>
  /** Container records (dns/<host>/<id>); static records (host '') are not containers. */
  containers: DnsRecord[]
  /** Names of the etcd members (the cluster's own etcd runs on machines of that name). */
  etcdMembers: string[]
}

export type Health = 'healthy' | 'slow' | 'broken' | 'unknown'

export interface ViewNode {
  id: string
  kind: 'machine' | 'container'
  label: string
  /** The machine a container runs on. */
  host?: string
  /** A machine's router: up (metrics answer) or unknown. */
  health?: 'up' | 'unknown'
  details: Record<string, string>
}

export interface ViewEdge {
  id: string
  source: string
  target: string
  health: Health
  label: string
  details: Record<string, string>
}

export interface View {
  clusterName: string
  etcd: {up: boolean; since: string; error?: string}
  nodes: ViewNode[]
  edges: ViewEdge[]
}

/** The difference between two views: what the page must add or change, and what it must drop. */
export interface ViewPatch {
  clusterName: string
  etcd: View['etcd']
  nodes: ViewNode[]
  edges: ViewEdge[]
  removed: string[]
}

/**
 * WireGuard drops a session whose last handshake is older than 180 s (REJECT_AFTER_TIME);
 * with the probe's traffic a working tunnel re-handshakes every 2 minutes.
 */
export const HANDSHAKE_STALE_SECONDS = 180
/** A round trip slower than this on the overlay is shown amber. */
export const SLOW_RTT_SECONDS = 0.2

export const machineId = (name: string): string => `m:${name}`
export const containerId = (host: string, id: string, name: string): string => `c:${host}/${id || name}`
/** One link per pair of machines, whichever side reports it. */
export function linkId(a: string, b: string): string {
  return a < b ? `l:${a}|${b}` : `l:${b}|${a}`
}

export function buildView(data: ClusterData, routers: Record<string, RouterReport | undefined>): View {
  const names = new Set(data.machines.map(m => m.name))
  const members = new Set(data.etcdMembers)
  const nodes: ViewNode[] = data.machines.map(m => machineNode(m, data, routers[m.name], members.has(m.name)))
  for (const c of data.containers) {
    if (c.host === '' || !names.has(c.host)) continue
    nodes.push({
      id: containerId(c.host, c.containerId, c.name),
      kind: 'container',
      label: c.name,
      host: c.host,
      details: {
        name: c.name, host: c.host, 'cluster IP': c.ip,
        'DNS names': [c.name, ...c.aliases].map(n => `${n}.${data.domain}`).join(', '),
        'container id': c.containerId.slice(0, 12),
      },
    })
  }
  // The overlay should be a full mesh of the ready machines (and of any other machine whose
  // router announced itself). A ready machine without a peer record has no router running
  // (its record lives on the router's etcd lease): its links are drawn, broken.
  const linked = data.machines.filter(m => m.state === 'ready' || data.peers[m.name] !== undefined).map(m => m.name)
  const edges: ViewEdge[] = []
  for (let i = 0; i < linked.length; i++) {
    for (let j = i + 1; j < linked.length; j++) edges.push(linkEdge(linked[i]!, linked[j]!, data.peers, routers))
  }
  return {clusterName: data.clusterName, etcd: data.etcd, nodes, edges}
}

function machineNode(m: MachineRecord, data: ClusterData, router: RouterReport | undefined, etcdMember: boolean): ViewNode {
  const peer = data.peers[m.name]
  return {
    id: machineId(m.name),
    kind: 'machine',
    label: m.name,
    health: router?.answering ? 'up' : 'unknown',
    details: {
      name: m.name,
      driver: m.driver,
      state: m.state + (m.error ? ` (${m.error})` : ''),
      'public address': m.addresses.public,
      'private address': m.addresses.private ?? '-',
      subnet: peer?.subnet ?? '-',
      overlay: peer ? `${peer.backend}, endpoint ${peer.endpoint}${peer.trusted ? '' : ' (signature does not hold: ignored by routers)'}` : 'no peer record (router not running)',
      docker: router?.docker ?? 'unknown',
      'swarm role': m.swarm?.role ?? '-',
      'etcd member': etcdMember ? 'yes' : 'no',
      router: router === undefined ? 'not polled yet' : router.answering ? 'answering metrics' : `unknown: ${router.error ?? 'no metrics'}`,
    },
  }
}

/**
 * A link's health from both ends' reports: broken when either end says its probe fails or
 * its handshake is stale; healthy (or slow) only when both ends answer and say so; unknown
 * otherwise, since a router that does not answer proves nothing either way.
 */
export function linkHealth(a: PeerObservation | undefined, b: PeerObservation | undefined): Health {
  const sides = [a, b].map(sideHealth)
  if (sides.includes('broken')) return 'broken'
  if (sides.includes('unknown')) return 'unknown'
  return sides.includes('slow') ? 'slow' : 'healthy'
}

function sideHealth(o: PeerObservation | undefined): Health {
  if (!o || o.probeUp === null) return 'unknown'
  if (!o.probeUp) return 'broken'
  if (o.handshakeAgeSeconds !== null && o.handshakeAgeSeconds > HANDSHAKE_STALE_SECONDS) return 'broken'
  return o.probeRttSeconds !== null && o.probeRttSeconds > SLOW_RTT_SECONDS ? 'slow' : 'healthy'
}

function linkEdge(a: string, b: string, peers: Record<string, PeerInfo>, routers: Record<string, RouterReport | undefined>): ViewEdge {
  const seen = (from: string, to: string) => (routers[from]?.answering ? routers[from]!.peers[to] : undefined)
  const ab = seen(a, b)
  const ba = seen(b, a)
  const unannounced = [a, b].filter(n => peers[n] === undefined)
  const health = unannounced.length > 0 ? 'broken' : linkHealth(ab, ba)
  const rtts = [ab, ba].flatMap(o => o?.probeUp && o.probeRttSeconds !== null ? [o.probeRttSeconds] : [])
  return {
    id: linkId(a, b),
    source: machineId(a),
    target: machineId(b),
    health,
    label: rtts.length ? `${(Math.max(...rtts) * 1000).toFixed(1)} ms` : '',
    details: {
      link: `${a} ↔ ${b}`, health,
      ...unannounced.length > 0 ? {why: `no peer record of ${unannounced.join(' and ')}: its router is not running`} : {},
      [`${a} → ${b}`]: describeSide(routers[a], ab), [`${b} → ${a}`]: describeSide(routers[b], ba),
    },
  }
}

function describeSide(router: RouterReport | undefined, o: PeerObservation | undefined): string {
  if (!router?.answering) return `unknown (router ${router?.error ?? 'not polled yet'})`
  if (!o) return 'unknown (the router reports no such peer)'
  const probe = o.probeUp === null ? 'no probe yet' : o.probeUp ? `probe up, rtt ${o.probeRttSeconds === null ? '?' : `${(o.probeRttSeconds * 1000).toFixed(1)} ms`}` : 'probe DOWN'
  const handshake = o.handshakeAgeSeconds === null ? '' : `, handshake ${Math.round(o.handshakeAgeSeconds)} s ago`
  const bytes = o.rxBytes === null ? '' : `, rx ${o.rxBytes} B, tx ${o.txBytes ?? '?'} B`
  return probe + handshake + bytes
}

/** Each element of a view by id, serialized: what the next diff compares against. */
export type ViewIndex = Map<string, string>

export function indexView(view: View | undefined): ViewIndex {
  return new Map([...view?.nodes ?? [], ...view?.edges ?? []].map(e => [e.id, JSON.stringify(e)]))
}

/** What changed from `prev` to `next` (everything, when there is no `prev`). */
export function diffView(prev: View | undefined, next: View): ViewPatch {
  return diffIndexed(indexView(prev), next).patch
}

/** diffView against an index kept from the last call, which serializes each element once per view. */
export function diffIndexed(before: ViewIndex, next: View): {patch: ViewPatch; index: ViewIndex} {
  const index: ViewIndex = new Map()
  const changed = <T extends {id: string}>(list: T[]) => list.filter(e => {
    const json = JSON.stringify(e)
    index.set(e.id, json)
    return before.get(e.id) !== json
  })
  const nodes = changed(next.nodes)
  const edges = changed(next.edges)
  return {
    patch: {clusterName: next.clusterName, etcd: next.etcd, nodes, edges, removed: [...before.keys()].filter(id => !index.has(id))},
    index,
  }
}

/** `view` with `patch` applied: what the page holds after each update. */
export function applyPatch(view: View | undefined, patch: ViewPatch): View {
  const drop = new Set(patch.removed)
  const merge = <T extends {id: string}>(old: T[], fresh: T[]) => {
    const byId = new Map(old.filter(e => !drop.has(e.id)).map(e => [e.id, e]))
    for (const e of fresh) byId.set(e.id, e)
    return [...byId.values()]
  }
  return {
    clusterName: patch.clusterName,
    etcd: patch.etcd,
    nodes: merge(view?.nodes ?? [], patch.nodes),
    edges: merge(view?.edges ?? [], patch.edges),
  }
}

export function isEmptyPatch(p: ViewPatch, prev: View | undefined): boolean {
  return p.nodes.length === 0 && p.edges.length === 0 && p.removed.length === 0 && JSON.stringify(p.etcd) === JSON.stringify(prev?.etcd)
}
