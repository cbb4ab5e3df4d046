/**
 * Provisioning end to end on fresh lab hosts (never the compose hosts other tests use):
 * a bare Debian 12 reached by password gets a key, Docker 20.10, Node and the WireGuard
 * tools, then mutual TLS on :2376; a Debian 13 host that has everything gets its engine
 * configured with a label; a bad --engine-opt leaves docker running on its old config; and
 * unconfigureEngine gives the host back its own daemon.json. Prints the timings it measures.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Docker from 'dockerode'
import {LAB_ROOT_PASSWORD, SSH_KEY, execOk, removeHost, startHost, type LabHost} from '../lab/lab.js'
import {connectSsh, type SshConnection} from '../../src/ssh/client.js'
import {installAuthorizedKey} from '../../src/ssh/keys.js'
import {generateSshKeyPair} from '../../drivers/sdk/ssh-keygen.js'
import {detectProvisioner, ensureHostPackages} from '../../src/provision/install.js'
import {configureEngine, unconfigureEngine, waitForEngine, type ConfigureEngineOptions} from '../../src/provision/engine.js'
import {DAEMON_JSON, DROP_IN} from '../../src/provision/engine-files.js'
import {ProvisionError, SshError} from '../../core/errors.js'
import type {EngineOptions} from '../../core/model.js'

const tmp = mkdtempSync(join(tmpdir(), 'cluster-e2e-provision-'))
const NAME = `e2e-prov-${process.pid}`
const hosts: LabHost[] = []
const NO_ENGINE: EngineOptions = {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []}

function openssl(args: string[]): void {
  execFileSync('openssl', args, {cwd: tmp, stdio: ['ignore', 'ignore', 'pipe']})
}

/** A throwaway CA, a client certificate, and a server certificate for `ip`. */
function certsFor(ip: string): {ca: string; cert: string; key: string; server: Pick<ConfigureEngineOptions, 'clientCaPem' | 'serverCertPem' | 'serverKeyPem'>} {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  if (!readFileSafe('ca.pem')) openssl(['req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=e2e-ca'])
  const sign = (name: string, ext: string) => {
    writeFileSync(join(tmp, `${name}.ext`), ext)
    openssl(['req', ...ec, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`])
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`])
  }
  if (!readFileSafe('client.pem')) sign('client', 'extendedKeyUsage=clientAuth\n')
  sign(`server-${ip}`, `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`)
  const read = (f: string) => readFileSync(join(tmp, f), 'utf8')
  return {
    ca: read('ca.pem'), cert: read('client.pem'), key: read('client-key.pem'),
    server: {clientCaPem: read('ca.pem'), serverCertPem: read(`server-${ip}.pem`), serverKeyPem: read(`server-${ip}-key.pem`)},
  }
}

function readFileSafe(f: string): string | undefined {
  try {
    return readFileSync(join(tmp, f), 'utf8')
  } catch {
    return undefined
  }
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  const result = await fn()
  console.log(`# measured: ${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  return result
}

async function fresh(image: 'bare' | 'trixie', suffix: string, installKey: boolean): Promise<LabHost> {
  const host = await startHost({name: `${NAME}-${suffix}`, image, installKey, timeoutMs: 90_000})
  hosts.push(host)
  return host
}

/** dockerd of the host answers on its socket, and `systemctl` says the unit is active. */
async function dockerRuns(conn: SshConnection): Promise<boolean> {
  return (await conn.exec('systemctl is-active docker.service && docker info --format "{{.ServerVersion}}"')).code === 0
}

before(() => {
  process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))
})

after(async () => {
  await Promise.all(hosts.map(h => removeHost(h.name)))
})

test('a bare Debian 12 reached by password: key installed, Docker + Node + WireGuard installed, TLS engine, clean undo', {timeout: 15 * 60_000}, async () => {
  const host = await fresh('bare', 'bare', false)
  const target = {host: host.ip, port: 22, user: 'root'}

  const first = await connectSsh({...target, password: LAB_ROOT_PASSWORD})
  const hostKey = first.hostKey
  const pair = generateSshKeyPair(`cluster-${NAME}`)
  await installAuthorizedKey(first, pair.publicKey)
  first.close()
  const keyPath = join(tmp, 'bare_key')
  writeFileSync(keyPath, pair.privateKey, {mode: 0o600})
  const conn = await connectSsh({...target, privateKeyPath: keyPath, pinnedHostKey: hostKey})
  try {
    const {os, provisioner} = await detectProvisioner(conn)
    assert.equal(os.codename, 'bookworm')
    assert.equal(provisioner.name, 'Debian 12 (bookworm)')
    assert.equal((await conn.exec('command -v docker || command -v node')).code, 1, 'the bare image has neither docker nor node')

    const result = await timed('ensureHostPackages on a bare Debian 12 (apt over the lab NAT)', () => ensureHostPackages(conn, provisioner))
    assert.deepEqual([...result.installed].sort(), ['docker.io', 'nodejs', 'wireguard-go', 'wireguard-tools'])
    assert.match(result.dockerVersion, /^20\.10\./)
    assert.ok(Number(result.nodeVersion.split('.')[0]) >= 18, result.nodeVersion)
    assert.ok(await dockerRuns(conn))
    assert.equal((await conn.exec('command -v wg && command -v wireguard-go')).code, 0, 'the WireGuard tools are installed')
    const again = await timed('ensureHostPackages again on the same host (nothing missing)', () => ensureHostPackages(conn, provisioner))
    assert.deepEqual(again.installed, [])

    const certs = certsFor(host.ip)
    await timed('configureEngine on Debian 12 (docker 20.10, no --validate)', () =>
      configureEngine(conn, {...certs.server, engine: {...NO_ENGINE, labels: ['zone=bare']}}))
    const version = await timed('waitForEngine over TLS', () => waitForEngine(`tcp://${host.ip}:2376`, certs, 30_000))
    assert.match(version.Version, /^20\.10\./)
    assert.equal((await conn.exec('stat -c %a /etc/docker/cluster/server-key.pem')).stdout.trim(), '600')

    // Without a client certificate the engine refuses us: TLS is mutual.
    const anonymous = new Docker({host: host.ip, port: 2376, protocol: 'https', ca: certs.ca, timeout: 5000})
    await assert.rejects(anonymous.version())

    // dockerd 20.10 cannot --validate: the bad flag is caught by the restart, and everything is put back.
    const before = await conn.readFile(DAEMON_JSON)
    await assert.rejects(configureEngine(conn, {...certs.server, engine: {...NO_ENGINE, opts: ['no-such-flag=1']}}), (err: unknown) => {
      assert.ok(err instanceof ProvisionError)
      assert.match(err.oneLine(), /^restarting docker with the cluster configuration failed on 198\.18\.0\.\d+: unknown flag: --no-such-flag: fix the --engine-opt \/ --engine-\* values$/)
      return true
    })
    assert.equal(await conn.readFile(DAEMON_JSON), before)
    assert.doesNotMatch(await conn.readFile(DROP_IN) ?? '', /no-such-flag/)
    assert.ok(await dockerRuns(conn))
    await waitForEngine(`tcp://${host.ip}:2376`, certs, 30_000)

    assert.deepEqual(await unconfigureEngine(conn), {changed: true})
    assert.equal(await conn.readFile(DAEMON_JSON), undefined, 'the bare host had no daemon.json: it has none again')
    assert.equal(await conn.readFile(DROP_IN), undefined)
    assert.equal((await conn.exec('test -e /etc/docker/cluster')).code, 1)
    assert.ok(await dockerRuns(conn))
    assert.equal((await conn.exec('ss -Hltn "sport = :2376" | grep -c .')).stdout.trim(), '0')
    assert.deepEqual(await unconfigureEngine(conn), {changed: false})
  } finally {
    conn.close()
  }
})

test('a Debian 13 host with everything: nothing installed, label shown by docker info, bad opt refused by --validate, undo restores its daemon.json', {timeout: 10 * 60_000}, async () => {
  const host = await fresh('trixie', 'trixie', true)
  const conn = await connectSsh({host: host.ip, port: 22, user: 'root', privateKeyPath: SSH_KEY})
  try {
    const {provisioner} = await detectProvisioner(conn)
    assert.equal(provisioner.name, 'Debian 13 (trixie)')
    const result = await timed('ensureHostPackages on Debian 13 with docker, node and wireguard present', () => ensureHostPackages(conn, provisioner))
    assert.deepEqual(result.installed, [])
    assert.match(result.dockerVersion, /^2[6-9]\./)

    const original = JSON.parse((await conn.readFile(DAEMON_JSON))!) as Record<string, unknown>
    assert.ok('bip' in original, 'the lab image sets bip in daemon.json')
    const certs = certsFor(host.ip)
    const engine = {...NO_ENGINE, labels: ['zone=lab', 'disk=ssd'], opts: ['log-level=warn'], env: ['CLUSTER_E2E=yes it is']}
    // The router work passes its bridge settings as extraDaemon.
    await timed('configureEngine on Debian 13 (with dockerd --validate)', () => configureEngine(conn, {...certs.server, engine, extraDaemon: {mtu: 1420}}))
    assert.equal((await conn.run(`docker network inspect bridge --format '{{index .Options "com.docker.network.driver.mtu"}}'`, 'reading the bridge MTU')).trim(), '1420')
    const docker = new Docker({host: host.ip, port: 2376, protocol: 'https', ca: certs.ca, cert: certs.cert, key: certs.key})
    const info = await docker.info() as {Labels: string[]; LoggingDriver: string}
    assert.deepEqual([...info.Labels].sort(), ['disk=ssd', 'zone=lab'])
    const daemon = JSON.parse((await conn.readFile(DAEMON_JSON))!) as Record<string, unknown>
    assert.equal(daemon.bip, original.bip, "the user's keys stay")
    assert.deepEqual(daemon['default-address-pools'], original['default-address-pools'])
    assert.match(await conn.run('ps -o args= -C dockerd', 'listing dockerd'), /--log-level=warn/)
    assert.ok(await dockerRuns(conn), 'the local socket still answers')
    assert.equal(await conn.run('tr "\\0" "\\n" < /proc/$(pidof dockerd)/environ | grep ^CLUSTER_E2E=', 'reading the dockerd environment'), 'CLUSTER_E2E=yes it is\n')

    const daemonBefore = await conn.readFile(DAEMON_JSON)
    const dropInBefore = await conn.readFile(DROP_IN)
    const pidBefore = (await conn.run('pidof dockerd', 'finding dockerd')).trim()
    await assert.rejects(configureEngine(conn, {...certs.server, engine: {...engine, opts: ['max-concurrent-downloads=lots']}}), (err: unknown) => {
      assert.ok(err instanceof ProvisionError)
      assert.match(err.oneLine(), /^dockerd on 198\.18\.0\.\d+ refused the engine configuration: invalid argument "lots" for "--max-concurrent-downloads" flag: .*: fix the --engine-opt \/ --engine-\* values$/)
      return true
    })
    assert.equal(await conn.readFile(DAEMON_JSON), daemonBefore)
    assert.equal(await conn.readFile(DROP_IN), dropInBefore)
    assert.equal((await conn.run('pidof dockerd', 'finding dockerd')).trim(), pidBefore, 'docker was not even restarted')
    assert.deepEqual(((await docker.info()) as {Labels: string[]}).Labels.sort(), ['disk=ssd', 'zone=lab'])

    assert.deepEqual(await unconfigureEngine(conn), {changed: true})
    assert.deepEqual(JSON.parse((await conn.readFile(DAEMON_JSON))!), original)
    assert.equal(await conn.readFile(DROP_IN), undefined)
    assert.ok(await dockerRuns(conn))
    assert.doesNotMatch(await conn.run('ps -o args= -C dockerd', 'listing dockerd'), /log-level/)
  } finally {
    conn.close()
  }
})

test('a non-root login with passwordless sudo provisions through sudo -n; without sudo rights the error says so', {timeout: 10 * 60_000}, async () => {
  const host = await fresh('trixie', 'sudo', true)
  const pair = generateSshKeyPair('admin@e2e')
  const keyPath = join(tmp, 'admin_key')
  writeFileSync(keyPath, pair.privateKey, {mode: 0o600})
  await execOk(host.name, ['sh', '-c', [
    'DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends sudo >/dev/null',
    'useradd -m -s /bin/bash admin',
    "echo 'admin ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/admin && chmod 440 /etc/sudoers.d/admin",
  ].join(' && ')], {timeoutMs: 300_000})

  // First contact as root installs the key for root only; admin gets its own through its own login below.
  const root = await connectSsh({host: host.ip, port: 22, user: 'root', privateKeyPath: SSH_KEY})
  await root.run(`install -d -m 700 -o admin -g admin ~admin/.ssh && printf '%s\\n' '${pair.publicKey}' > ~admin/.ssh/authorized_keys && chown admin: ~admin/.ssh/authorized_keys && chmod 600 ~admin/.ssh/authorized_keys`, 'adding admin\'s key')
  root.close()

  const conn = await connectSsh({host: host.ip, port: 22, user: 'admin', privateKeyPath: keyPath})
  try {
    assert.equal((await conn.run('id -u', 'checking the user')).trim(), '0')
    assert.equal((await conn.run('id -un', 'checking the login user', {sudo: false})).trim(), 'admin')
    await conn.writeFile('/etc/cluster-sudo-test', 'secret\n', 0o600)
    assert.equal((await conn.run('stat -c "%U %a" /etc/cluster-sudo-test', 'checking the file')).trim(), 'root 600')
    assert.equal(await conn.readFile('/etc/cluster-sudo-test'), 'secret\n')
    const fresh2 = generateSshKeyPair('second@e2e')
    await installAuthorizedKey(conn, fresh2.publicKey)
    assert.match(await conn.run('cat ~admin/.ssh/authorized_keys', 'reading admin\'s keys'), new RegExp(fresh2.publicKey.split(' ')[1].replace(/[+/]/g, '\\$&')))

    const {provisioner} = await detectProvisioner(conn)
    assert.deepEqual((await ensureHostPackages(conn, provisioner)).installed, [])
    const certs = certsFor(host.ip)
    await configureEngine(conn, {...certs.server, engine: {...NO_ENGINE, labels: ['via=sudo']}})
    const docker = new Docker({host: host.ip, port: 2376, protocol: 'https', ca: certs.ca, cert: certs.cert, key: certs.key})
    assert.deepEqual((await docker.info() as {Labels: string[]}).Labels, ['via=sudo'])
    assert.deepEqual(await unconfigureEngine(conn), {changed: true})

    await conn.run('rm /etc/sudoers.d/admin', 'taking sudo away')
    await assert.rejects(conn.run('true', 'checking docker'), (err: unknown) => {
      assert.ok(err instanceof SshError)
      assert.equal(err.oneLine(), `checking docker failed on ${host.ip}: admin may not use sudo without a password: give admin passwordless sudo (NOPASSWD in /etc/sudoers.d) or log in as root`)
      return true
    })
  } finally {
    conn.close()
  }
})
