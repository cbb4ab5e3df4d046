/**
 * `cluster kv restore` on the lab: a 3-member TLS + RBAC etcd made by `kv create` loses two
 * members' data for good (etcd stopped, data folder wiped), so it has no majority; the
 * snapshot taken before is restored as a one-member etcd on the survivor, which serves the
 * cluster's records again to the CLI (config.json points at it) and to the routers, with
 * the same certificates and roles, and grows back to three members (kv-members auto). A file that is not a snapshot, or a restore over an etcd
 * that still has its majority, changes nothing.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, SSH_KEY, LAB_OVERLAY_RANGE, IMAGES, loadImage, startHost, removeHost, exec, execOk, type LabHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'
import {waitFor} from '../support/wait.js'

const CLUSTER = `e2e-kvrestore-${process.pid}`
const prefix = `/cluster/${CLUSTER}/`
const NODES = ['r1', 'r2', 'r3'] as const
type Node = typeof NODES[number]
const hosts = new Map<Node, LabHost>()
const plain: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
/** The same store on the etcd `kv create` made (its three endpoints in CLUSTER_KV_ENDPOINTS). */
let secured: CliEnv
/** The same store with no endpoint from the environment: config.json decides. */
const fromConfig: CliEnv = {...plain, endpoints: ''}
const dir = mkdtempSync(join(tmpdir(), 'kv-restore-'))
const backup = join(dir, 'backup.db')
const hostName = (n: Node) => `kvrestore-${n}`
const createArgs = (n: Node) => ['create', '-d', 'generic', '--generic-ip-address', hosts.get(n)!.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', LAB_OVERLAY_RANGE, n]
const url = (n: Node) => `https://${hosts.get(n)!.ip}:2379`
const rootClient = (endpoints: string[]) => new Etcd3({hosts: endpoints, dialTimeout: 3000, credentials: {
  rootCertificate: readFileSync(join(plain.storage, 'certs/etcd-member-ca.pem')),
  certChain: readFileSync(join(plain.storage, 'certs/etcd-root.pem')),
  privateKey: readFileSync(join(plain.storage, 'certs/etcd-root-key.pem')),
}})
const unitState = async (n: Node) => (await exec(hostName(n), ['sh', '-c', 'echo "$(systemctl is-enabled cluster-etcd) $(systemctl is-active cluster-etcd)"'])).stdout.trim()

before(async () => {
  const started = await Promise.all(NODES.map(n => startHost({name: hostName(n), image: 'trixie'})))
  NODES.forEach((n, i) => hosts.set(n, started[i]))
  const results = await Promise.all(NODES.map(n => cli(plain, createArgs(n))))
  results.forEach((r, i) => assert.equal(r.code, 0, `create ${NODES[i]}:\n${r.stderr}`))
  await cliOk(plain, ['kv', 'create', '--size', '3', ...NODES])
  secured = {...plain, endpoints: NODES.map(url).join(',')}
  const moved = await Promise.all(NODES.map(n => cli(secured, ['provision', n])))
  moved.forEach((r, i) => assert.equal(r.code, 0, `provision ${NODES[i]}:\n${r.stderr}`))
  await cliOk(secured, ['kv', 'snapshot', backup])
  const root = rootClient(NODES.map(url))
  await root.put(`${prefix}after-snapshot`).value('x')
  root.close()
})

after(async () => {
  await Promise.all(NODES.map(n => cli(fromConfig, ['rm', '-f', '-y', n])))
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  await etcd.delete().prefix(prefix).exec()
  etcd.close()
  await Promise.all(NODES.map(n => removeHost(hostName(n))))
  rmSync(dir, {recursive: true, force: true})
  rmSync(plain.storage, {recursive: true, force: true})
})

test('a file that is not a snapshot, or an etcd that still has its majority: one line, exit 2, nothing changed', async () => {
  const text = join(dir, 'notes.txt')
  writeFileSync(text, 'not a snapshot\n')
  const bad = await cli(secured, ['kv', 'restore', text, '--on', 'r1'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /^Error: .*notes\.txt is not an etcd snapshot \(no etcd database header\): name a file written by `cluster kv snapshot`\n$/)
  const cut = join(dir, 'cut.db')
  writeFileSync(cut, readFileSync(backup).subarray(0, 8192))
  const truncated = await cli(secured, ['kv', 'restore', cut, '--on', 'r1'])
  assert.equal(truncated.code, 2)
  assert.match(truncated.stderr, /is not an etcd snapshot \(no integrity hash at its end/)
  const healthy = await cli(secured, ['kv', 'restore', backup, '--on', 'r1'])
  assert.equal(healthy.code, 2)
  assert.match(healthy.stderr, /^Error: the etcd at .* has a leader \(r\d\) and a majority of healthy members: restoring would lose every change since the snapshot: .* or pass --force\n$/)
  for (const n of NODES) assert.equal(await unitState(n), 'enabled active', n)
  assert.equal((await exec(hostName('r1'), ['test', '-e', '/var/lib/cluster-etcd.restore.db'])).code, 1)
  const root = rootClient(NODES.map(url))
  assert.equal(await root.get(`${prefix}after-snapshot`).string(), 'x')
  root.close()
})

test('two of three members lose their data: no majority; kv restore --on r1 brings the records back, and the store grows back to three', async () => {
  for (const n of ['r2', 'r3'] as const) await execOk(hostName(n), ['sh', '-c', 'systemctl stop cluster-etcd && rm -rf /var/lib/cluster-etcd'])
  const lost = await cli(secured, ['kv', 'status'])
  assert.equal(lost.code, 1)
  assert.match(lost.stderr, /no leader or no majority/)
  const ls = await cli(secured, ['ls', '-q'], {timeoutMs: 120_000})
  assert.notEqual(ls.code, 0, 'ls answered without a majority')

  const started = Date.now()
  const r = await cli(secured, ['kv', 'restore', backup, '--on', 'r1'])
  const seconds = (Date.now() - started) / 1000
  assert.equal(r.code, 0, r.stderr)
  console.log(`kv restore took ${seconds.toFixed(1)} s:\n${r.stdout}`)
  assert.match(r.stdout, new RegExp(`^etcd restored on r1 in [\\d.]+ s: ${url('r1')}, 3 machine record\\(s\\)`, 'm'))
  assert.match(r.stdout, /^former members taken out: r2, r3 \(etcd disabled, data in \/var\/lib\/cluster-etcd\.before-restore-\d{8}T\d{6}\)$/m)
  assert.match(r.stdout, /^CLUSTER_KV_ENDPOINTS is set and overrides config\.json/m)
  assert.doesNotMatch(r.stdout, /cluster provision/)
  // kv-members auto: three ready machines, so the store grows back to three, one learner at a time.
  assert.match(r.stdout, /^the store grew back to 3 members: r[23], r[23] added \(kv-members\)$/m)

  const cfg = JSON.parse(readFileSync(join(plain.storage, 'config.json'), 'utf8')) as {kv: {endpoints: string[]; cert: string}}
  assert.deepEqual([...cfg.kv.endpoints].sort(), NODES.map(url).sort())
  assert.equal(cfg.kv.cert, join(plain.storage, 'certs/etcd-root.pem'))
  assert.equal(await cliOk(fromConfig, ['ls', '-q']), 'r1\nr2\nr3\n')
  const status = JSON.parse(await cliOk(fromConfig, ['kv', 'status', '--json'])) as {members: {name: string; leader: boolean; healthy: boolean}[]; healthy: boolean}
  assert.deepEqual(status.members.map(m => [m.name, m.healthy]).sort(), NODES.map(n => [n, true]))
  assert.equal(status.members.filter(m => m.leader).length, 1)

  // The snapshot's records, not what came after it; r1's own data went aside, not away.
  const root = rootClient([url('r1')])
  try {
    assert.equal(await root.get(`${prefix}after-snapshot`).string(), null)
    assert.deepEqual((await root.getAll().prefix(`${prefix}machines/`).keys()).sort(), NODES.map(n => `${prefix}machines/${n}`))
    assert.match(await execOk(hostName('r1'), ['sh', '-c', 'ls -d /var/lib/cluster-etcd.before-restore-*/member']), /before-restore-\d{8}T\d{6}\/member/)
    // r2 and r3 were taken out, then added back as new members of the restored etcd.
    for (const n of NODES) assert.equal(await unitState(n), 'enabled active', n)
    // Routers list r1 among their endpoints: they find the restored etcd on their own. r2's
    // router publishes a new container's name into it.
    await loadImage(hostName('r2'), IMAGES.busybox)
    await execOk(hostName('r2'), ['docker', 'run', '-d', '--name', 'after-restore', IMAGES.busybox, 'sleep', '600'])
    const published = await waitFor('r2 publishes its new container in the restored etcd', async () => {
      const values = Object.values(await root.getAll().prefix(`${prefix}dns/r2/`).strings())
      return values.find(v => v.includes('after-restore'))
    }, 90_000, 1000)
    assert.match(published, /after-restore/)
  } finally {
    root.close()
  }
  // RBAC came back with the snapshot: a host still writes only its own records.
  const forged = await exec(hostName('r2'), ['sh', '-c', `ETCDCTL_API=3 etcdctl --command-timeout=5s --cacert /etc/cluster/kv/ca.pem --cert /etc/cluster/kv/client.pem --key /etc/cluster/kv/client-key.pem --endpoints ${url('r1')} put ${prefix}peers/r1 forged`])
  assert.notEqual(forged.code, 0)
  assert.match(forged.stderr, /permission denied/)
})
