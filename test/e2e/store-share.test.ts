/**
 * `cluster store export` / `import` on the lab: store A creates a machine against the lab's
 * etcd and exports itself; a fresh store B imports the file and, with no etcd flag or
 * variable at all, drives the cluster: ls, env + the stock docker client, ssh, provision,
 * a second create, and rm of both. A wrong passphrase and a damaged file write nothing.
 * B's export then brings the revocations of its removals back into store A (membership.json).
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, SSH_KEY, LAB_OVERLAY_RANGE, IMAGES, loadImage, startHost, removeHost, run, type LabHost, type RunResult} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, CLUSTER_BIN, type CliEnv} from '../support/cli.js'
import {waitFor} from '../support/wait.js'

const CLUSTER = `e2e-share-${process.pid}`
const prefix = `/cluster/${CLUSTER}/`
const PASSPHRASE = 'lab share passphrase 42'
const a: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const dir = mkdtempSync(join(tmpdir(), 'cluster-share-'))
const storeB = join(dir, 'store-b')
const file = join(dir, 'team.clusterstore')
const hosts: LabHost[] = []
const createArgs = (h: LabHost, name: string) => ['create', '-d', 'generic', '--generic-ip-address', h.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', LAB_OVERLAY_RANGE, name]

/** `cluster ARGS` on store B: no etcd endpoint nor cluster name from the environment, only what the import wrote. */
function cliB(args: string[], extraEnv: Record<string, string> = {}, storage = storeB): Promise<RunResult> {
  return run('env', ['-u', 'CLUSTER_KV_ENDPOINTS', '-u', 'CLUSTER_NAME', '-u', 'CLUSTER_STORE_PASSPHRASE', `CLUSTER_STORAGE_PATH=${storage}`,
    ...Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`), process.execPath, CLUSTER_BIN, ...args], {timeoutMs: 600_000})
}
async function cliBOk(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const r = await cliB(args, extraEnv)
  assert.equal(r.code, 0, `cluster ${args.join(' ')} on store B exited ${r.code}:\n${r.stderr}`)
  return r.stdout
}

before(async () => {
  hosts.push(...await Promise.all(['sharee2e-a', 'sharee2e-b'].map(name => startHost({name, image: 'trixie'}))))
  await cliOk(a, createArgs(hosts[0], 'sa1'))
})

after(async () => {
  await cli(a, ['rm', '-f', '-y', 'sa1', 'sb1'])
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  await etcd.delete().prefix(prefix).exec()
  etcd.close()
  await Promise.all(hosts.map(h => removeHost(h.name)))
  rmSync(dir, {recursive: true, force: true})
  rmSync(a.storage, {recursive: true, force: true})
})

test('store A exports itself, sealed, 0600', async () => {
  const started = Date.now()
  const out = await cliOk(a, ['store', 'export', file], {extraEnv: {CLUSTER_STORE_PASSPHRASE: PASSPHRASE}})
  const seconds = (Date.now() - started) / 1000
  assert.match(out, new RegExp(`^wrote ${file} \\(\\d+ bytes, 0600\\): cluster ${CLUSTER}, 1 machine\\(s\\), \\d+ file\\(s\\), etcd ${ETCD_ENDPOINT}$`, 'm'))
  assert.equal(statSync(file).mode & 0o777, 0o600)
  const data = readFileSync(file)
  assert.equal(data.subarray(0, 8).toString(), 'CLSTORE\n')
  // Nothing of the store appears in clear.
  for (const secret of ['signing.key', 'certs/ca-key.pem']) {
    const text = readFileSync(join(a.storage, secret), 'utf8').split('\n').find(l => l.length > 20 && !l.startsWith('-----'))!
    assert.equal(data.includes(Buffer.from(text)), false, secret)
  }
  console.log(`export: ${data.length} bytes in ${seconds.toFixed(1)} s`)
})

test('a wrong passphrase, or a damaged file: one line, exit non-zero, nothing written', async () => {
  const wrong = join(dir, 'store-wrong')
  const r = await cliB(['store', 'import', file], {CLUSTER_STORE_PASSPHRASE: 'not the passphrase'}, wrong)
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^Error: .*team\.clusterstore: the passphrase does not open this file; nothing was written: /)
  assert.equal(r.stderr.trim().split('\n').length, 1)
  assert.equal(existsSync(wrong), false)

  const damaged = join(dir, 'damaged.clusterstore')
  const bytes = readFileSync(file)
  bytes[bytes.length - 40] ^= 0x20
  writeFileSync(damaged, bytes)
  const d = await cliB(['store', 'import', damaged], {CLUSTER_STORE_PASSPHRASE: PASSPHRASE}, wrong)
  assert.equal(d.code, 2)
  assert.match(d.stderr, /^Error: .*damaged\.clusterstore: the file is damaged or truncated \(authentication failed\); nothing was written: copy the export again\n$/)
  writeFileSync(damaged, bytes.subarray(0, 1000))
  const t = await cliB(['store', 'import', damaged], {CLUSTER_STORE_PASSPHRASE: PASSPHRASE}, wrong)
  assert.equal(t.code, 2)
  assert.match(t.stderr, /damaged or truncated/)
  assert.equal(existsSync(wrong), false)
})

test('a fresh store B imports the file; its ls, env + docker, ssh and provision drive the machine store A made', async () => {
  const passFile = join(dir, 'pass')
  writeFileSync(passFile, `${PASSPHRASE}\n`, {mode: 0o600})
  const started = Date.now()
  const out = await cliBOk(['store', 'import', file, '--passphrase-file', passFile])
  console.log(`import: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.match(out, new RegExp(`^imported cluster ${CLUSTER} \\(exported by .+\\) into ${storeB}: 1 machine\\(s\\), \\d+ file\\(s\\) written, 0 unchanged, 0 revocation\\(s\\) remembered$`, 'm'))
  const cfg = JSON.parse(readFileSync(join(storeB, 'config.json'), 'utf8')) as {clusterName: string; kv: {endpoints: string[]}}
  assert.deepEqual([cfg.clusterName, cfg.kv.endpoints], [CLUSTER, [ETCD_ENDPOINT]])
  assert.deepEqual(readdirSync(join(storeB, 'machines')), ['sa1'])

  const ls = JSON.parse(await cliBOk(['ls', '--json'])) as {name: string; state: string}[]
  assert.deepEqual(ls.map(m => [m.name, m.state]), [['sa1', 'Running']])

  await loadImage(hosts[0].name, IMAGES.busybox)
  const docker = await run('bash', ['-c', `eval "$(env -u CLUSTER_KV_ENDPOINTS -u CLUSTER_NAME CLUSTER_STORAGE_PATH=${storeB} ${process.execPath} ${CLUSTER_BIN} env sa1)" && echo "$DOCKER_CERT_PATH" && docker run --rm ${IMAGES.busybox} hostname && docker ps -a --format '{{.ID}}'`], {timeoutMs: 120_000})
  assert.equal(docker.code, 0, docker.stderr)
  assert.equal(docker.stdout.split('\n')[0], join(storeB, 'certs'))

  assert.equal(await cliBOk(['ssh', 'sa1', '--', 'echo', 'from-b']), 'from-b\n')
  const prov = await cliB(['provision', 'sa1'])
  assert.equal(prov.code, 0, prov.stderr)
})

test('store B creates a second machine in the same cluster; store A sees it; B removes both', async () => {
  await cliBOk(createArgs(hosts[1], 'sb1'))
  assert.equal(await cliBOk(['ls', '-q']), 'sa1\nsb1\n')
  // The records are shared: store A lists the machine B made (it holds no key for it).
  assert.equal(await cliOk(a, ['ls', '-q']), 'sa1\nsb1\n')
  const peers = await waitFor('both routers announce themselves', async () => {
    const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
    try {
      const k = await etcd.getAll().prefix(`${prefix}peers/`).keys()
      return k.length === 2 ? k.sort() : undefined
    } finally {
      etcd.close()
    }
  }, 60_000, 1000)
  assert.deepEqual(peers, [`${prefix}peers/sa1`, `${prefix}peers/sb1`])

  await cliBOk(['rm', '-y', 'sb1', 'sa1'])
  assert.equal(await cliBOk(['ls', '-q']), '')
  assert.equal(await cliOk(a, ['ls', '-q']), '')
})

test('store B exports back: store A, which made neither removal, now remembers both revocations', async () => {
  const back = join(dir, 'back.clusterstore')
  await cliBOk(['store', 'export', back], {CLUSTER_STORE_PASSPHRASE: PASSPHRASE})
  const out = await cliOk(a, ['store', 'import', back], {extraEnv: {CLUSTER_STORE_PASSPHRASE: PASSPHRASE}})
  assert.match(out, /, 2 revocation\(s\) remembered$/m)
  const names = (storage: string) => (JSON.parse(readFileSync(join(storage, 'membership.json'), 'utf8')) as {revocations: {record: string}[]})
    .revocations.map(r => (JSON.parse(r.record) as {name: string}).name).sort()
  assert.deepEqual(names(a.storage), ['sa1', 'sb1'])
  assert.deepEqual(names(a.storage), names(storeB))
})
