/**
 * Cluster DNS under churn (issue 18 part 3): HOSTS real routers (dist/router.cjs, started as
 * the systemd unit starts it, `publishContainers: false`) in network namespaces against one
 * etcd (bench/scale's hosts and cluster), 10,002 container records in etcd, and containers
 * stopping and starting at CHURN_PER_S events a second spread over the hosts, while dnsperf
 * loads the first router's DNS server. The records are written by the router's own
 * RecordPublisher (router/containers/publish.ts), one per host under a lease of the router's
 * TTL: what a host's router writes when Docker reports a container starting or dying.
 *
 * Measured in one run:
 *   - bench/dns/measure.sh against the loaded router, dnsmasq serving the same records from a
 *     hosts file, bench/dns's Node UDP echo (the floor) and the same echo with the router's
 *     node flags (--lite-mode), all four on the loaded host's docker0 address and on CPU 0 at
 *     nice -10; dnsperf (nice -10) on CPU 1, after etcd, the other routers and this process
 *     (nice -15: see NICE);
 *   - for every stop, the time until every router's DNS answers without the address, and
 *     wrong answers (the address more than 1 s after the stop); for every start, the time
 *     until every router answers with it (bench/dns-churn/convergence.ts).
 * Exits 1 when a check fails: rate >= 0.9 of the echo's and >= 0.75 of dnsmasq's, p99 < 2 ms,
 * every stop gone everywhere within 1 s, no wrong answer. Needs root, etcd, dnsperf, dnsmasq.
 *
 *   node dist/bench/dns-churn/bench.js
 *   env: HOSTS (4), NAMES (3334), PER_NAME (3), CHURN_PER_S (50), RESTART_S (2); and
 *        bench/dns/measure.sh's ROUNDS, DURATION, WARMUP, LAT_QPS, CLIENTS, OUTSTANDING
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {cpus, setPriority, tmpdir} from 'node:os'
import {join} from 'node:path'
import {dnsRange, type DnsRecord} from '../../core/dns-records.js'
import {gatewayOf} from '../../core/subnets.js'
import {EtcdClient, type Lease} from '../../router/etcd/client.js'
import {LEASE_TTL_SECONDS} from '../../router/kv.js'
import {RecordPublisher} from '../../router/containers/publish.js'
import {REPO_ROOT} from '../../test/lab/lab.js'
import {hostsText, queriesText, serviceRecords} from '../dns/records.js'
import {BUNDLE, BenchCluster, ENDPOINT, startEtcd, stopProcess, tearDownOnSignal} from '../scale/cluster.js'
import {Fabric, Host, NODE_FLAGS, hostAddress} from '../scale/hosts.js'
import {cpuTicks, memoryOf} from '../scale/stats.js'
import {WRONG_AFTER_MS, follow, summarize, type Outcome, type Summary} from './convergence.js'
import {Prober, type Server} from './probe.js'
import {ChurnSchedule, type ChurnEvent, type Container} from './schedule.js'

const HOSTS = Number(process.env.HOSTS ?? 4)
const NAMES = Number(process.env.NAMES ?? 3334)
const PER_NAME = Number(process.env.PER_NAME ?? 3)
const CHURN_PER_S = Number(process.env.CHURN_PER_S ?? 50)
const RESTART_S = Number(process.env.RESTART_S ?? 2)
const DOMAIN = 'cluster.internal'
const DNSMASQ_PORT = 5301
const ECHO_PORT = 5302
const ROUTER_ECHO_PORT = 5303
/** Churn before the measurement starts, so the first round already sees a steady churn. */
const CHURN_WARMUP_MS = 3000
const READY_TIMEOUT_MS = 120_000
const TARGETS = {ofEcho: 0.9, ofDnsmasq: 0.75, p99Ms: 2}
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())
const TWO_CORES = cpus().length >= 2

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const say = (line: string) => process.stderr.write(`[dns-churn] ${line}\n`)
const log = {info: say, warn: say}
/**
 * Priorities (nice), absolute. The cluster's own work (etcd, the other routers, this process's
 * churn and probes) comes first on CPU 1: on real hosts it runs on other machines and never
 * waits for a load generator; dnsperf, at bench/dns's -10, gets what it leaves. Under
 * dnsperf at -10 beside it at 0, it starved: convergence times measured the starvation.
 */
const NICE = {cluster: -15, dns: -10}
/** The loaded server and its peers (dnsmasq, the echoes) alone on CPU 0, at bench/dns's priority (`nice -n` is relative to this process's). */
const SERVER_CPU = ['nice', '-n', String(NICE.dns - NICE.cluster), ...(TWO_CORES ? ['taskset', '-c', '0'] : [])]

type ServerName = 'ours' | 'dnsmasq' | 'echo' | 'echo-lite'

interface Result {
  qps: number
  p50: number
  p99: number
  max: number
}

/** Polls `check` until it is true; throws `what` after READY_TIMEOUT_MS. */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${READY_TIMEOUT_MS / 1000} s`)
    await sleep(250)
  }
}

const hostName = (i: number) => `h${i}`

/** The DNS server of a host's router: its docker0 address, port 53. */
function dnsOf(h: Host): Server {
  return {address: gatewayOf(h.subnet!), port: 53}
}

/** Each host's records, written by a RecordPublisher of its own under a lease of its own. */
class Publishers {
  private readonly publishers: RecordPublisher[] = []
  private readonly leases: Lease[] = []

  constructor(private readonly etcd: EtcdClient, private readonly cluster: BenchCluster, private readonly hostNames: readonly string[]) {
    for (const hostName of hostNames) {
      const lease = etcd.lease(LEASE_TTL_SECONDS)
      this.leases.push(lease)
      this.publishers.push(new RecordPublisher({etcd, layout: cluster.kv.layout, hostName, lease, log}))
    }
  }

  /** Publishes every container and resolves once etcd holds them all. */
  async load(containers: readonly Container[]): Promise<void> {
    this.publishers.forEach((p, i) => p.replaceAll(containers.filter(c => c.host === i).map(c => this.record(c))))
    const range = dnsRange(this.cluster.kv.layout)
    await waitFor(`${containers.length} records in etcd`, async () => (await this.etcd.list(range, {keysOnly: true})).kvs.length === containers.length)
  }

  /** What the host's router does on Docker's event: a start publishes, a die removes. */
  apply(event: ChurnEvent): void {
    const c = event.container
    this.publishers[c.host]!.set(c.id, event.kind === 'start' ? this.record(c) : undefined)
  }

  stop(): void {
    for (const p of this.publishers) p.stop()
    for (const l of this.leases) l.release()
  }

  private record(c: Container): DnsRecord {
    return {name: c.name, aliases: [], ip: c.ip, host: this.hostNames[c.host]!, containerId: c.id}
  }
}

/** Plays the schedule at CHURN_PER_S and follows every event on every router. */
class Churn {
  readonly outcomes: Array<Promise<Outcome>> = []
  private timer: NodeJS.Timeout | undefined
  private started = 0
  private ticks = 0
  events = 0

  constructor(private readonly schedule: ChurnSchedule, private readonly publishers: Publishers, private readonly prober: Prober, private readonly routers: readonly Server[]) {}

  start(): void {
    if (CHURN_PER_S <= 0) return
    this.started = performance.now()
    this.tick()
  }

  stop(): void {
    clearTimeout(this.timer)
  }

  /** Each event at its own time (start + i / rate), so a late timer does not lower the rate. */
  private tick(): void {
    const event = this.schedule.next()
    if (event) {
      const at = performance.now()
      this.publishers.apply(event)
      this.events++
      this.outcomes.push(follow(this.prober, this.routers, event, at, DOMAIN))
    }
    this.ticks++
    this.timer = setTimeout(() => this.tick(), this.started + (this.ticks * 1000) / CHURN_PER_S - performance.now())
  }
}

class DnsChurn {
  readonly hosts: Host[] = []
  private readonly fabric = new Fabric()
  private etcd?: ChildProcess
  private cluster?: BenchCluster
  private client?: EtcdClient
  private publishers?: Publishers
  private prober?: Prober
  private peers: ChildProcess[] = []

  constructor(private readonly root: string) {}

  async setUp(containers: readonly Container[]): Promise<void> {
    await this.fabric.up()
    this.etcd = await startEtcd(this.root)
    this.cluster = await BenchCluster.init('host-gw', 'dns-churn')
    this.client = new EtcdClient({endpoints: [ENDPOINT]})
    this.publishers = new Publishers(this.client, this.cluster, Array.from({length: HOSTS}, (_, i) => hostName(i)))
    // Records first: routers starting now list them once, as after a restart of a busy cluster.
    await this.publishers.load(containers)
    say(`${containers.length} records in etcd`)
    for (let i = 0; i < HOSTS; i++) {
      const h = new Host(hostName(i), hostAddress(i), this.root)
      this.hosts.push(h)
      await h.create()
      const peer = await this.cluster.provision(h)
      await h.routeFromMachine()
      await this.cluster.start(h, peer, i === 0 ? SERVER_CPU : [])
    }
    this.prober = await Prober.open()
    const first = containers[0]!
    const last = containers[containers.length - 1]!
    for (const h of this.hosts) {
      await waitFor(`router ${h.name} answering for every record`, async () => {
        const [a, b] = await Promise.all([first, last].map(c => this.prober!.ask(dnsOf(h), `${c.name}.${DOMAIN}`, 500)))
        return a !== 'timeout' && a.includes(first.ip) && b !== 'timeout' && b.includes(last.ip)
      })
    }
    say(`${HOSTS} routers answer`)
  }

  /**
   * dnsmasq and two echoes beside the loaded router: same namespace, address and CPU. The echo
   * with the JIT is the floor; the one with the router's own node flags (--lite-mode:
   * Node's dgram code interpreted too) is the floor of the runtime as the router runs.
   */
  async startPeers(hostsFile: string): Promise<void> {
    const h = this.hosts[0]!
    const {address} = dnsOf(h)
    const logTo = (name: string) => openSync(join(this.root, `${name}.log`), 'a')
    this.peers.push(h.spawn([...SERVER_CPU, 'bash', join(REPO_ROOT, 'bench', 'dns', 'dnsmasq.sh'), address, String(DNSMASQ_PORT), hostsFile, DOMAIN], logTo('dnsmasq')))
    const echo = join(REPO_ROOT, 'dist', 'bench', 'dns', 'echo.js')
    this.peers.push(h.spawn([...SERVER_CPU, process.execPath, echo, address, String(ECHO_PORT)], logTo('echo')))
    this.peers.push(h.spawn([...SERVER_CPU, process.execPath, ...NODE_FLAGS, echo, address, String(ROUTER_ECHO_PORT)], logTo('echo-router-flags')))
    const dnsmasq = {address, port: DNSMASQ_PORT}
    await waitFor('dnsmasq answering', async () => (await this.prober!.ask(dnsmasq, `svc0.${DOMAIN}`, 500)) !== 'timeout')
  }

  /** Same data, same answers: otherwise the comparison means nothing. */
  async compareAnswers(names: string[]): Promise<void> {
    const ours = dnsOf(this.hosts[0]!)
    for (const name of names) {
      const [a, b] = await Promise.all([ours, {address: ours.address, port: DNSMASQ_PORT}].map(s => this.prober!.ask(s, `${name}.${DOMAIN}`, 1000)))
      const show = (x: typeof a) => (x === 'timeout' ? x : [...x].sort().join(' '))
      if (show(a) !== show(b) || a === 'timeout') throw new Error(`answers differ for ${name}: ours [${show(a)}] dnsmasq [${show(b)}]`)
    }
  }

  churn(schedule: ChurnSchedule): Churn {
    return new Churn(schedule, this.publishers!, this.prober!, this.hosts.map(dnsOf))
  }

  /** The loaded router's CPU ticks (itself) and RSS now. */
  loadedRouter(): {ticks: number; rss: number} {
    const pid = this.hosts[0]!.router!.pid!
    return {ticks: cpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')).self, rss: memoryOf(readFileSync(`/proc/${pid}/status`, 'utf8')).rss}
  }

  async tearDown(): Promise<void> {
    this.publishers?.stop()
    for (const p of this.peers) await stopProcess(p)
    for (const h of this.hosts) await h.destroy().catch(e => say(`cleanup of ${h.ns}: ${(e as Error).message}`))
    this.prober?.close()
    this.client?.close()
    this.cluster?.close()
    await stopProcess(this.etcd)
    await this.fabric.down()
  }
}

/** bench/dns/measure.sh against the four servers; its output passes through, its result lines are read. */
async function measure(queries: string, ours: Server): Promise<Record<ServerName, Result>> {
  // measure.sh lowers dnsperf's nice by 10 from its own: start it at 0, as bench/dns/run.sh does.
  const child = spawn('nice', ['-n', String(-NICE.cluster), 'bash', join(REPO_ROOT, 'bench', 'dns', 'measure.sh'), queries,
    `ours=${ours.address}:${ours.port}`, `dnsmasq=${ours.address}:${DNSMASQ_PORT}`, `echo=${ours.address}:${ECHO_PORT}`, `echo-lite=${ours.address}:${ROUTER_ECHO_PORT}`], {stdio: ['ignore', 'pipe', 'inherit']})
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    process.stdout.write(d)
  })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`bench/dns/measure.sh exited ${code}`)
  const results: Partial<Record<string, Result>> = {}
  for (const m of out.matchAll(/^result (\S+) (\S+) (\S+) (\S+) (\S+)$/gm)) results[m[1]!] = {qps: Number(m[2]), p50: Number(m[3]), p99: Number(m[4]), max: Number(m[5])}
  const {ours: o, dnsmasq: d, echo: e, 'echo-lite': l} = results
  if (!o || !d || !e || !l) throw new Error(`bench/dns/measure.sh printed no result for every server:\n${out}`)
  return {ours: o, dnsmasq: d, echo: e, 'echo-lite': l}
}

const ms = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(0))
const line = (what: string, s: Summary) => `${what.padEnd(8)} ${String(s.events).padStart(6)} ${ms(s.p50).padStart(7)} ${ms(s.p95).padStart(7)} ${ms(s.max).padStart(7)} ${String(s.unconverged).padStart(12)} ${String(s.wrong).padStart(6)}`

/** Returns the checks missed. */
async function main(): Promise<string[]> {
  if (process.getuid?.() !== 0) throw new Error('the dns-churn bench needs root (network namespaces, a bridge, bind mounts)')
  statSync(BUNDLE) // fails with the path when `npm run build` has not run
  // This process, etcd and the other routers on CPU 1 with dnsperf; the loaded server alone on CPU 0.
  if (TWO_CORES) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], {stdio: 'ignore'})
  setPriority(NICE.cluster)
  const records = serviceRecords(NAMES, PER_NAME)
  const schedule = new ChurnSchedule(records, HOSTS, Math.round((RESTART_S * CHURN_PER_S) / 2))
  const containers = schedule.initial()
  const root = mkdtempSync(join(tmpdir(), 'dns-churn-'))
  writeFileSync(join(root, 'hosts'), hostsText(records, DOMAIN))
  writeFileSync(join(root, 'queries'), queriesText(NAMES, DOMAIN))
  const bench = new DnsChurn(root)
  tearDownOnSignal(() => bench.tearDown())

  let failure: Error | undefined
  let missed: string[] = []
  try {
    await bench.setUp(containers)
    await bench.startPeers(join(root, 'hosts'))
    await bench.compareAnswers(['svc0', `svc${NAMES - 1}`])
    const churn = bench.churn(schedule)
    churn.start()
    await sleep(CHURN_WARMUP_MS)
    const events0 = churn.events
    const router0 = bench.loadedRouter()
    const t0 = performance.now()
    const rates = await measure(join(root, 'queries'), dnsOf(bench.hosts[0]!))
    const seconds = (performance.now() - t0) / 1000
    const router1 = bench.loadedRouter()
    const churned = (churn.events - events0) / seconds
    churn.stop()
    const outcomes = await Promise.all(churn.outcomes)
    missed = report({rates, churned, outcomes, routerCpuPct: ((router1.ticks - router0.ticks) / CLK_TCK / seconds) * 100, routerRssMb: router1.rss / 2 ** 20})
  } catch (error) {
    failure = error as Error
  } finally {
    await bench.tearDown()
  }
  if (failure) throw new Error(`${failure.message} (logs kept in ${root})`, {cause: failure})
  rmSync(root, {recursive: true, force: true})
  return missed
}

function report(r: {rates: Record<ServerName, Result>; churned: number; outcomes: Outcome[]; routerCpuPct: number; routerRssMb: number}): string[] {
  const {ours, dnsmasq, echo, 'echo-lite': echoLite} = r.rates
  const ofEcho = ours.qps / echo.qps
  const ofDnsmasq = ours.qps / dnsmasq.qps
  const stops = summarize(r.outcomes, 'stop')
  const starts = summarize(r.outcomes, 'start')
  console.log(`\n== dns-churn: ${HOSTS} routers, ${NAMES * PER_NAME} records, churn ${CHURN_PER_S} events/s (${r.churned.toFixed(1)}/s during the measurement) (${new Date().toISOString()})`)
  console.log(`ours ${ours.qps} q/s: ${ofEcho.toFixed(2)} of the echo (${echo.qps}, target >= ${TARGETS.ofEcho}), ${ofDnsmasq.toFixed(2)} of dnsmasq (${dnsmasq.qps}, target >= ${TARGETS.ofDnsmasq}); p99 ${ours.p99} ms (target < ${TARGETS.p99Ms})`)
  console.log(`the echo with the router's node flags (${NODE_FLAGS.join(' ')}): ${echoLite.qps} q/s, ${(echo.qps > 0 ? echoLite.qps / echo.qps : NaN).toFixed(2)} of the echo; ours ${(ours.qps / echoLite.qps).toFixed(2)} of it`)
  console.log(`the loaded router: ${r.routerCpuPct.toFixed(0)} % of a core during the measurement, RSS ${r.routerRssMb.toFixed(1)} MB`)
  console.log(`\nevery router right (ms)   events     p50     p95     max  unconverged  wrong`)
  console.log(line('stop', stops))
  console.log(line('start', starts))
  const missed = [
    ...(ofEcho < TARGETS.ofEcho ? [`rate ${ofEcho.toFixed(2)} of the echo's`] : []),
    ...(ofDnsmasq < TARGETS.ofDnsmasq ? [`rate ${ofDnsmasq.toFixed(2)} of dnsmasq's`] : []),
    ...(!(ours.p99 < TARGETS.p99Ms) ? [`p99 ${ours.p99} ms`] : []),
    ...(stops.max > WRONG_AFTER_MS || stops.unconverged > 0 ? [`a stopped container was still answered after ${WRONG_AFTER_MS} ms (max ${ms(stops.max)} ms, ${stops.unconverged} never gone)`] : []),
    ...(stops.wrong + starts.wrong > 0 ? [`${stops.wrong + starts.wrong} wrong answers`] : []),
  ]
  for (const m of missed) say(`MISSED: ${m}`)
  if (missed.length === 0) say('checks passed')
  return missed
}

main().then(missed => process.exit(missed.length > 0 ? 1 : 0), error => {
  console.error(`dns-churn bench: ${(error as Error).message}`)
  process.exit(1)
})
