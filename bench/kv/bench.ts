/**
 * The cluster's own etcd, measured on fresh lab hosts (trixie: Docker and etcd-server
 * installed, as on a cloud image with Docker) and printed side by side:
 *   - the first `cluster create` against the lab's external etcd vs with no etcd configured
 *     (it then makes its machine the etcd's first member): the time the store adds
 *     (target < 10 s), interleaved runs on one host;
 *   - `cluster kv add` of one member (target < 15 s);
 *   - while a third create grows the etcd from 1 to 3 members: a loop of `cluster ls` and a
 *     loop of router-like writes (the router's own etcd client, following the member list
 *     as routers do) — failed operations counted (target 0);
 *   - resident memory of one etcd member.
 * Run: node dist/bench/kv/bench.js (bash bench/run.sh kv).
 */
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, LAB_OVERLAY_RANGE, SSH_KEY, execOk, removeHost, type LabHost} from '../../test/lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../../test/support/cli.js'
import {startLabHost} from '../overlay/lab-overlay.js'
import {EtcdClient} from '../../router/etcd/client.js'
import {followMembers} from '../../router/members.js'

const ROUNDS = Number(process.env.KV_BENCH_ROUNDS ?? 2)
const names = ['kvb-a', 'kvb-b', 'kvb-c']
const createArgs = (h: LabHost) => ['create', '-q', '-d', 'generic', '--generic-ip-address', h.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', LAB_OVERLAY_RANGE, h.name]
const seconds = (since: number) => (Date.now() - since) / 1000
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

async function timed(env: CliEnv, args: string[]): Promise<number> {
  const t = Date.now()
  await cliOk(env, args)
  return seconds(t)
}

async function createPair(host: LabHost, round: number): Promise<{external: number; own: number}> {
  const external = newCliEnv(`kvb-ext-${process.pid}-${round}`, ETCD_ENDPOINT)
  const own = newCliEnv(`kvb-own-${process.pid}-${round}`, '')
  try {
    const e = await timed(external, createArgs(host))
    await cliOk(external, ['rm', '-y', host.name])
    const o = await timed(own, createArgs(host))
    await cliOk(own, ['rm', '-f', '-y', host.name])
    return {external: e, own: o}
  } finally {
    const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
    await etcd.delete().prefix(`/cluster/kvb-ext-${process.pid}-${round}/`).exec().catch(() => undefined)
    etcd.close()
    for (const env of [external, own]) rmSync(env.storage, {recursive: true, force: true})
  }
}

/** `cluster ls` again and again, and router-like puts, until stopped; counts what failed. */
function loadLoops(env: CliEnv, prefix: string) {
  const cfg = JSON.parse(readFileSync(join(env.storage, 'config.json'), 'utf8')) as {kv: {endpoints: string[]; cacert: string; cert: string; key: string}}
  const router = new EtcdClient({endpoints: cfg.kv.endpoints, connectTimeoutMs: 3000,
    tls: {ca: readFileSync(cfg.kv.cacert), cert: readFileSync(cfg.kv.cert), key: readFileSync(cfg.kv.key)}})
  const stop = new AbortController()
  const counts = {ls: 0, lsFailed: 0, puts: 0, putsFailed: 0, errors: [] as string[]}
  const follow = followMembers(router, {info: () => undefined, warn: () => undefined}, stop.signal, join(env.storage, 'bench-router-endpoints.json'), 2000)
  const ls = (async () => {
    while (!stop.signal.aborted) {
      const r = await cli(env, ['ls', '-q', '-t', '5'])
      counts.ls++
      if (r.code !== 0) {
        counts.lsFailed++
        counts.errors.push(`ls: ${r.stderr.trim()}`)
      }
    }
  })()
  const puts = (async () => {
    while (!stop.signal.aborted) {
      try {
        await router.put(`${prefix}bench/router-probe`, String(counts.puts))
      } catch (error) {
        counts.putsFailed++
        counts.errors.push(`put: ${(error as Error).message}`)
      }
      counts.puts++
      await new Promise(r => setTimeout(r, 100))
    }
  })()
  return {counts, stop: async () => {
    stop.abort()
    await Promise.all([ls, puts, follow])
    router.close()
  }}
}

async function main(): Promise<void> {
  const hosts = await Promise.all(names.map(startLabHost))
  const [a, b, c] = hosts
  try {
    const pairs: {external: number; own: number}[] = []
    for (let i = 0; i < ROUNDS; i++) pairs.push(await createPair(a, i))

    const cluster = `kvb-grow-${process.pid}`
    const env = newCliEnv(cluster, '')
    try {
      await cliOk(env, createArgs(a))
      const rss = Number((await execOk(a.name, ['sh', '-c', 'ps -o rss= -C etcd | head -1'])).trim()) / 1024
      await cliOk(env, createArgs(b))
      const addStarted = Date.now()
      const addRun = await cli(env, ['kv', 'add', b.name])
      if (addRun.code !== 0) throw new Error(`kv add failed: ${addRun.stderr}`)
      const add = seconds(addStarted)
      await cliOk(env, ['kv', 'remove', b.name])
      // Growth 1 → 3 (b and c join when c makes three machines), under load.
      const load = loadLoops(env, `/cluster/${cluster}/`)
      const t = Date.now()
      await cliOk(env, createArgs(c))
      const grow = seconds(t)
      await new Promise(r => setTimeout(r, 3000))
      await load.stop()
      const members = (JSON.parse(await cliOk(env, ['kv', 'status', '--json'])) as {members: unknown[]}).members.length

      const ext = mean(pairs.map(p => p.external))
      const own = mean(pairs.map(p => p.own))
      const {counts} = load
      console.log('\n== kv: the cluster\'s own etcd (mean seconds)')
      console.log(`${'what'.padEnd(58)} ${'value'.padStart(9)}   vs / target`)
      console.log(`${'first create, external etcd (lab etcd)'.padEnd(58)} ${ext.toFixed(1).padStart(9)}   ${pairs.map(p => p.external.toFixed(1)).join(', ')}`)
      console.log(`${'first create, no etcd configured (makes its own)'.padEnd(58)} ${own.toFixed(1).padStart(9)}   ${pairs.map(p => p.own.toFixed(1)).join(', ')}`)
      console.log(`${'  time the store adds'.padEnd(58)} ${(own - ext).toFixed(1).padStart(9)}   target < 10 s`)
      console.log(`${'kv add of one member (learner, caught up, promoted)'.padEnd(58)} ${add.toFixed(1).padStart(9)}   target < 15 s`)
      console.log(`${'create of the third machine, growing 1 → 3 members'.padEnd(58)} ${grow.toFixed(1).padStart(9)}   ${members} members after`)
      console.log(`${'  cluster ls during it: failed / run'.padEnd(58)} ${`${counts.lsFailed}/${counts.ls}`.padStart(9)}   target 0 failed`)
      console.log(`${'  router-like etcd writes during it: failed / made'.padEnd(58)} ${`${counts.putsFailed}/${counts.puts}`.padStart(9)}   target 0 failed`)
      console.log(`${'etcd member resident memory, MB (1 member, fresh cluster)'.padEnd(58)} ${rss.toFixed(1).padStart(9)}`)
      for (const e of counts.errors.slice(0, 5)) console.log(`  failure: ${e.split('\n')[0]}`)
      console.log('kv add, step by step (its own progress lines):')
      for (const line of addRun.stderr.trim().split('\n')) console.log(`  ${line}`)
    } finally {
      for (const h of [c, b, a]) await cli(env, ['rm', '-f', '-y', h.name])
      rmSync(env.storage, {recursive: true, force: true})
    }
  } finally {
    await Promise.all(hosts.map(h => removeHost(h.name)))
  }
}

await main()
