/**
 * Issue 18 part 5: N `cluster create` processes started at the same moment against one
 * (empty) store and one etcd, each a droplet of the DigitalOcean simulator whose droplets
 * are real lab hosts (Docker-in-Docker, test/lab), plus CREATES_DUP processes racing for
 * one more name. Then, from etcd, the store, the simulator and every router: names unique,
 * subnets distinct and served, each create ready (docker over TLS, router connected) or
 * cleanly rolled back, the losers of the same-name race leaving nothing; the time until all
 * are ready and until every router lists every other; then `cluster rm -f -y` of all and
 * zero droplets, keys, machine records, leases and peer records left.
 *
 * The overlay range is small on purpose (CREATES_RANGE, 32 subnets of /24 for 21 machines),
 * so the random subnet picks of the concurrent creates collide often and the
 * create-if-absent lease transaction (src/ipam.ts) is exercised, not just trusted.
 *
 * Exits 1 when a check fails. Output: the table on stdout, bench/out/creates-TIME.{json,md}
 * and each process's stderr in bench/out/creates-TIME/ (not committed).
 *
 *   node dist/bench/creates/bench.js   env: CREATES_N (20), CREATES_DUP (3), CREATES_HOST_MB (600),
 *                                           CREATES_RANGE (198.19.0.0/19), CREATES_TIMEOUT_S (900), CREATES_OUT
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {Etcd3} from 'etcd3'
import {DNS_IP, ETCD_ENDPOINT, REPO_ROOT, run} from '../../test/lab/lab.js'
import {CLUSTER_BIN, cli, cliOk, newCliEnv, type CliEnv} from '../../test/support/cli.js'
import {DoSimulator} from '../../test/do-sim/server.js'
import {LabBackend} from '../../test/do-sim/lab-backend.js'
import {clusterPrefix, keys, subnetFromKey} from '../../core/keys.js'
import type {RouterStatus} from '../../core/router-status.js'
import {percentile} from '../scale/stats.js'
import {nothingLeft, namesUnique, readyOrRolledBack, sameNameRace, subnetsDistinct, type Check, type CreateRun, type Outcome} from './checks.js'

const N = Number(process.env.CREATES_N ?? 20)
const DUP = Number(process.env.CREATES_DUP ?? 3)
/** What one lab host (systemd, sshd, dockerd, containerd, the router) may take, with room for the create's own work. */
const HOST_MB = Number(process.env.CREATES_HOST_MB ?? 600)
/** Kept free for the machine itself, etcd and the CLI processes. */
const RESERVE_MB = 3072
const RANGE = process.env.CREATES_RANGE ?? '198.19.0.0/19'
const TIMEOUT_MS = Number(process.env.CREATES_TIMEOUT_S ?? 900) * 1000
/** After the last create: how long every router may take to list every other machine. */
const MESH_TIMEOUT_MS = 180_000
const OUT = process.env.CREATES_OUT ?? join(REPO_ROOT, 'bench/out')
const DUP_NAME = 'dup'
const TOKEN = `creates-bench-${process.pid}`
const PREFIX = `crb-${process.pid}`

/**
 * inotify instances are counted per user for the whole kernel (default limit 128), and every
 * lab host shares this kernel and runs as root: 20 hosts' systemd and dockerd take about 150,
 * and wireguard-go, which needs one for its control socket, then fails ("Failed to listen on
 * uapi socket: too many open files") and the router restarts for ever. Real hosts each have
 * their own kernel; the bench raises the shared limit for its run and puts it back after.
 */
const INOTIFY_INSTANCES = {path: '/proc/sys/fs/inotify/max_user_instances', value: 8192}

async function withRaisedInotify<T>(fn: () => Promise<T>): Promise<T> {
  const saved = readFileSync(INOTIFY_INSTANCES.path, 'utf8').trim()
  writeFileSync(INOTIFY_INSTANCES.path, String(Math.max(Number(saved), INOTIFY_INSTANCES.value)))
  try {
    return await fn()
  } finally {
    writeFileSync(INOTIFY_INSTANCES.path, saved)
  }
}

/** MemAvailable of /proc/meminfo, in MiB. */
function memAvailableMb(): number {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))
  if (!m) throw new Error('no MemAvailable line in /proc/meminfo')
  return Number(m[1]) / 1024
}

/** Starts every create at once; resolves with each one's exit and time, its stderr kept in `logDir`. */
async function createAll(env: CliEnv, names: string[], simUrl: string, logDir: string): Promise<CreateRun[]> {
  const started = performance.now()
  return Promise.all(names.map((name, i) => new Promise<CreateRun>(resolve => {
    const child = spawn(process.execPath, [CLUSTER_BIN, 'create', '-d', 'digitalocean', '--digitalocean-image', 'debian-13-x64',
      '--overlay-range', RANGE, '--dns-upstream', DNS_IP, name], {
      env: {...process.env, CLUSTER_STORAGE_PATH: env.storage, CLUSTER_KV_ENDPOINTS: env.endpoints, CLUSTER_NAME: env.clusterName,
        DIGITALOCEAN_ACCESS_TOKEN: TOKEN, DIGITALOCEAN_API_URL: simUrl},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', d => (stderr += d))
    // Ctrl-C first (the create rolls back), then a kill: a hung create is reported, not waited for.
    const interrupt = setTimeout(() => {
      child.kill('SIGINT')
      setTimeout(() => child.kill('SIGKILL'), 120_000).unref()
    }, TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(interrupt)
      writeFileSync(join(logDir, `${name}-${i}.log`), stderr)
      const lastLine = stderr.trim().split('\n').at(-1) ?? ''
      // Interrupted at the timeout counts as hung even if the rollback then exited cleanly.
      const hung = performance.now() - started >= TIMEOUT_MS
      resolve({name, code: hung || signal ? null : code, seconds: (performance.now() - started) / 1000, lastLine})
    })
  })))
}

/** Every router's status by machine, and why there is none where there is none (`cluster net status --json`). */
async function routerStatuses(env: CliEnv): Promise<{statuses: Map<string, RouterStatus>; missing: Map<string, string>}> {
  const rows = JSON.parse(await cliOk(env, ['net', 'status', '--json'])) as Array<{machine: string; value?: RouterStatus | null; error?: string}>
  return {
    statuses: new Map(rows.flatMap(r => r.value ? [[r.machine, r.value] as const] : [])),
    missing: new Map(rows.flatMap(r => r.value ? [] : [[r.machine, r.error ?? 'no status file: the router is not running'] as const])),
  }
}

type Mesh = Awaited<ReturnType<typeof routerStatuses>> & {seconds: number}

/** Polls until every ready machine's router is connected and lists every other ready machine; seconds from now, or NaN. */
async function waitForMesh(env: CliEnv, ready: string[]): Promise<Mesh> {
  const started = performance.now()
  for (;;) {
    const found = await routerStatuses(env)
    const meshed = ready.every(name => {
      const s = found.statuses.get(name)
      return s?.etcd.connected && new Set(s.peers.map(p => p.name)).size === ready.length - 1
    })
    if (meshed) return {...found, seconds: (performance.now() - started) / 1000}
    if (performance.now() - started > MESH_TIMEOUT_MS) return {...found, seconds: NaN}
    await sleep(1000)
  }
}

/** Where the mesh is incomplete: each router's peer count, or why it has no status. */
function meshGaps(mesh: Mesh, ready: string[]): string {
  return ready.flatMap(name => {
    const s = mesh.statuses.get(name)
    if (!s) return [`${name}: ${mesh.missing.get(name) ?? 'not listed'}`]
    if (!s.etcd.connected) return [`${name}: etcd unreachable since ${s.etcd.since}`]
    return s.peers.length === ready.length - 1 ? [] : [`${name}: ${s.peers.length} peers`]
  }).join('; ')
}

interface Sources {
  store: string[]
  etcdMachines: string[]
  leases: Map<string, string>
  peers: string[]
  dns: number
  droplets: string[]
  keys: string[]
}

/** What exists now, in the store, etcd and the simulator. */
async function readSources(env: CliEnv, etcd: Etcd3, sim: DoSimulator): Promise<Sources> {
  const layout = keys(clusterPrefix(env.clusterName))
  const under = async (prefix: string) => Object.entries(await etcd.getAll().prefix(prefix).strings())
  const machinesDir = join(env.storage, 'machines')
  const {droplets, keys: sshKeys} = sim.snapshot()
  return {
    store: existsSync(machinesDir) ? readdirSync(machinesDir) : [],
    etcdMachines: (await under(layout.machines)).map(([k]) => k.slice(layout.machines.length)),
    leases: new Map((await under(layout.subnets)).map(([k, owner]) => [subnetFromKey(k), owner])),
    peers: (await under(layout.peers)).map(([k]) => k.slice(layout.peers.length)),
    dns: (await under(layout.dns)).length,
    droplets: droplets.map(d => d.name),
    keys: sshKeys.map(k => k.name),
  }
}

/** How many of each resource carry `name` (the DO driver names a machine's SSH key `cluster-NAME-ID`). */
function tracesOf(name: string, s: Sources): Record<string, number> {
  const count = (list: string[]) => list.filter(n => n === name).length
  return {
    droplets: count(s.droplets),
    'ssh keys': s.keys.filter(k => k.startsWith(`cluster-${name}-`)).length,
    'etcd records': count(s.etcdMachines),
    'subnet leases': [...s.leases.values()].filter(o => o === name).length,
    'store folders': count(s.store),
  }
}

function table(rows: Array<[string, string]>): string {
  return ['| what | figure |', '|---|---|', ...rows.map(([a, b]) => `| ${a} | ${b.replaceAll('|', '\\|')} |`)].join('\n')
}

async function main(): Promise<number> {
  const availableMb = memAvailableMb()
  const fits = Math.floor((availableMb - RESERVE_MB) / HOST_MB)
  // The same-name race makes one machine too.
  const n = Math.min(N, fits - (DUP > 0 ? 1 : 0))
  if (n < 2) throw new Error(`only ${fits} lab hosts of ${HOST_MB} MB fit in ${Math.round(availableMb)} MB available`)
  const capacity = `${Math.round(availableMb)} MB available, ${HOST_MB} MB a host: ${fits} fit; ${n} of ${N} asked for${n < N ? ' (NOT all)' : ''}`
  console.log(`== creates: ${n} \`cluster create -d digitalocean\` + ${DUP} of one name at once, one store, one etcd (${capacity})`)

  const stamp = new Date().toISOString().replaceAll(':', '-').replace('.', '-')
  const logDir = join(OUT, `creates-${stamp}`)
  mkdirSync(logDir, {recursive: true})
  const sim = new DoSimulator({token: TOKEN, backend: new LabBackend({prefix: PREFIX, imageFor: () => 'trixie'}), readyPollMs: 250})
  const simUrl = await sim.listen()
  const env = newCliEnv(`creates-${randomBytes(3).toString('hex')}`, ETCD_ENDPOINT)
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  let minAvailable = availableMb
  const sampler = setInterval(() => (minAvailable = Math.min(minAvailable, memAvailableMb())), 1000)
  try {
    const names = Array.from({length: n}, (_, i) => `c${String(i + 1).padStart(2, '0')}`)
    const runs = await createAll(env, [...names, ...Array<string>(DUP).fill(DUP_NAME)], simUrl, logDir)
    const distinct = runs.filter(r => r.name !== DUP_NAME)
    const dupRuns = runs.filter(r => r.name === DUP_NAME)
    const ok = runs.filter(r => r.code === 0)
    // Two winners of the same name would be one name here: the race's own check reports them.
    const readyNames = [...new Set(ok.map(r => r.name))]
    const allReadyS = Math.max(...ok.map(r => r.seconds))
    console.error(`all creates exited; ${ok.length} of ${runs.length} exit 0, the last ready at ${allReadyS.toFixed(1)} s`)

    const mesh = await waitForMesh(env, readyNames)
    // Why a router has no status is in its journal on the droplet's lab host.
    for (const d of sim.snapshot().droplets.filter(d => mesh.missing.has(d.name))) {
      const journal = await run('docker', ['exec', `${PREFIX}-${d.id}`, 'sh', '-c', 'systemctl status cluster-router; journalctl -b -u cluster-router | tail -n 60'])
      writeFileSync(join(logDir, `${d.name}-router.log`), journal.stdout + journal.stderr)
    }
    const docker = new Map(await Promise.all(readyNames.map(async name =>
      [name, (await cli(env, ['version', '--json', name])).code === 0] as const)))
    const sources = await readSources(env, etcd, sim)
    const outcomes: Outcome[] = distinct.map(r => ({
      run: r,
      dockerAnswers: docker.get(r.name) ?? false,
      routerUp: mesh.statuses.get(r.name)?.etcd.connected ?? false,
      traces: tracesOf(r.name, sources),
    }))
    const machines = [...new Set([...readyNames, ...(sources.etcdMachines.includes(DUP_NAME) ? [DUP_NAME] : [])])]
    const routerSubnets = new Map([...mesh.statuses].map(([name, s]) => [name, s.subnet]))
    const dupTraces = tracesOf(DUP_NAME, sources)
    const checks: Check[] = [
      namesUnique({store: sources.store, etcd: sources.etcdMachines, droplets: sources.droplets}, machines),
      subnetsDistinct(sources.leases, machines, routerSubnets),
      readyOrRolledBack(outcomes),
      ...(DUP > 0 ? [sameNameRace(dupRuns, dupTraces)] : []),
    ]

    const rmStarted = performance.now()
    const rm = await cli(env, ['rm', '-f', '-y', ...sources.store])
    const rmS = (performance.now() - rmStarted) / 1000
    const after = await readSources(env, etcd, sim)
    const labHosts = (await run('docker', ['ps', '-aq', '--filter', `name=^${PREFIX}-`])).stdout.split('\n').filter(Boolean).length
    checks.push(nothingLeft({droplets: after.droplets.length, 'ssh keys': after.keys.length, 'lab hosts': labHosts,
      'etcd machine records': after.etcdMachines.length, 'subnet leases': after.leases.size, 'peer records': after.peers.length,
      'dns records': after.dns, 'store folders': after.store.length}))
    if (rm.code !== 0) checks.push({what: 'cluster rm -f -y', ok: false, detail: rm.stderr.trim().split('\n').at(-1) ?? ''})

    const times = distinct.filter(r => r.code === 0).map(r => r.seconds)
    const rows: Array<[string, string]> = [
      ['creates started at once', `${n} names + ${DUP} of one name = ${runs.length} processes; ${capacity}`],
      ['time until all ready (last create exited 0)', `${allReadyS.toFixed(1)} s`],
      ['per create, p50 / p95 / max', `${percentile(times, 50).toFixed(1)} / ${percentile(times, 95).toFixed(1)} / ${Math.max(...times).toFixed(1)} s`],
      ['every router lists every other (after the last create)', Number.isNaN(mesh.seconds)
        ? `not within ${MESH_TIMEOUT_MS / 1000} s: ${meshGaps(mesh, readyNames)}` : `${mesh.seconds.toFixed(1)} s`],
      ['ready / rolled back / hung', `${times.length} / ${distinct.filter(r => r.code !== 0 && r.code !== null).length} / ${distinct.filter(r => r.code === null).length}`],
      ['least memory available during the run', `${Math.round(minAvailable)} MB (of ${Math.round(availableMb)} MB before)`],
      ['cluster rm -f -y of all', `${rmS.toFixed(1)} s, exit ${rm.code}`],
      ...checks.map(c => [`${c.ok ? 'ok' : '**FAILED**'}: ${c.what}`, c.detail] as [string, string]),
    ]
    const md = table(rows)
    console.log(md)
    writeFileSync(join(OUT, `creates-${stamp}.md`), md + '\n')
    writeFileSync(join(OUT, `creates-${stamp}.json`), JSON.stringify({date: new Date().toISOString(), n, dup: DUP, range: RANGE, capacity,
      allReadyS, meshS: mesh.seconds, rmS, minAvailableMb: minAvailable, runs, checks}, null, 2) + '\n')
    console.log(`output: ${join(OUT, `creates-${stamp}.{md,json}`)}, logs ${logDir}/`)
    return checks.every(c => c.ok) ? 0 : 1
  } finally {
    clearInterval(sampler)
    // A failed run must not leave droplets (lab hosts) or the cluster's keys behind.
    await sim.close()
    await etcd.delete().prefix(`${clusterPrefix(env.clusterName)}/`).exec()
    etcd.close()
    rmSync(env.storage, {recursive: true, force: true})
  }
}

process.exitCode = await withRaisedInotify(main)
