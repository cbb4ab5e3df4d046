/**
 * The scale bench: N real routers (dist/router.cjs, started as the systemd unit starts it,
 * `publishContainers: false`), each in its own network namespace on one bridge, against one
 * etcd on this machine, issued exactly as `cluster create` issues them (cluster init, IPAM
 * lease, signed peer record, router.json: src/lifecycle/overlay.ts) and removed as `cluster
 * rm` removes them (router stopped and torn down, then forgetInEtcd). The cluster grows
 * through each N in batches; at each N, rounds of one leave and one join measure:
 *   join:  the joining router's start until every router's status lists every other router;
 *   leave: rm's etcd step until no router lists the removed one;
 *   etcd gRPC messages per router during a join, and while idle (with its watchers);
 *   CPU of every other router per membership change (half a round of one leave and one join);
 *   idle CPU (children included) and RSS per router, and RSS over an idle node started the
 *   same way (same namespace set-up, unit flags and environment) in the same run.
 * Every N ends with a check of the datapath itself: each namespace holds a route to every
 * other host's subnet (vxlan, host-gw). Needs root, /usr/bin/etcd, and wireguard-go for
 * the wireguard backend. Addresses: 198.18.16.0/22 only (bench/scale/hosts.ts).
 *
 *   node dist/bench/scale/bench.js
 *   env: SCALE_BACKEND (vxlan), SCALE_N ("10 25 50 100"), SCALE_ROUNDS (8), SCALE_IDLE_S (20),
 *        SCALE_BATCH (10), SCALE_OUT (bench/out)
 */
import {execFileSync, type ChildProcess} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Backend} from '../../core/model.js'
import {listSubnets} from '../../src/ipam.js'
import type {IssuedPeer} from '../../src/lifecycle/overlay.js'
import {forgetInEtcd} from '../../src/lifecycle/remove.js'
import {COLLECT_AFTER_QUIET_MS} from '../../router/settled-gc.js'
import {REPO_ROOT} from '../../test/lab/lab.js'
import {BUNDLE, BenchCluster, ENDPOINT, startEtcd, stopProcess, tearDownOnSignal} from './cluster.js'
import {Fabric, Host, hostAddress} from './hosts.js'
import {renderSvg, renderTable, type ScaleRow} from './render.js'
import {applyMs, cpuTicks, growth, machineJiffies, mean, percentile, memoryOf, sumByLabel, sumMetric} from './stats.js'

const BACKEND = (process.env.SCALE_BACKEND ?? 'vxlan') as Backend
const SIZES = (process.env.SCALE_N ?? '10 25 50 100').split(/\s+/).filter(Boolean).map(Number)
const ROUNDS = Number(process.env.SCALE_ROUNDS ?? 8)
const IDLE_S = Number(process.env.SCALE_IDLE_S ?? 20)
const BATCH = Number(process.env.SCALE_BATCH ?? 10)
const OUT = process.env.SCALE_OUT ?? join(REPO_ROOT, 'bench', 'out')
/** How often the status files are looked at while waiting for convergence (the timing's resolution). */
const POLL_MS = 20
const CONVERGE_TIMEOUT_MS = 60_000
/**
 * After the last change, before an idle window: the one garbage collection each router makes
 * after a burst of work has run (it belongs to the change, not to idling), and so has the
 * routers' 5 s maintenance.
 */
const SETTLE_MS = COLLECT_AFTER_QUIET_MS + 5000
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const mb = (bytes: number) => bytes / 2 ** 20
const say = (line: string) => process.stderr.write(`[scale ${BACKEND}] ${line}\n`)

const etcdMetrics = async () => (await fetch(`${ENDPOINT}/metrics`)).text()
const received = (text: string) => sumMetric(text, 'grpc_server_msg_received_total')
const procTicks = (pid: number) => cpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'))
const total = (t: {self: number; children: number}) => t.self + t.children
const procMemory = (pid: number) => memoryOf(readFileSync(`/proc/${pid}/status`, 'utf8'))

class Scale {
  readonly hosts: Host[] = []
  /** Hosts whose router runs and is a member. */
  readonly members = new Set<Host>()
  private cluster!: BenchCluster
  private etcd?: ChildProcess
  private idleNode?: Host
  private readonly fabric = new Fabric()

  constructor(private readonly root: string) {}

  async setUp(): Promise<void> {
    await this.fabric.up()
    this.etcd = await startEtcd(this.root)
    this.cluster = await BenchCluster.init(BACKEND, `scale-${BACKEND}`)
    // The floor: an idle node, set up and started as a router is.
    this.idleNode = new Host('idle', hostAddress(200), this.root)
    await this.idleNode.create()
    this.idleNode.router = this.idleNode.node(['-e', 'setInterval(() => {}, 1e9)'], 'ignore')
  }

  async tearDown(): Promise<void> {
    for (const h of [...this.hosts, ...(this.idleNode ? [this.idleNode] : [])]) await h.destroy().catch(e => say(`cleanup of ${h.ns}: ${(e as Error).message}`))
    this.cluster?.close()
    await stopProcess(this.etcd)
    await this.fabric.down()
  }

  private async start(h: Host, peer: IssuedPeer): Promise<void> {
    await this.cluster.start(h, peer)
    this.members.add(h)
  }

  /**
   * Waits until every member's status lists exactly the other members; returns when the last
   * one was seen to (performance.now()). Only changed files are read again.
   */
  private async converged(): Promise<number> {
    const pending = new Set(this.members)
    const seen = new Map<Host, number>()
    const deadline = performance.now() + CONVERGE_TIMEOUT_MS
    let last = performance.now()
    while (pending.size > 0) {
      for (const h of pending) {
        const mtime = (() => {
          try {
            return statSync(h.statusPath).mtimeMs
          } catch {
            return -1
          }
        })()
        if (mtime < 0 || seen.get(h) === mtime) continue
        seen.set(h, mtime)
        const peers = h.readPeers()
        const want = [...this.members].filter(m => m !== h)
        if (peers && peers.length === want.length && want.every(m => peers.includes(m.name))) {
          pending.delete(h)
          last = performance.now()
        }
      }
      if (performance.now() > deadline) {
        const stuck = [...pending].slice(0, 5).map(h => `${h.name} lists ${h.readPeers()?.length ?? 'nothing'}`)
        throw new Error(`not converged within ${CONVERGE_TIMEOUT_MS / 1000} s with ${this.members.size} members: ${stuck.join(', ')} (logs in ${this.root})`)
      }
      if (pending.size > 0) await sleep(POLL_MS)
    }
    return last
  }

  /** Adds hosts, BATCH at a time, until `n` routers run and agree. */
  async growTo(n: number): Promise<void> {
    while (this.members.size < n) {
      const batch: Array<[Host, IssuedPeer]> = []
      for (let i = 0; i < Math.min(BATCH, n - this.members.size); i++) {
        const index = this.hosts.length
        const h = new Host(`h${index}`, hostAddress(index), this.root)
        this.hosts.push(h)
        await h.create()
        batch.push([h, await this.cluster.provision(h)])
      }
      for (const [h, peer] of batch) await this.start(h, peer)
      await this.converged()
      say(`${this.members.size} routers agree`)
    }
  }

  /** `cluster rm`: the router stopped and torn down, then etcd forgets the host. Returns seconds until no router lists it. */
  async leave(h: Host): Promise<number> {
    await h.stopRouter()
    await h.run([BUNDLE, 'teardown'])
    this.members.delete(h)
    const t0 = performance.now()
    await forgetInEtcd(this.cluster.kv, h.name, this.cluster.store)
    return ((await this.converged()) - t0) / 1000
  }

  /** `cluster create` of a host that left: seconds from its router's start until all agree, and etcd messages meanwhile. */
  async join(h: Host): Promise<{seconds: number; messages: number}> {
    const peer = await this.cluster.provision(h)
    const before = received(await etcdMetrics())
    await this.start(h, peer)
    const seconds = ((await this.converged()) - h.startedAt) / 1000
    return {seconds, messages: received(await etcdMetrics()) - before}
  }

  /** Every member's namespace routes every other member's subnet (the datapath, not only the status). */
  async checkRoutes(): Promise<void> {
    if (BACKEND === 'wireguard') return // one route for the whole range; the peers live in wireguard-go
    const subnets = new Map([...await listSubnets(this.cluster.kv.client, this.cluster.kv.layout)].map(([cidr, owner]) => [owner, cidr]))
    for (const h of this.members) {
      const routes = new Set(await h.routes())
      const missing = [...this.members].filter(m => m !== h && !routes.has(subnets.get(m.name) ?? '?'))
      if (missing.length > 0) throw new Error(`${h.ns} has no route to ${missing.map(m => `${m.name} (${subnets.get(m.name)})`).join(', ')}`)
    }
  }

  /** A quiet window: etcd messages and watchers, CPU and RSS of every router, the idle node's RSS. */
  async idle(): Promise<Pick<ScaleRow, 'idleReqPerRouter' | 'watchersPerRouter' | 'rssMb' | 'ownMb' | 'ownAnonMb' | 'ownFileMb' | 'cpuPct' | 'childCpuPct' | 'etcdCpuPct'> & {byMethod: Array<[string, number]>}> {
    await sleep(SETTLE_MS)
    const routers = [...this.members].map(h => h.router!.pid!)
    const m0 = await etcdMetrics()
    const c0 = routers.map(procTicks)
    const e0 = total(procTicks(this.etcd!.pid!))
    const t0 = performance.now()
    await sleep(IDLE_S * 1000)
    const m1 = await etcdMetrics()
    const c1 = routers.map(procTicks)
    const e1 = total(procTicks(this.etcd!.pid!))
    const seconds = (performance.now() - t0) / 1000
    const n = routers.length
    const memory = routers.map(procMemory)
    const meanOf = (k: 'rss' | 'anon' | 'file') => mean(memory.map(m => m[k]))
    const base = procMemory(this.idleNode!.router!.pid!)
    const perCore = (ticks: number) => (ticks / CLK_TCK / seconds) * 100
    return {
      idleReqPerRouter: (received(m1) - received(m0)) / seconds / n,
      watchersPerRouter: sumMetric(m1, 'etcd_debugging_mvcc_watcher_total') / n,
      rssMb: mb(meanOf('rss')),
      ownMb: mb(meanOf('rss') - base.rss),
      ownAnonMb: mb(meanOf('anon') - base.anon),
      ownFileMb: mb(meanOf('file') - base.file),
      cpuPct: mean(c1.map((c, i) => perCore(total(c) - total(c0[i]!)))),
      childCpuPct: mean(c1.map((c, i) => perCore(c.children - c0[i]!.children))),
      etcdCpuPct: perCore(e1 - e0),
      byMethod: growth(sumByLabel(m0, 'grpc_server_msg_received_total', 'grpc_method'), sumByLabel(m1, 'grpc_server_msg_received_total', 'grpc_method'))
        .map(([k, d]) => [k, d / seconds / n]),
    }
  }
}

async function measure(scale: Scale, n: number): Promise<ScaleRow> {
  await scale.growTo(n)
  await scale.checkRoutes()
  const joins: number[] = []
  const leaves: number[] = []
  const messages: number[] = []
  const changeCpuMs: number[] = []
  // Each router's log from here on holds this size's applies; the machine's CPU from here on, its load.
  const logStart = new Map(scale.hosts.map(h => [h, h.logSize()]))
  const cpu0 = machineJiffies(readFileSync('/proc/stat', 'utf8'))
  for (let round = 0; round < ROUNDS; round++) {
    // A different host each round, spread over the cluster.
    const h = scale.hosts.filter(x => scale.members.has(x))[(round * 7) % n]!
    const others = [...scale.members].filter(m => m !== h).map(m => m.router!.pid!)
    const cpuOf = () => others.reduce((sum, pid) => sum + total(procTicks(pid)), 0)
    const before = cpuOf()
    leaves.push(await scale.leave(h))
    const joined = await scale.join(h)
    joins.push(joined.seconds)
    messages.push(joined.messages / n)
    changeCpuMs.push(((cpuOf() - before) / CLK_TCK) * 1000 / others.length / 2)
    await sleep(1000)
  }
  const cpu1 = machineJiffies(readFileSync('/proc/stat', 'utf8'))
  const applies = scale.hosts.flatMap(h => applyMs(h.logSince(logStart.get(h) ?? 0)))
  await scale.checkRoutes()
  const idle = await scale.idle()
  say(`N=${n}: idle etcd messages/s per router by method: ${idle.byMethod.map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`)
  return {
    backend: BACKEND, n, joins: ROUNDS,
    joinP50: percentile(joins, 50), joinP95: percentile(joins, 95),
    leaveP50: percentile(leaves, 50), leaveP95: percentile(leaves, 95),
    applyP50Ms: percentile(applies, 50), applyP95Ms: percentile(applies, 95),
    machineBusyPct: ((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)) * 100,
    cpuMsPerChange: mean(changeCpuMs),
    joinReqPerRouter: percentile(messages, 50),
    ...idle,
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the scale bench needs root (network namespaces, a bridge, bind mounts)')
  statSync(BUNDLE) // fails with the path when `npm run build` has not run
  const root = mkdtempSync(join(tmpdir(), 'scale-'))
  const scale = new Scale(root)
  tearDownOnSignal(() => scale.tearDown())
  const rows: ScaleRow[] = []
  let failure: Error | undefined
  try {
    await scale.setUp()
    for (const n of SIZES) {
      const row = await measure(scale, n)
      rows.push(row)
      say(`N=${n}: join p95 ${row.joinP95.toFixed(2)} s, idle ${row.idleReqPerRouter.toFixed(3)} msg/s per router, CPU ${row.cpuPct.toFixed(2)} %, own ${row.ownMb.toFixed(1)} MB (anon ${row.ownAnonMb.toFixed(1)}, file ${row.ownFileMb.toFixed(1)})`)
    }
  } catch (error) {
    // The sizes measured so far are still worth their table; the logs stay for the failure.
    failure = error as Error
  } finally {
    await scale.tearDown()
  }
  if (!failure) rmSync(root, {recursive: true, force: true})
  if (rows.length === 0) throw failure ?? new Error('no size measured')
  const table = renderTable(rows)
  console.log(`\n== scale, ${BACKEND}: ${ROUNDS} joins and leaves per N, idle window ${IDLE_S} s (${new Date().toISOString()})\n${table}`)
  mkdirSync(OUT, {recursive: true})
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const base = join(OUT, `scale-${BACKEND}-${stamp}`)
  writeFileSync(`${base}.json`, JSON.stringify(rows, null, 2) + '\n')
  writeFileSync(`${base}.md`, table + '\n')
  writeFileSync(`${base}.svg`, renderSvg(`${BACKEND}: N routers on one machine (${ROUNDS} joins per N)`, rows))
  console.log(`written: ${base}.{json,md,svg}`)
  if (failure) throw new Error(`${failure.message} (after N = ${rows.map(r => r.n).join(', ')}; router logs kept in ${root})`, {cause: failure})
}

main().catch(error => {
  console.error(`scale bench: ${(error as Error).message}`)
  process.exit(1)
})
