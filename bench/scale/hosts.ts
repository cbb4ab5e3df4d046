/**
 * Router hosts as network namespaces on one Linux bridge, on this machine: each namespace
 * has an `eth0` on the bridge (the underlay), a `docker0` bridge holding its subnet's first
 * address (what dockerd would make, and where the router serves DNS), and its own
 * /etc/cluster, /run/cluster, /var/lib (for /var/lib/cluster) and /run/wireguard, bind-mounted from a
 * folder of its own inside the namespace's mount namespace (`ip netns exec` makes one).
 * Every address is in 198.18.16.0/22.
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, openSync, closeSync, readFileSync, rmdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {gatewayOf} from '../../core/subnets.js'
import {UNIT} from '../../src/agent/unit.js'
import {unitCommand} from './unit-command.js'

const exec = promisify(execFile)

export const NET = {
  bridge: 'clscale0',
  /** The bridge's address on this machine: etcd listens here. */
  gateway: '198.18.16.1',
  prefix: 24,
  /** The cluster's overlay range and subnet size: 128 host subnets, inside 198.18.16.0/22. */
  range: '198.18.18.0/23',
  subnetSize: 30,
}

/** The underlay address of host `i` (0-based). */
export function hostAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i > 200) throw new Error(`host index ${i} is outside 0-200 (198.18.16.10-210)`)
  return `198.18.16.${10 + i}`
}

/**
 * Folders the routers' paths are bind-mounted over; made here when missing, removed at the
 * end. /var/lib whole: `teardown` removes /var/lib/cluster itself, which a mount point is not.
 */
const MOUNT_POINTS = {etc: '/etc/cluster', run: '/run/cluster', lib: '/var/lib', wg: '/run/wireguard'}

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    return (await exec(cmd, args, {maxBuffer: 16 << 20})).stdout
  } catch (error) {
    const e = error as Error & {stderr?: string}
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, {cause: error})
  }
}

export const ip = (...args: string[]) => sh('ip', args)

/**
 * The kernel's ARP table is one for all network namespaces, with one limit (gc_thresh3,
 * default 1024): N vxlan routers on one kernel hold about N × N entries (each its peers'
 * VTEPs), and past ~32 routers new entries fail ("neighbor table overflow") and the newest
 * hosts cannot even reach etcd. Real hosts each have their own table of N entries; the bench
 * raises the shared limits for its run and puts them back after.
 */
const NEIGH_LIMITS = {gc_thresh1: 16_384, gc_thresh2: 32_768, gc_thresh3: 65_536}
const neighPath = (name: string): string => `/proc/sys/net/ipv4/neigh/default/${name}`

/** The bridge, the mount points, the ARP table's limits, and an iptables rule letting bridged traffic through a DROP forward policy. */
export class Fabric {
  private madeMountPoints: string[] = []
  private savedNeighLimits: Array<[string, string]> = []
  private forwardRule = ['FORWARD', '-i', NET.bridge, '-o', NET.bridge, '-j', 'ACCEPT']

  async up(): Promise<void> {
    if (existsSync(`/sys/class/net/${NET.bridge}`)) throw new Error(`${NET.bridge} exists: an earlier run was not cleaned up (ip link del ${NET.bridge}; ip netns list)`)
    await ip('link', 'add', NET.bridge, 'type', 'bridge')
    await ip('addr', 'add', `${NET.gateway}/${NET.prefix}`, 'dev', NET.bridge)
    await ip('link', 'set', NET.bridge, 'up')
    await sh('iptables', ['-w', '-I', ...this.forwardRule.slice(0, 1), '1', ...this.forwardRule.slice(1)])
    for (const [name, value] of Object.entries(NEIGH_LIMITS)) {
      this.savedNeighLimits.push([name, readFileSync(neighPath(name), 'utf8').trim()])
      writeFileSync(neighPath(name), String(value))
    }
    for (const dir of Object.values(MOUNT_POINTS)) {
      if (existsSync(dir)) continue
      mkdirSync(dir, {recursive: true})
      this.madeMountPoints.push(dir)
    }
  }

  async down(): Promise<void> {
    await sh('iptables', ['-w', '-D', ...this.forwardRule]).catch(() => undefined)
    for (const [name, value] of this.savedNeighLimits) writeFileSync(neighPath(name), value)
    this.savedNeighLimits = []
    if (existsSync(`/sys/class/net/${NET.bridge}`)) await ip('link', 'del', NET.bridge)
    for (const dir of this.madeMountPoints.reverse()) rmdirSync(dir)
    this.madeMountPoints = []
  }
}

const {env: UNIT_ENV, nodeFlags} = unitCommand(UNIT)
/** The router's node flags, as its unit starts it (--lite-mode and others). */
export const NODE_FLAGS = nodeFlags

/** Binds the host's folders over the router's paths, then runs "$@" (the namespace's own mount namespace keeps them private). */
const WITH_OWN_PATHS = Object.entries(MOUNT_POINTS).map(([k, to]) => `mount --bind "$D/${k}" ${to}`).join(' && ') + ' && exec "$@"'

/** One router host: a namespace, its folders, and the router process while one runs. */
export class Host {
  readonly ns: string
  readonly dir: string
  router: ChildProcess | undefined
  startedAt = 0
  /** Its subnet of the overlay range, once setSubnet gave docker0 its address. */
  subnet: string | undefined

  constructor(readonly name: string, readonly address: string, root: string) {
    this.ns = `cscale-${name}`
    this.dir = join(root, name)
  }

  /** This machine's end of the host's underlay link, on the bridge. */
  private get veth(): string {
    return `cs${this.name}`.slice(0, 15)
  }

  get statusPath(): string {
    return join(this.dir, 'run', 'status.json')
  }

  async create(): Promise<void> {
    for (const k of Object.keys(MOUNT_POINTS)) mkdirSync(join(this.dir, k), {recursive: true, mode: 0o700})
    const veth = this.veth
    await ip('netns', 'add', this.ns)
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns)
    await ip('link', 'set', veth, 'master', NET.bridge, 'up')
    await ip('-n', this.ns, 'addr', 'add', `${this.address}/${NET.prefix}`, 'dev', 'eth0')
    await ip('-n', this.ns, 'link', 'set', 'eth0', 'up')
    await ip('-n', this.ns, 'link', 'set', 'lo', 'up')
    await ip('-n', this.ns, 'link', 'add', 'docker0', 'type', 'bridge')
    await ip('-n', this.ns, 'link', 'set', 'docker0', 'up')
  }

  /** Gives docker0 the first address of `subnet`, as dockerd does with the bip create sets. */
  async setSubnet(subnet: string): Promise<void> {
    await ip('-n', this.ns, 'addr', 'flush', 'dev', 'docker0')
    await ip('-n', this.ns, 'addr', 'add', `${gatewayOf(subnet)}/${subnet.split('/')[1]}`, 'dev', 'docker0')
    this.subnet = subnet
  }

  /**
   * Routes this machine's traffic for the host's subnet to the namespace, so its docker0
   * address (where the router serves DNS) answers from here too. Gone with the bridge.
   */
  async routeFromMachine(): Promise<void> {
    if (!this.subnet) throw new Error(`${this.ns} has no subnet yet`)
    await ip('route', 'replace', this.subnet, 'via', this.address, 'dev', NET.bridge)
  }

  /** `ip -o -4 addr show` and `ip -o link show` inside the namespace (what create reads over SSH). */
  async interfaces(): Promise<{addrs: string; links: string}> {
    return {addrs: await ip('-n', this.ns, '-o', '-4', 'addr', 'show'), links: await ip('-n', this.ns, '-o', 'link', 'show')}
  }

  /** Runs a command as the unit runs the router: in the namespace, with the host's own paths and the unit's environment. */
  spawn(argv: string[], log: number | 'ignore' | 'pipe'): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.ns, 'sh', '-c', WITH_OWN_PATHS, 'sh', ...argv], {
      env: {...process.env, ...UNIT_ENV, D: this.dir},
      stdio: ['ignore', log, log],
    })
  }

  /** `node FLAGS SCRIPT ARGS` the way the unit starts node, under `wrap` (e.g. `taskset -c 0`). */
  node(script: string[], log: number | 'ignore' | 'pipe', wrap: string[] = []): ChildProcess {
    return this.spawn([...wrap, process.execPath, ...NODE_FLAGS, ...script], log)
  }

  async run(script: string[]): Promise<string> {
    const child = this.node(script, 'pipe')
    let out = ''
    let err = ''
    child.stdout!.on('data', d => (out += d))
    child.stderr!.on('data', d => (err += d))
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    if (code !== 0) throw new Error(`${script.join(' ')} in ${this.ns} exited ${code}: ${err.trim()}`)
    return out
  }

  /** Bytes in the router's log so far (0 before its first start). */
  logSize(): number {
    return existsSync(this.logPath) ? statSync(this.logPath).size : 0
  }

  /** The router's log from byte `offset` on. */
  logSince(offset: number): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath).subarray(offset).toString('utf8') : ''
  }

  private get logPath(): string {
    return join(this.dir, 'router.log')
  }

  startRouter(bundle: string, wrap: string[] = []): void {
    const log = openSync(this.logPath, 'a')
    this.startedAt = performance.now()
    this.router = this.node([bundle], log, wrap)
    closeSync(log)
  }

  /** SIGTERM, as `systemctl stop`: the router leaves its datapath as it is. */
  async stopRouter(): Promise<void> {
    const child = this.router
    if (!child || child.exitCode !== null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
    this.router = undefined
  }

  /** Peer names in the router's status file, or undefined before it wrote one. */
  readPeers(): string[] | undefined {
    try {
      return (JSON.parse(readFileSync(this.statusPath, 'utf8')) as {peers: Array<{name: string}>}).peers.map(p => p.name)
    } catch {
      return undefined
    }
  }

  /** The overlay routes the router made (protocol 211, router/backends/link.ts) in the namespace: their destinations. */
  async routes(): Promise<string[]> {
    return (await ip('-n', this.ns, 'route', 'show', 'proto', '211')).split('\n').filter(Boolean).map(l => l.split(' ')[0]!)
  }

  /** Ends whatever still runs in the namespace (wireguard-go outlives its router by design), then deletes it. */
  async destroy(): Promise<void> {
    await this.stopRouter().catch(() => undefined)
    const pids = (await ip('netns', 'pids', this.ns).catch(() => '')).split('\n').filter(Boolean).map(Number)
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    // The pair by hand first: deleting a namespace frees its devices later, in the kernel's own
    // time, and a run started at once found this host's link still there ("File exists").
    await ip('link', 'del', this.veth).catch(() => undefined)
    await ip('netns', 'del', this.ns).catch(() => undefined)
  }
}
