/**
 * Zero setup on the lab: a store with no etcd configured creates its first machine, which
 * becomes the cluster's own etcd (TLS, RBAC) with no other command; the CLI and the routers
 * use it; a flag or variable that hides it is said on stderr. The etcd grows to three
 * members when the cluster has three machines, `kv add`/`kv remove` change it by hand, the
 * routers and the CLI follow the member list, so the cluster keeps working with the first
 * machine's host stopped, and `rm` of the first machine hands its membership over without
 * losing quorum. The last member goes only with -f, and the store then forgets the etcd.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {DNS_IP, ETCD_ENDPOINT, IMAGES, LAB_OVERLAY_RANGE, SSH_KEY, exec, execOk, removeHost, startStoppedHost, stopHost, type LabHost} from '../lab/lab.js'
import {startLabHost} from '../../bench/overlay/lab-overlay.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'
import {waitFor} from '../support/wait.js'

const CLUSTER = `e2e-own-${process.pid}`
const prefix = `/cluster/${CLUSTER}/`
const NODES = ['o1', 'o2', 'o3', 'o4'] as const
type Node = typeof NODES[number]
const hosts = new Map<Node, LabHost>()
/** No etcd anywhere: CLUSTER_KV_ENDPOINTS is empty, the store's config names none. */
const env: CliEnv = newCliEnv(CLUSTER, '')
const hostName = (n: Node) => `owne2e-${n}`
const createArgs = (n: Node) => ['create', '-d', 'generic', '--generic-ip-address', hosts.get(n)!.ip, '--generic-ssh-key', SSH_KEY,
  '--overlay-range', LAB_OVERLAY_RANGE, '--backend', 'vxlan', '--dns-upstream', DNS_IP, n]
const HOST_ETCDCTL = 'ETCDCTL_API=3 etcdctl --command-timeout=5s --cacert /etc/cluster/kv/ca.pem --cert /etc/cluster/kv/client.pem --key /etc/cluster/kv/client-key.pem'
interface KvConfig {endpoints: string[]; cacert: string; cert: string; key: string}
const config = () => JSON.parse(readFileSync(join(env.storage, 'config.json'), 'utf8')) as {clusterName?: string; kv?: KvConfig}
const rootClient = (endpoints: string[]) => new Etcd3({hosts: endpoints, dialTimeout: 3000, credentials: {
  rootCertificate: readFileSync(join(env.storage, 'certs/etcd-member-ca.pem')),
  certChain: readFileSync(join(env.storage, 'certs/etcd-root.pem')),
  privateKey: readFileSync(join(env.storage, 'certs/etcd-root-key.pem')),
}})
const endpointOf = (n: Node) => `https://${hosts.get(n)!.ip}:2379`
interface Status {members: {name: string; healthy: boolean; leader: boolean}[]; healthy: boolean}
const status = async (): Promise<Status> => JSON.parse(await cliOk(env, ['kv', 'status', '--json'])) as Status
const memberNames = async () => (await status()).members.map(m => m.name).sort()
/** One line on stderr, a non-zero exit. */
function refused(r: {code: number; stderr: string}, pattern: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr)
  assert.equal(r.stderr.trim().split('\n').filter(l => !l.startsWith('Note: ')).length, 1, r.stderr)
  assert.match(r.stderr, pattern)
}
/** A sleeping busybox named `name` on `n`; returns its overlay address. */
async function sleeper(n: Node, name: string): Promise<string> {
  await execOk(hostName(n), ['docker', 'run', '-d', '--name', name, IMAGES.busybox, 'sleep', '3600'])
  return (await execOk(hostName(n), ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim()
}
/** The addresses a container on `n` gets for `name` from its router's DNS. */
async function lookup(n: Node, container: string, name: string): Promise<string[]> {
  const r = await exec(hostName(n), ['docker', 'exec', container, 'nslookup', '-type=a', name])
  return [...r.stdout.split(/\n\s*\n/).slice(1).join('\n').matchAll(/Address:\s*(\d+\.\d+\.\d+\.\d+)/g)].map(m => m[1])
}
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`

const until = <T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000) => waitFor(what, fn, ms, 500)

before(async () => {
  const started = await Promise.all(NODES.map(n => startLabHost(hostName(n))))
  NODES.forEach((n, i) => hosts.set(n, started[i]))
  console.log(`hosts up at ${since()}`)
})

after(async () => {
  for (const n of NODES) await cli(env, ['rm', '-f', '-y', n])
  await Promise.all(NODES.map(n => removeHost(hostName(n))))
  rmSync(env.storage, {recursive: true, force: true})
  console.log(`cleaned up at ${since()}`)
})

test('a first create that fails after making the etcd rolls it back too: nothing configured, nothing left on the host', async () => {
  const r = await cli(env, [...createArgs('o1').slice(0, -1), '--engine-opt', 'no-such-flag=1', 'o1'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /No etcd is configured: making o1 the first member/)
  assert.match(r.stderr, /^Error: dockerd on [\d.]+ refused the engine configuration: unknown flag: --no-such-flag/m)
  assert.match(r.stderr, /The cluster's etcd \(https:\/\/[\d.]+:2379\) is gone with its last member; config.json no longer names it/)
  assert.equal(config().kv, undefined)
  assert.equal((await exec(hostName('o1'), ['test', '-e', '/var/lib/cluster-etcd'])).code, 1, 'no etcd data left')
  assert.equal((await exec(hostName('o1'), ['test', '-e', '/etc/systemd/system/cluster-etcd.service'])).code, 1, 'no etcd unit left')
  assert.ok(!existsSync(join(env.storage, 'kv-first-member.json')), 'the claim is released')
  assert.deepEqual(readdirSync(join(env.storage, 'machines')), [])
})

test('with no etcd configured, the first create makes its machine the cluster\'s etcd (TLS, RBAC) and says so', async () => {
  const started = Date.now()
  const r = await cli(env, createArgs('o1'))
  assert.equal(r.code, 0, r.stderr)
  console.log(`first create with its own etcd took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.equal(r.stderr.match(/No etcd is configured: making o1 the first member of the cluster's own etcd \(TLS, RBAC\)/g)?.length, 1, r.stderr)
  const hints = r.stderr.split('\n').filter(l => l.startsWith('Hint: '))
  assert.equal(hints.length, 1, r.stderr)
  assert.match(hints[0], /the cluster's etcd has one member, on o1/)
  assert.ok(r.stderr.trimEnd().endsWith(hints[0]), 'the hint is the last line')

  const cfg = config()
  const ip = hosts.get('o1')!.ip
  assert.equal(cfg.clusterName, CLUSTER)
  assert.deepEqual(cfg.kv, {endpoints: [`https://${ip}:2379`], cacert: join(env.storage, 'certs/etcd-member-ca.pem'),
    cert: join(env.storage, 'certs/etcd-root.pem'), key: join(env.storage, 'certs/etcd-root-key.pem')})
  assert.equal(statSync(cfg.kv!.key).mode & 0o777, 0o600)
  assert.equal(await execOk(hostName('o1'), ['systemctl', 'is-active', 'cluster-etcd']), 'active\n')

  // Routers use it with their own credentials; the host's role cannot write the machines.
  const router = JSON.parse(await execOk(hostName('o1'), ['cat', '/etc/cluster/router.json'])) as {kv: Record<string, unknown>}
  assert.deepEqual(router.kv, {endpoints: cfg.kv!.endpoints, cacert: '/etc/cluster/kv/ca.pem', cert: '/etc/cluster/kv/client.pem', key: '/etc/cluster/kv/client-key.pem'})
  const root = rootClient(cfg.kv!.endpoints)
  try {
    await until('the router of o1 announces itself', async () => (await root.get(`${prefix}peers/o1`).string()) ?? undefined)
    assert.ok(await root.get(`${prefix}machines/o1`).string())
  } finally {
    root.close()
  }
  const forged = await exec(hostName('o1'), ['sh', '-c', `${HOST_ETCDCTL} --endpoints ${cfg.kv!.endpoints[0]} put ${prefix}machines/o9 forged`])
  assert.notEqual(forged.code, 0)
  assert.match(forged.stderr, /permission denied/)
  // No client certificate: refused at the TLS handshake.
  const noCert = new Etcd3({hosts: cfg.kv!.endpoints, credentials: {rootCertificate: readFileSync(cfg.kv!.cacert)}, dialTimeout: 3000})
  await assert.rejects(noCert.get(`${prefix}settings`).string())
  noCert.close()

  assert.equal(await cliOk(env, ['ls', '-q']), 'o1\n')
  const status = JSON.parse(await cliOk(env, ['kv', 'status', '--json'])) as {members: {name: string; healthy: boolean}[]; healthy: boolean}
  assert.deepEqual(status.members.map(m => [m.name, m.healthy]), [['o1', true]])
  // The only machine runs the only member: rm is refused, nothing changes.
  const cfgBefore = readFileSync(join(env.storage, 'config.json'), 'utf8')
  refused(await cli(env, ['rm', '-y', 'o1']), /^Error: machine "o1" runs the only member of the cluster's etcd: removing it deletes every record of the cluster; create another machine first, or run `cluster rm -f o1`$/m)
  assert.equal(readFileSync(join(env.storage, 'config.json'), 'utf8'), cfgBefore)
  assert.equal(await cliOk(env, ['ls', '-q']), 'o1\n')
  console.log(`o1 checked at ${since()}`)
})

test('a variable that hides the store\'s etcd is said on stderr', async () => {
  const r = await cli({...env, endpoints: ETCD_ENDPOINT}, ['ls', '-q'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, /^Note: CLUSTER_KV_ENDPOINTS \(http:\/\/198\.18\.0\.2:2379\) overrides the etcd in this store's config\.json \(https:\/\/[\d.]+:2379\)$/m)
  const quiet = await cli(env, ['ls', '-q'])
  assert.doesNotMatch(quiet.stderr, /overrides/)
})

test('a second create uses that etcd; bad --kv-members and kv add of unknown or unready machines change nothing', async () => {
  const r = await cli(env, createArgs('o2'))
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /No etcd is configured|Hint: |Growing/)
  assert.match(r.stderr, new RegExp(`Checking etcd at ${endpointOf('o1').replaceAll('.', '\\.')}`))
  assert.equal(await cliOk(env, ['ls', '-q']), 'o1\no2\n')
  assert.deepEqual(await memberNames(), ['o1'], 'two machines keep one member')

  refused(await cli(env, [...createArgs('o3').slice(0, -1), '--kv-members', '2', 'o3']), /^Error: --kv-members 2 is not offered: use auto, 1, 3, 5 /m)
  refused(await cli(env, ['init', '--kv-members', '4']), /^Error: --kv-members 4 is not offered/m)
  refused(await cli(env, ['kv', 'add', 'nosuch']), /^Error: machine "nosuch" does not exist in cluster /m)
  refused(await cli(env, ['kv', 'add', 'o1']), /^Error: machine o1 is a member of the cluster's etcd already/m)
  const root = rootClient(config().kv!.endpoints)
  try {
    const o2 = JSON.parse((await root.get(`${prefix}machines/o2`).string())!) as {state: string}
    await root.put(`${prefix}machines/ghost`).value(JSON.stringify({...o2, name: 'ghost', state: 'creating'}))
    refused(await cli(env, ['kv', 'add', 'ghost']), /^Error: machine ghost is creating, not ready: run `cluster provision ghost` first$/m)
    await root.delete().key(`${prefix}machines/ghost`)
  } finally {
    root.close()
  }
  assert.equal(await cliOk(env, ['ls', '-q']), 'o1\no2\n')
  assert.deepEqual(await memberNames(), ['o1'])
  assert.equal((await exec(hostName('o3'), ['test', '-e', '/etc/cluster'])).code, 1, 'the refused create touched nothing on o3')
})

test('the third machine grows the etcd to three members with no extra command; routers and the CLI follow', async () => {
  const started = Date.now()
  const r = await cli(env, createArgs('o3'))
  assert.equal(r.code, 0, r.stderr)
  console.log(`create o3 with the growth to 3 members took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.match(r.stderr, /Growing the cluster's etcd to 3 members \(kv-members auto\): adding o2, o3/)
  const s = await status()
  assert.deepEqual(s.members.map(m => [m.name, m.healthy]).sort(), [['o1', true], ['o2', true], ['o3', true]], r.stderr)
  assert.deepEqual(config().kv!.endpoints.sort(), (['o1', 'o2', 'o3'] as Node[]).map(endpointOf).sort())
  // Every router learns the three members from etcd itself (o1's and o2's were provisioned with one).
  for (const n of ['o1', 'o2', 'o3'] as Node[]) {
    await until(`the router of ${n} follows the members`, async () => {
      const saved = JSON.parse(await execOk(hostName(n), ['cat', '/var/lib/cluster/etcd-endpoints.json'])) as string[]
      return saved.length === 3 ? saved : undefined
    }, 40_000)
  }
  // Both etcd ports refuse a TLS client without a cluster certificate at the handshake.
  for (const port of [2379, 2380]) {
    const r = await exec(hostName('o2'), ['curl', '-sS', '--max-time', '5', '--cacert', '/etc/cluster/kv/ca.pem', `https://${hosts.get('o1')!.ip}:${port}/version`])
    assert.ok([35, 56].includes(r.code), `port ${port}: curl exited ${r.code}: ${r.stdout}${r.stderr}`)
  }
  const withCert = await exec(hostName('o2'), ['curl', '-sS', '--max-time', '5', '--cacert', '/etc/cluster/kv/ca.pem',
    '--cert', '/etc/cluster/kv/client.pem', '--key', '/etc/cluster/kv/client-key.pem', `https://${hosts.get('o1')!.ip}:2379/version`])
  assert.equal(withCert.code, 0, withCert.stderr)
  assert.match(withCert.stdout, /etcdserver/)
  // Containers on two hosts reach each other by name.
  await sleeper('o2', 'web2')
  const ip3 = await sleeper('o3', 'web3')
  await until('web3 resolves on o2', async () => (await lookup('o2', 'web2', 'web3')).includes(ip3) || undefined)
  const ping = await exec(hostName('o2'), ['docker', 'exec', 'web2', 'ping', '-c', '2', '-W', '3', 'web3'])
  assert.equal(ping.code, 0, ping.stdout + ping.stderr)
  console.log(`three members at ${since()}`)
})

test('kv remove and kv add by hand; a removal that would lose quorum is refused', async () => {
  assert.match(await cliOk(env, ['kv', 'remove', 'o3']), /^o3 left the cluster's etcd$/m)
  assert.deepEqual(await memberNames(), ['o1', 'o2'])
  assert.equal((await exec(hostName('o3'), ['test', '-e', '/var/lib/cluster-etcd'])).code, 1)
  const started = Date.now()
  assert.match(await cliOk(env, ['kv', 'add', 'o3']), /^o3 is a member of the cluster's etcd \(added in [\d.]+ s\)$/m)
  console.log(`kv add o3 took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.deepEqual(await memberNames(), ['o1', 'o2', 'o3'])
  assert.ok((await status()).members.every(m => m.healthy))

  await execOk(hostName('o2'), ['systemctl', 'stop', 'cluster-etcd'])
  try {
    refused(await cli(env, ['kv', 'remove', 'o1']), /^Error: removing o1 from the etcd would lose quorum: only 1 of the 2 members left would answer, fewer than the 2 etcd needs: add a member first/m)
    assert.deepEqual(await memberNames(), ['o1', 'o2', 'o3'])
  } finally {
    await execOk(hostName('o2'), ['systemctl', 'start', 'cluster-etcd'])
  }
  await until('o2 healthy again', async () => (await status()).members.every(m => m.healthy) || undefined)
})

test('with the first machine\'s host stopped, ls, a new create and DNS keep working; it rejoins when started', async () => {
  await stopHost(hostName('o1'))
  try {
    const t = Date.now()
    assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'state=Running']), 'o2\no3\n')
    console.log(`ls with o1 stopped: ${((Date.now() - t) / 1000).toFixed(1)} s`)
    await cliOk(env, createArgs('o4'))
    assert.deepEqual(await memberNames(), ['o1', 'o2', 'o3'], 'four machines keep three members')
    const ip4 = await sleeper('o4', 'web4')
    // o2's router learns o4's peer record (written while o1 is down) and its DNS answers for it.
    await until('web4 resolves on o2', async () => (await lookup('o2', 'web2', 'web4')).includes(ip4) || undefined, 40_000)
    const ping = await exec(hostName('o2'), ['docker', 'exec', 'web2', 'ping', '-c', '2', '-W', '3', 'web4'])
    assert.equal(ping.code, 0, ping.stdout + ping.stderr)
  } finally {
    await startStoppedHost(hostName('o1'))
  }
  await until('o1 rejoins the etcd', async () => {
    const s = await status()
    return s.members.length === 3 && s.members.every(m => m.healthy) ? s : undefined
  }, 90_000)
  console.log(`o1 back at ${since()}`)
})

test('rm of the first machine hands its membership to another machine; quorum is never lost', async () => {
  const root = rootClient((['o2', 'o3'] as Node[]).map(endpointOf))
  let writes = 0
  const failures: string[] = []
  let stop = false
  // A router's way of writing, all through the rm: every put needs a quorum.
  const writer = (async () => {
    while (!stop) {
      const put = () => root.put(`${prefix}probe`).value(String(writes))
      try {
        // A write refused because the users changed under it (rm deletes o1's etcd user) is
        // retried once, as etcd's own client and the router's do: it says nothing of quorum.
        await put().catch(error => {
          if (!(error as Error).message.includes('revision of auth store is old')) throw error
          return put()
        })
      } catch (error) {
        failures.push((error as Error).message)
      }
      writes++
      await new Promise(r => setTimeout(r, 200))
    }
  })()
  try {
    const r = await cli(env, ['rm', '-y', 'o1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /o1 runs a member of the cluster's etcd: handing it to o4 first/)
  } finally {
    stop = true
    await writer
    await root.delete().key(`${prefix}probe`).catch(() => undefined)
    root.close()
  }
  console.log(`${writes} writes during rm o1, ${failures.length} failed`)
  assert.deepEqual(failures, [])
  assert.deepEqual(await memberNames(), ['o2', 'o3', 'o4'])
  assert.deepEqual(config().kv!.endpoints.sort(), (['o2', 'o3', 'o4'] as Node[]).map(endpointOf).sort())
  assert.equal(await cliOk(env, ['ls', '-q']), 'o2\no3\no4\n')
  const ip3 = (await execOk(hostName('o3'), ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web3'])).trim()
  assert.deepEqual(await lookup('o4', 'web4', 'web3'), [ip3])
})

test('the etcd shrinks as machines go; a lone member hands over too; the last one goes only with -f, and the store forgets the etcd', async () => {
  await cliOk(env, ['rm', '-y', 'o2'])
  assert.deepEqual(await memberNames(), ['o3', 'o4'])
  await cliOk(env, ['kv', 'remove', 'o3'])
  assert.deepEqual(await memberNames(), ['o4'])
  // The only member's machine, with another machine there: the etcd moves to it (1 → 2 → 1).
  const r = await cli(env, ['rm', '-y', 'o4'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /o4 runs a member of the cluster's etcd: handing it to o3 first/)
  assert.deepEqual(await memberNames(), ['o3'])
  assert.deepEqual(config().kv!.endpoints, [endpointOf('o3')])
  assert.equal(await cliOk(env, ['ls', '-q']), 'o3\n')

  const before = readFileSync(join(env.storage, 'config.json'), 'utf8')
  refused(await cli(env, ['rm', '-y', 'o3']), /^Error: machine "o3" runs the only member of the cluster's etcd/m)
  assert.equal(readFileSync(join(env.storage, 'config.json'), 'utf8'), before)
  await cliOk(env, ['rm', '-f', '-y', 'o3'])
  assert.equal(config().kv, undefined)
  assert.equal((await exec(hostName('o3'), ['test', '-e', '/var/lib/cluster-etcd'])).code, 1, 'the member\'s data is gone')
  const none = await cli(env, ['ls'])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /^Error: no etcd endpoint is configured: /m)
})
