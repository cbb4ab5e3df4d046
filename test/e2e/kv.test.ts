/**
 * `cluster kv` on the lab: three fresh trixie hosts adopted against the lab's plaintext
 * etcd become a 3-member etcd with mutual TLS and RBAC; the cluster moves onto it
 * (`cluster provision` moves the first routers), further machines are created against it,
 * a host's own credentials cannot touch another host's records, and the cluster keeps
 * working with one member stopped, which then rejoins. Snapshots are real etcd snapshots.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, statSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, SSH_KEY, LAB_OVERLAY_RANGE, startHost, removeHost, exec, execOk, type LabHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'

const CLUSTER = `e2e-kv-${process.pid}`
const prefix = `/cluster/${CLUSTER}/`
const NODES = ['m1', 'm2', 'm3', 'm4', 'm5'] as const
type Node = typeof NODES[number]
const MEMBERS: Node[] = ['m1', 'm2', 'm3']
const hosts = new Map<Node, LabHost>()
/** Phase 1: the lab's plaintext etcd. */
const plain: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
/** Phase 2: the same store, the etcd `kv create` made (TLS files from the local config it wrote). */
let secured: CliEnv
let endpoints: string[] = []
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`

const hostName = (n: Node) => `kve2e-${n}`
// --kv-members 3 (a setting of the first create): the etcd stays at three members when m4 and m5 come.
const createArgs = (n: Node) => ['create', '-d', 'generic', '--generic-ip-address', hosts.get(n)!.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', LAB_OVERLAY_RANGE, '--kv-members', '3', n]
const HOST_ETCDCTL = 'ETCDCTL_API=3 etcdctl --command-timeout=5s --cacert /etc/cluster/kv/ca.pem --cert /etc/cluster/kv/client.pem --key /etc/cluster/kv/client-key.pem'
const rootFiles = () => ({
  rootCertificate: readFileSync(join(plain.storage, 'certs/etcd-member-ca.pem')),
  certChain: readFileSync(join(plain.storage, 'certs/etcd-root.pem')),
  privateKey: readFileSync(join(plain.storage, 'certs/etcd-root-key.pem')),
})

interface Status {members: {name: string; leader: boolean; healthy: boolean; dbSize?: number; raftIndex?: string}[]; leader?: string; healthy: boolean}
const status = async (): Promise<Status> => JSON.parse(await cliOk(secured, ['kv', 'status', '--json'])) as Status

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise(r => setTimeout(r, 500))
  }
}

before(async () => {
  const started = await Promise.all(NODES.map(n => startHost({name: hostName(n), image: 'trixie'})))
  NODES.forEach((n, i) => hosts.set(n, started[i]))
  const results = await Promise.all(MEMBERS.map(n => cli(plain, createArgs(n))))
  results.forEach((r, i) => assert.equal(r.code, 0, `create ${MEMBERS[i]} failed:\n${r.stderr}`))
  console.log(`three machines created against the plaintext etcd at ${since()}`)
})

after(async () => {
  if (secured) {
    // Members one at a time: each rm hands its membership over or shrinks the etcd.
    for (const n of ['m5', 'm4', ...MEMBERS]) await cli(secured, ['rm', '-f', '-y', n])
  } else {
    await Promise.all(MEMBERS.map(n => cli(plain, ['rm', '-f', '-y', n])))
  }
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  await etcd.delete().prefix(prefix).exec()
  etcd.close()
  await Promise.all(NODES.map(n => removeHost(hostName(n))))
  rmSync(plain.storage, {recursive: true, force: true})
  console.log(`cleaned up at ${since()}`)
})

test('kv create --size 3 bootstraps a TLS + RBAC etcd on the three machines and points the CLI at it', async () => {
  const started = Date.now()
  const out = await cliOk(plain, ['kv', 'create', '--size', '3', ...MEMBERS])
  console.log(`kv create took ${((Date.now() - started) / 1000).toFixed(1)} s: ${out.split('\n')[0]}`)
  assert.match(out, /etcd ready with 3 member\(s\)/)
  assert.match(out, /cluster provision m1 m2 m3/)
  const cfg = JSON.parse(readFileSync(join(plain.storage, 'config.json'), 'utf8')) as {kv: {endpoints: string[]; cacert: string; cert: string; key: string}}
  endpoints = cfg.kv.endpoints
  assert.deepEqual(endpoints, MEMBERS.map(n => `https://${hosts.get(n)!.ip}:2379`))
  assert.equal(cfg.kv.cert, join(plain.storage, 'certs/etcd-root.pem'))
  assert.equal(cfg.kv.cacert, join(plain.storage, 'certs/etcd-member-ca.pem'))
  assert.equal(statSync(cfg.kv.key).mode & 0o777, 0o600)
  secured = {...plain, endpoints: endpoints.join(',')}
  // The member's key was made on the member and stays there, readable by etcd only.
  const perms = await execOk(hostName('m1'), ['stat', '-c', '%a %U:%G', '/etc/cluster-etcd/server-key.pem', '/etc/cluster-etcd'])
  assert.equal(perms, '640 root:etcd\n750 root:etcd\n')

  const s = await status()
  assert.deepEqual(s.members.map(m => m.name).sort(), MEMBERS)
  assert.equal(s.members.filter(m => m.leader).length, 1)
  assert.ok(s.members.every(m => m.healthy && (m.dbSize ?? 0) > 0), JSON.stringify(s))
  assert.ok(s.healthy)
  const table = await cliOk(secured, ['kv', 'status'])
  assert.match(table, /^NAME\s+ID\s+ENDPOINT\s+LEADER\s+HEALTH\s+DB SIZE\s+VERSION/)
  assert.equal(table.trim().split('\n').length, 4)
  // kv create refuses a machine that already is a member, before touching anything.
  const again = await cli(secured, ['kv', 'create', '--size', '1', 'm1'])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /^Error: m1 already holds etcd data in \/var\/lib\/cluster-etcd: /m)
})

test('clients without a certificate, or with a certificate that names no etcd user, are refused', async () => {
  const {rootCertificate} = rootFiles()
  const noCert = new Etcd3({hosts: endpoints, credentials: {rootCertificate}, dialTimeout: 3000})
  await assert.rejects(noCert.get(`${prefix}settings`).string())
  noCert.close()
  const plaintext = new Etcd3({hosts: endpoints.map(e => e.replace('https', 'http')), dialTimeout: 3000})
  await assert.rejects(plaintext.get(`${prefix}settings`).string())
  plaintext.close()
  // The CLI's Docker client certificate is of the Docker client CA, which etcd does not trust.
  const docker = new Etcd3({hosts: endpoints, credentials: {
    rootCertificate, certChain: readFileSync(join(plain.storage, 'certs/cert.pem')), privateKey: readFileSync(join(plain.storage, 'certs/key.pem')),
  }, dialTimeout: 3000})
  await assert.rejects(docker.get(`${prefix}settings`).string(), /certificate|handshake|alert|No connection established|unavailable/i)
  docker.close()
  // Root (the CLI's etcd-root certificate) reads the cluster records copied from the old etcd.
  const root = new Etcd3({hosts: endpoints, credentials: rootFiles()})
  const machines = await root.getAll().prefix(`${prefix}machines/`).keys()
  root.close()
  assert.deepEqual(machines.sort(), MEMBERS.map(n => `${prefix}machines/${n}`))
})

test('cluster provision moves the first routers onto the TLS etcd with their own credentials', async () => {
  const results = await Promise.all(MEMBERS.map(n => cli(secured, ['provision', n])))
  results.forEach((r, i) => assert.equal(r.code, 0, `provision ${MEMBERS[i]}:\n${r.stderr}`))
  for (const n of MEMBERS) {
    const cfg = JSON.parse(await execOk(hostName(n), ['cat', '/etc/cluster/router.json'])) as {kv: Record<string, unknown>}
    assert.deepEqual(cfg.kv, {endpoints, cacert: '/etc/cluster/kv/ca.pem', cert: '/etc/cluster/kv/client.pem', key: '/etc/cluster/kv/client-key.pem'})
    assert.equal(await execOk(hostName(n), ['stat', '-c', '%a', '/etc/cluster/kv/client-key.pem']), '600\n')
  }
  const root = new Etcd3({hosts: endpoints, credentials: rootFiles()})
  const peers = await until('the three routers announce themselves in the new etcd', async () => {
    const k = (await root.getAll().prefix(`${prefix}peers/`).keys()).sort()
    return k.length === 3 ? k : undefined
  })
  root.close()
  assert.deepEqual(peers, MEMBERS.map(n => `${prefix}peers/${n}`))
  console.log(`routers moved at ${since()}`)
})

test('a machine created against the TLS etcd gets its own role; ls works', async () => {
  await cliOk(secured, createArgs('m4'))
  const rows = JSON.parse(await cliOk(secured, ['ls', '--json'])) as {name: string; state: string}[]
  assert.deepEqual(rows.map(r => [r.name, r.state]), [['m1', 'Running'], ['m2', 'Running'], ['m3', 'Running'], ['m4', 'Running']])
  const ping = await exec(hostName('m4'), ['sh', '-c', `${HOST_ETCDCTL} --endpoints ${endpoints.join(',')} get --print-value-only ${prefix}settings`])
  assert.equal(ping.code, 0, ping.stderr)
  assert.match(ping.stdout, /"name"/)
  console.log(`m4 created at ${since()}`)
})

test("a host's router credentials cannot write another host's records (permission denied from etcd)", async () => {
  const on4 = (args: string) => exec(hostName('m4'), ['sh', '-c', `${HOST_ETCDCTL} --endpoints ${endpoints.join(',')} ${args}`])
  for (const key of [`${prefix}peers/m1`, `${prefix}dns/m1/forged`, `${prefix}machines/m1`, `${prefix}subnets/198.19.250.0-24`, `${prefix}settings`, `${prefix}dns/m40/x`]) {
    const r = await on4(`put ${key} forged`)
    assert.notEqual(r.code, 0, `m4 wrote ${key}`)
    assert.match(r.stderr, /permission denied/, key)
  }
  const del = await on4(`del ${prefix}peers/m1`)
  assert.match(del.stderr, /permission denied/)
  // Its own DNS records it may write (and delete).
  assert.equal((await on4(`put ${prefix}dns/m4/probe x`)).code, 0)
  assert.equal((await on4(`del ${prefix}dns/m4/probe`)).code, 0)
  // Nothing of m1 changed.
  const root = new Etcd3({hosts: endpoints, credentials: rootFiles()})
  const peer = JSON.parse(await root.get(`${prefix}peers/m1`).string() ?? '{}') as {record?: string}
  assert.equal((JSON.parse(peer.record ?? '{}') as {name?: string}).name, 'm1')
  root.close()
})

test('with one of three members stopped, create and ls keep working; the member rejoins and catches up', async () => {
  await execOk(hostName('m3'), ['systemctl', 'stop', 'cluster-etcd'])
  const down = await status()
  assert.ok(down.healthy, JSON.stringify(down))
  assert.deepEqual(down.members.filter(m => !m.healthy).map(m => m.name), ['m3'])
  const started = Date.now()
  await cliOk(secured, createArgs('m5'))
  console.log(`create m5 with m3's etcd down took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.equal(await cliOk(secured, ['ls', '-q']), 'm1\nm2\nm3\nm4\nm5\n')
  // The new machine's router announces itself to the two members left.
  const root = new Etcd3({hosts: endpoints, credentials: rootFiles()})
  await until('m5 announces its peer record', async () => (await root.get(`${prefix}peers/m5`).string()) ?? undefined)
  root.close()

  await execOk(hostName('m3'), ['systemctl', 'start', 'cluster-etcd'])
  const back = await until('m3 healthy again', async () => {
    const s = await status()
    return s.members.every(m => m.healthy) ? s : undefined
  })
  assert.equal(back.members.length, 3)
  // m3 answers a serializable (local) read with the record written while it was down.
  const local = await exec(hostName('m3'), ['sh', '-c',
    `ETCDCTL_API=3 etcdctl --cacert /etc/cluster-etcd/ca.pem --cert /etc/cluster/kv/client.pem --key /etc/cluster/kv/client-key.pem --endpoints https://127.0.0.1:2379 --consistency=s get --keys-only ${prefix}machines/m5`])
  assert.equal(local.code, 0, local.stderr)
  assert.equal(local.stdout.trim(), `${prefix}machines/m5`)
  console.log(`m3 rejoined at ${since()}`)
})

test('kv snapshot writes a real etcd snapshot (0600) that restores by the procedure of docs/kv.md', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kv-snap-'))
  const root = new Etcd3({hosts: endpoints, credentials: rootFiles()})
  try {
    const file = join(dir, 'backup.db')
    const out = await cliOk(secured, ['kv', 'snapshot', file])
    assert.match(out, /^saved \d+ bytes( at revision \d+)? to /)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const bad = await cli(secured, ['kv', 'snapshot', join(dir, 'no/such/dir/x.db')])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^Error: cannot write .*x\.db: .*: name a file in a folder you can write/m)
    await root.put(`${prefix}after-snapshot`).value('x')

    // docs/kv.md, "Restore": copy with `cluster scp`, stop all members, restore each, start all.
    for (const n of MEMBERS) await cliOk(secured, ['scp', file, `${n}:/root/backup.db`])
    const st = JSON.parse(await execOk(hostName('m1'), ['etcdutl', 'snapshot', 'status', '-w', 'json', '/root/backup.db'])) as {totalKey: number}
    assert.ok(st.totalKey >= 10, JSON.stringify(st))
    await Promise.all(MEMBERS.map(n => execOk(hostName(n), ['systemctl', 'stop', 'cluster-etcd'])))
    const initial = MEMBERS.map(n => `${n}=https://${hosts.get(n)!.ip}:2380`).join(',')
    const token = `restored-${process.pid}`
    await Promise.all(MEMBERS.map(n => execOk(hostName(n), ['sh', '-ec', [
      `etcdutl snapshot restore /root/backup.db --name ${n} --initial-cluster ${initial} --initial-advertise-peer-urls https://${hosts.get(n)!.ip}:2380 --initial-cluster-token ${token} --data-dir /var/lib/cluster-etcd.restored`,
      'mv /var/lib/cluster-etcd /var/lib/cluster-etcd.old',
      'mv /var/lib/cluster-etcd.restored /var/lib/cluster-etcd',
      'chown -R etcd:etcd /var/lib/cluster-etcd && chmod 0700 /var/lib/cluster-etcd',
    ].join('\n')])))
    await Promise.all(MEMBERS.map(n => execOk(hostName(n), ['systemctl', 'start', '--no-block', 'cluster-etcd'])))
    const restored = await until('the restored etcd elects a leader', async () => {
      const s = await status()
      return s.healthy && s.members.every(m => m.healthy) ? s : undefined
    })
    assert.equal(restored.members.length, 3)
    // Root (auth is in the snapshot) sees the records from before the snapshot, not the one after.
    assert.equal(await root.get(`${prefix}after-snapshot`).string(), null)
    assert.deepEqual((await root.getAll().prefix(`${prefix}machines/`).keys()).sort(), NODES.map(n => `${prefix}machines/${n}`))
    assert.equal(await cliOk(secured, ['ls', '-q']), 'm1\nm2\nm3\nm4\nm5\n')
    console.log(`restored from the snapshot at ${since()}`)
  } finally {
    root.close()
    rmSync(dir, {recursive: true, force: true})
  }
})

test('rm against the TLS etcd removes the machine and its records; an etcd member hands its membership over first', async () => {
  assert.equal((await exec(hostName('m5'), ['test', '-e', '/etc/cluster/kv/client-key.pem'])).code, 0)
  await cliOk(secured, ['rm', '-y', 'm5'])
  assert.equal((await exec(hostName('m5'), ['test', '-e', '/etc/cluster/kv'])).code, 1, 'the host etcd credentials are gone')
  const root = new Etcd3({hosts: endpoints, credentials: rootFiles()})
  try {
    // All but the signed revocation `rm` leaves on purpose.
    const left = (await root.getAll().prefix(prefix).keys()).filter(k => k.includes('/m5'))
    assert.deepEqual(left, [`${prefix}revoked/m5`])
    const owners = await root.getAll().prefix(`${prefix}subnets/`).strings()
    assert.ok(!Object.values(owners).includes('m5'), JSON.stringify(owners))
  } finally {
    root.close()
  }
  assert.equal(await cliOk(secured, ['ls', '-q']), 'm1\nm2\nm3\nm4\n')

  const r = await cli(secured, ['rm', '-y', 'm1'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /m1 runs a member of the cluster's etcd: handing it to m4 first/)
  const s = await status()
  assert.deepEqual(s.members.map(m => [m.name, m.healthy]).sort(), [['m2', true], ['m3', true], ['m4', true]])
  assert.equal(await cliOk(secured, ['ls', '-q']), 'm2\nm3\nm4\n')
  const cfg = JSON.parse(readFileSync(join(plain.storage, 'config.json'), 'utf8')) as {kv: {endpoints: string[]}}
  assert.deepEqual(cfg.kv.endpoints.sort(), (['m2', 'm3', 'm4'] as Node[]).map(n => `https://${hosts.get(n)!.ip}:2379`).sort())
})
