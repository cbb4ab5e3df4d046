/**
 * Trust boundaries on the lab (issue 14, docs/security.md): a three-host cluster with its own
 * etcd (`cluster kv create`), and every credential found on a host (Docker server key, router
 * etcd key, etcd member key) tried against every other host's Docker API (2376), etcd client
 * port (2379) and etcd peer port (2380): only the intended pairs open. The CLI's Docker client
 * certificate opens every Docker API and nothing else. The router runs sandboxed. A reserved
 * machine name is refused. A fourth host, set up the way clusters were before the purpose CAs,
 * is moved to them by `cluster regenerate-certs`.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {X509Certificate, type KeyObject} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {request} from 'node:https'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, SSH_KEY, LAB_OVERLAY_RANGE, startHost, removeHost, exec, execOk, run, type LabHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'
import {createClientCert, issuePeerCert, type KeyPairPem} from '../../src/tls/certs.js'

const PID = process.pid
const NODES = ['t1', 't2', 't3'] as const
const hostName = (n: string) => `trust-${n}`
const hosts = new Map<string, LabHost>()
const env: CliEnv = newCliEnv(`e2e-trust-${PID}`, ETCD_ENDPOINT)
/** A store and cluster of its own for the machine moved from the old scheme. */
const legacyEnv: CliEnv = newCliEnv(`e2e-trust-old-${PID}`, ETCD_ENDPOINT)
const OLD = 'old1'
let secured: CliEnv
const createArgs = (n: string) => ['create', '-d', 'generic', '--generic-ip-address', hosts.get(n)!.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', LAB_OVERLAY_RANGE, n]
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`

interface Cred {cert: string; key: string}
type Port = 2376 | 2379 | 2380
const PORTS: Port[] = [2376, 2379, 2380]

/** 'open' when the server at host:port answers an HTTP request made with `cred` (server not verified: only the client side is tried). */
function tryOpen(cred: Cred | undefined, host: string, port: Port): Promise<string> {
  return new Promise(resolve => {
    const req = request({host, port, path: port === 2376 ? '/_ping' : '/version', ...cred, rejectUnauthorized: false, agent: false, timeout: 10_000}, res => {
      res.resume()
      resolve(res.statusCode === 200 ? 'open' : `HTTP ${res.statusCode}`)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', error => resolve(error.message))
    req.end()
  })
}

const read = (n: string, path: string) => execOk(hostName(n), ['cat', path])
/** Where each credential a host holds lives on it. */
const HOST_CREDS: Record<'engine' | 'router' | 'member', Cred> = {
  engine: {cert: '/etc/docker/cluster/server.pem', key: '/etc/docker/cluster/server-key.pem'},
  router: {cert: '/etc/cluster/kv/client.pem', key: '/etc/cluster/kv/client-key.pem'},
  member: {cert: '/etc/cluster-etcd/server.pem', key: '/etc/cluster-etcd/server-key.pem'},
}
/**
 * Like tryOpen, but from the host that holds the credential, with the files where they lie:
 * what someone who is root there can do (etcd also checks a peer's address against its
 * certificate, so a member key works only from its own member).
 */
async function tryFrom(from: string, files: Cred, ip: string, port: Port): Promise<string> {
  const r = await exec(hostName(from), ['curl', '--http1.1', '-sk', '--max-time', '10', '--cert', files.cert, '--key', files.key,
    '-o', '/dev/null', '-w', '%{http_code} %{errormsg}', `https://${ip}:${port}${port === 2376 ? '/_ping' : '/version'}`])
  return r.stdout.startsWith('200 ') ? 'open' : r.stdout.trim() || r.stderr.trim()
}
const storeCred = (e: CliEnv, cert: string, key: string): Cred => ({cert: readFileSync(join(e.storage, cert), 'utf8'), key: readFileSync(join(e.storage, key), 'utf8')})

before(async () => {
  const started = await Promise.all([...NODES, OLD].map(n => startHost({name: hostName(n), image: 'trixie'})))
  ;[...NODES, OLD].forEach((n, i) => hosts.set(n, started[i]))
  const results = await Promise.all([...NODES.map(n => cli(env, createArgs(n))), cli(legacyEnv, createArgs(OLD))])
  results.forEach((r, i) => assert.equal(r.code, 0, `create ${[...NODES, OLD][i]} failed:\n${r.stderr}`))
  console.log(`four machines created at ${since()}`)
})

after(async () => {
  const on = secured ?? env
  await Promise.all([...NODES.map(n => cli(on, ['rm', '-f', '-y', n])), cli(legacyEnv, ['rm', '-f', '-y', OLD])])
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  for (const e of [env, legacyEnv]) await etcd.delete().prefix(`/cluster/${e.clusterName}/`).exec()
  etcd.close()
  await Promise.all([...NODES, OLD].map(n => removeHost(hostName(n))))
  for (const e of [env, legacyEnv]) rmSync(e.storage, {recursive: true, force: true})
  console.log(`cleaned up at ${since()}`)
})

test('a machine named root is refused in one line, and nothing is made', async () => {
  const r = await cli(env, createArgs('t1').slice(0, -1).concat('root'))
  assert.equal(r.code, 2)
  assert.equal(r.stderr.trim(), 'Error: machine name "root" is reserved: choose another name (e.g. node-1)')
  assert.equal(existsSync(join(env.storage, 'machines/root')), false)
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  try {
    assert.deepEqual((await etcd.getAll().prefix(`/cluster/${env.clusterName}/`).keys()).filter(k => /\/root$/.test(k)), [])
  } finally {
    etcd.close()
  }
})

test('kv create and provision: the cluster hosts its etcd; the routers move onto it', async () => {
  const out = await cliOk(env, ['kv', 'create', '--size', '3', ...NODES])
  assert.match(out, /etcd ready with 3 member\(s\)/)
  const cfg = JSON.parse(readFileSync(join(env.storage, 'config.json'), 'utf8')) as {kv: {endpoints: string[]}}
  secured = {...env, endpoints: cfg.kv.endpoints.join(',')}
  const results = await Promise.all(NODES.map(n => cli(secured, ['provision', n])))
  results.forEach((r, i) => assert.equal(r.code, 0, `provision ${NODES[i]}:\n${r.stderr}`))
  console.log(`etcd made and routers moved at ${since()}`)
})

test('who can open what: each host credential opens only what it is for, on every other host', async () => {
  const intended: Record<string, Port[]> = {engine: [], router: [2379], member: [2380]}
  const cells = NODES.flatMap(from => Object.entries(HOST_CREDS).flatMap(([kind, files]) =>
    NODES.filter(t => t !== from).flatMap(to => PORTS.map(port => ({from, kind, files, to, port, name: `${kind}@${from} -> ${to}:${port}`})))))
  const results = await Promise.all(cells.map(c => tryFrom(c.from, c.files, hosts.get(c.to)!.ip, c.port)))
  const opened = cells.filter((_, i) => results[i] === 'open').map(c => c.name)
  cells.forEach((c, i) => {
    if (results[i] !== 'open') assert.doesNotMatch(results[i], /Failed to connect|timed out|Could not resolve|^000$/, `${c.name}: refused for the wrong reason`)
  })
  console.log(`matrix: ${opened.length} of ${cells.length} pairs open:\n  ${opened.join('\n  ')}`)
  const reasons = new Set(cells.map((c, i) => `${c.kind} -> ${c.port}: ${results[i]}`))
  console.log(`answers:\n  ${[...reasons].sort().join('\n  ')}`)
  assert.deepEqual(opened, cells.filter(c => intended[c.kind].includes(c.port)).map(c => c.name))
})

test("the CLI's credentials: its Docker client certificate opens every Docker API and no etcd port; etcd root opens only 2379", async () => {
  const docker = storeCred(env, 'certs/cert.pem', 'certs/key.pem')
  const root = storeCred(env, 'certs/etcd-root.pem', 'certs/etcd-root-key.pem')
  for (const n of NODES) {
    const ip = hosts.get(n)!.ip
    assert.deepEqual(await Promise.all(PORTS.map(p => tryOpen(docker, ip, p).then(r => r === 'open'))), [true, false, false], `docker client cert on ${n}`)
    assert.deepEqual(await Promise.all(PORTS.map(p => tryOpen(root, ip, p).then(r => r === 'open'))), [false, true, false], `etcd root cert on ${n}`)
    assert.notEqual(await tryOpen(undefined, ip, 2376), 'open')
  }
  // And the stock docker client reaches each engine through `cluster env`.
  const r = await run('bash', ['-c', `eval "$(CLUSTER_STORAGE_PATH=${env.storage} ${process.execPath} bin/run.js env t2)" && docker version --format '{{.Server.Version}}'`], {timeoutMs: 60_000})
  assert.equal(r.code, 0, r.stderr)
})

test("etcd's users are root and one router:<name> per machine; certificates are named by purpose", async () => {
  const cfg = JSON.parse(readFileSync(join(env.storage, 'config.json'), 'utf8')) as {kv: {cacert: string; cert: string; key: string}}
  const root = new Etcd3({hosts: secured.endpoints.split(','), credentials: {rootCertificate: readFileSync(cfg.kv.cacert), certChain: readFileSync(cfg.kv.cert), privateKey: readFileSync(cfg.kv.key)}})
  try {
    assert.deepEqual((await root.getUsers()).map(u => u.name).sort(), ['root', 'router:t1', 'router:t2', 'router:t3'])
  } finally {
    root.close()
  }
  const creds = Object.fromEntries(await Promise.all(Object.entries(HOST_CREDS).map(async ([k, f]) => [k, {cert: await read('t1', f.cert)}]))) as Record<keyof typeof HOST_CREDS, {cert: string}>
  const cn = (pem: string) => new X509Certificate(pem).subject.split('\n').find(l => l.startsWith('CN='))
  assert.equal(cn(creds.engine.cert), 'CN=docker-server:t1')
  assert.equal(cn(creds.router.cert), 'CN=router:t1')
  assert.equal(cn(creds.member.cert), 'CN=etcd-member:t1')
  assert.deepEqual(new X509Certificate(creds.engine.cert).keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth only')
})

test('the router runs sandboxed: networking capabilities only, no new privileges, a read-only system, and still writes its status', async () => {
  for (const n of NODES) {
    const pid = (await execOk(hostName(n), ['systemctl', 'show', '-p', 'MainPID', '--value', 'cluster-router'])).trim()
    assert.notEqual(pid, '0', `${n}: router not running`)
    const status = await execOk(hostName(n), ['cat', `/proc/${pid}/status`])
    // NET_BIND_SERVICE (10), NET_ADMIN (12), NET_RAW (13).
    assert.match(status, /^CapBnd:\s+0000000000003400$/m, n)
    assert.match(status, /^CapEff:\s+0000000000003400$/m, n)
    assert.match(status, /^NoNewPrivs:\s+1$/m, n)
    const writable = (await execOk(hostName(n), ['sh', '-c', `nsenter -t ${pid} -m sh -c 'touch /etc/cluster/probe 2>&1; touch /usr/probe 2>&1; touch /run/cluster/probe && echo run-ok; rm -f /run/cluster/probe'`])).trim()
    assert.equal(writable.match(/Read-only file system/g)?.length, 2, `${n}: ${writable}`)
    assert.match(writable, /run-ok/, `${n}: ${writable}`)
  }
  // Sandboxed, each router still reads etcd and sets up both peers.
  type Status = {machine: string; value?: {etcd: {connected: boolean}; peers: unknown[]} | null}
  let last = ''
  for (let i = 0; i < 60; i++) {
    last = await cliOk(secured, ['net', 'status', '--json'])
    const all = JSON.parse(last) as Status[]
    if (all.length === 3 && all.every(s => s.value?.etcd.connected && s.value.peers.length === 2)) return
    await new Promise(r => setTimeout(r, 1000))
  }
  assert.fail(`routers not all connected with two peers: ${last}`)
})

test('regenerate-certs moves a machine set up before the purpose CAs onto them; its old keys open nothing any more', async () => {
  const certs = join(legacyEnv.storage, 'certs')
  const h = hostName(OLD)
  const ip = hosts.get(OLD)!.ip
  // Put the store and the host back the way they were before: one CA (ca.pem, no extended
  // key usage) signs the CLI's client certificate and a server certificate with clientAuth,
  // and dockerd trusts it for clients.
  const tmp = mkdtempSync(join(tmpdir(), 'trust-old-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp, 'ca-key.pem'), '-out', join(tmp, 'ca.pem'), '-days', '2', '-subj', '/CN=cluster CA/O=cluster'], {stdio: 'ignore'})
    const old: KeyPairPem = {certPem: readFileSync(join(tmp, 'ca.pem'), 'utf8'), keyPem: readFileSync(join(tmp, 'ca-key.pem'), 'utf8')}
    for (const f of readdirSync(certs)) rmSync(join(certs, f), {recursive: true, force: true})
    const client = createClientCert(old, 'cluster client')
    writeFileSync(join(certs, 'ca.pem'), old.certPem)
    writeFileSync(join(certs, 'ca-key.pem'), old.keyPem, {mode: 0o600})
    writeFileSync(join(certs, 'cert.pem'), client.certPem)
    writeFileSync(join(certs, 'key.pem'), client.keyPem, {mode: 0o600})
    const pub = await execOk(h, ['node', '-e', `process.stdout.write(require('crypto').createPublicKey(require('fs').readFileSync('/etc/docker/cluster/server-key.pem')).export({type: 'spki', format: 'pem'}))`])
    const oldServer = issuePeerCert(old, pub, OLD, [ip, OLD, 'localhost', '127.0.0.1'])
    await execOk(h, ['sh', '-c', `cat > /etc/docker/cluster/ca.pem <<'EOF'\n${old.certPem}EOF\ncat > /etc/docker/cluster/server.pem <<'EOF'\n${oldServer}EOF\nsystemctl restart docker`])
    const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
    try {
      // The cluster's identity is the CA's fingerprint: as the old store recorded it.
      const key = `/cluster/${legacyEnv.clusterName}/settings`
      const settings = JSON.parse((await etcd.get(key).string())!) as {caFingerprint: string}
      settings.caFingerprint = new X509Certificate(old.certPem).fingerprint256.replaceAll(':', '').toLowerCase()
      await etcd.put(key).value(JSON.stringify(settings))
    } finally {
      etcd.close()
    }
    const serverCred: Cred = {cert: oldServer, key: await read(OLD, '/etc/docker/cluster/server-key.pem')}
    const waitOpen = async (cred: Cred) => {
      for (let i = 0; i < 60; i++) if (await tryOpen(cred, ip, 2376) === 'open') return true
      return false
    }
    // The old scheme's hole: the host's own server certificate opens Docker as a client.
    assert.ok(await waitOpen({cert: client.certPem, key: client.keyPem}), 'old client certificate opens the old engine')
    assert.equal(await tryOpen(serverCred, ip, 2376), 'open')
    assert.equal(await cliOk(legacyEnv, ['ls', '--format', '{{.Name}} {{.State}}']), `${OLD} Running\n`)

    await cliOk(legacyEnv, ['regenerate-certs', OLD])
    assert.equal(readFileSync(join(certs, 'ca.pem'), 'utf8'), old.certPem, 'ca.pem (the Docker server CA) and the identity are kept')
    assert.equal(readFileSync(join(certs, 'legacy/cert.pem'), 'utf8'), client.certPem)
    const dockerClientCa = readFileSync(join(certs, 'docker-client-ca.pem'), 'utf8')
    assert.equal(await read(OLD, '/etc/docker/cluster/ca.pem'), dockerClientCa, 'dockerd now trusts the Docker client CA only')
    const newServer = await read(OLD, '/etc/docker/cluster/server.pem')
    assert.deepEqual(new X509Certificate(newServer).keyUsage, ['1.3.6.1.5.5.7.3.1'])
    assert.ok(new X509Certificate(newServer).verify(new X509Certificate(old.certPem).publicKey as KeyObject))
    assert.notEqual(await tryOpen(serverCred, ip, 2376), 'open', 'the old server certificate no longer opens Docker')
    assert.notEqual(await tryOpen({cert: newServer, key: serverCred.key}, ip, 2376), 'open', 'nor the new one')
    assert.notEqual(await tryOpen({cert: client.certPem, key: client.keyPem}, ip, 2376), 'open', 'nor the old client certificate')
    assert.equal(await tryOpen(storeCred(legacyEnv, 'certs/cert.pem', 'certs/key.pem'), ip, 2376), 'open')
    assert.equal(await cliOk(legacyEnv, ['ls', '--format', '{{.Name}} {{.State}}']), `${OLD} Running\n`)
    const r = await run('bash', ['-c', `eval "$(CLUSTER_STORAGE_PATH=${legacyEnv.storage} ${process.execPath} bin/run.js env ${OLD})" && docker version --format '{{.Server.Version}}'`], {timeoutMs: 60_000})
    assert.equal(r.code, 0, r.stderr)
  } finally {
    rmSync(tmp, {recursive: true, force: true})
  }
  const again = await exec(hostName(OLD), ['test', '-e', '/etc/docker/cluster/server-key.pem'])
  assert.equal(again.code, 0, 'the host kept its own key')
})
