/**
 * SshConnection against a real OpenSSH sshd started for this test on 127.0.0.1, with its own
 * config, host key and authorized_keys in a temp folder (the system's sshd is never touched).
 * Needs /usr/sbin/sshd (Debian package openssh-server) and root (sshd must start as root).
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, spawnSync, execFileSync, type ChildProcess} from 'node:child_process'
import {mkdtempSync, writeFileSync, readFileSync, rmSync, statSync, mkdirSync} from 'node:fs'
import {connect, createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {connectSsh, waitForSsh, UnreachableError, type SshConnection} from '../../src/ssh/client.js'
import {installAuthorizedKey, removeAuthorizedKey} from '../../src/ssh/keys.js'
import {generateSshKeyPair} from '../../drivers/sdk/ssh-keygen.js'
import {knownHostsLine} from '../../src/ssh/external.js'
import {hostKeyFingerprint} from '../../src/ssh/host-key.js'
import {ClusterError, HostKeyMismatchError, InputError, ProvisionError, SshError} from '../../core/errors.js'
import {freePort} from '../support/net.js'
import {needs} from '../support/needs.js'
import {Registry} from '../../router/metrics/registry.js'
import {serveMetrics} from '../../router/metrics/server.js'
import {parseMetrics, sampleValue, scrapeRouterMetrics} from '../../src/metrics/scrape.js'
import {RECONCILE_RUNS} from '../../core/metrics.js'
import {waitFor} from '../support/wait.js'

needs('sshd', 'ssh', 'root')

const dir = mkdtempSync(join(tmpdir(), 'cluster-sshd-'))
const home = join(dir, 'home')
let sshd: ChildProcess
let port: number
let hostKey: string
let conn: SshConnection
const clientKey = join(dir, 'client_key')

function target(extra: Record<string, unknown> = {}) {
  return {host: '127.0.0.1', port, user: 'root', privateKeyPath: clientKey, ...extra}
}

before(async () => {
  port = await freePort()
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')])
  const pair = generateSshKeyPair('test@cluster')
  writeFileSync(clientKey, pair.privateKey, {mode: 0o600})
  writeFileSync(join(dir, 'authorized_keys'), pair.publicKey + '\n', {mode: 0o600})
  mkdirSync(home, {mode: 0o700})
  mkdirSync('/run/sshd', {recursive: true, mode: 0o755})
  writeFileSync(join(dir, 'sshd_config'), [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    // The second file is $HOME/.ssh/authorized_keys of the session, where installAuthorizedKey writes.
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')} ${join(home, '.ssh/authorized_keys')}`,
    `SetEnv HOME=${home}`,
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    // scp speaks SFTP since OpenSSH 9.0.
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
  ].join('\n') + '\n')
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {stdio: ['ignore', 'ignore', 'inherit']})
  const [algo, key] = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ')
  hostKey = `${algo} ${key}`
  conn = await waitForSsh(target(), 10_000, 100)
})

after(() => {
  conn?.close()
  sshd?.kill()
  rmSync(dir, {recursive: true, force: true})
})

test('first contact exposes the host key the server presented; its fingerprint is ssh-keygen\'s', () => {
  assert.equal(conn.hostKey, hostKey)
  const keygen = execFileSync('ssh-keygen', ['-lf', join(dir, 'host_key.pub')], {encoding: 'utf8'}).split(' ')[1]
  assert.equal(hostKeyFingerprint(hostKey), `ssh-ed25519 ${keygen}`)
})

test('exec returns exit code, stdout, stderr and feeds stdin', async () => {
  const r = await conn.exec('cat; echo oops >&2; exit 3', {stdin: 'hello\n'})
  assert.deepEqual(r, {code: 3, stdout: 'hello\n', stderr: 'oops\n'})
})

test('run returns stdout and names the step and stderr when the command fails', async () => {
  assert.equal(await conn.run('echo fine', 'saying fine'), 'fine\n')
  await assert.rejects(conn.run('echo first >&2; echo "no such package foo" >&2; exit 100', 'installing foo'), (err: unknown) => {
    assert.ok(err instanceof ProvisionError)
    assert.equal(err.message, 'installing foo failed on 127.0.0.1 (exit 100): first | no such package foo')
    return true
  })
})

test('exec with a timeout kills the command and says so', async () => {
  const t0 = Date.now()
  await assert.rejects(conn.exec('sleep 31.5', {timeoutMs: 300}), /command timed out after 0.3 s on root@127.0.0.1:\d+: sleep 31.5/)
  assert.ok(Date.now() - t0 < 2000)
  assert.equal(spawnSync('pgrep', ['-f', 'sleep 31.5']).status, 1, 'the remote command was killed')
})

test('writeFile is atomic, creates the folder and sets the mode; readFile reads it back', async () => {
  const path = join(dir, 'remote', "it's a dir", 'key.pem')
  const content = Buffer.from([0, 1, 2, 255, 10, 39, 34])
  await conn.writeFile(path, content, 0o600)
  assert.deepEqual(readFileSync(path), content)
  assert.equal(statSync(path).mode & 0o777, 0o600)
  await conn.writeFile(path, 'replaced\n', 0o644)
  assert.equal(statSync(path).mode & 0o777, 0o644)
  assert.equal(await conn.readFile(path), 'replaced\n')
  assert.equal(execFileSync('ls', ['-A', join(dir, 'remote', "it's a dir")], {encoding: 'utf8'}), 'key.pem\n')
  assert.equal(await conn.readFile(join(dir, 'absent')), undefined)
})

test('the pinned host key is accepted when it matches', async () => {
  const c = await connectSsh(target({pinnedHostKey: hostKey + ' comment'}))
  assert.equal(c.hostKey, hostKey)
  c.close()
})

test('a changed host key is refused with both fingerprints and the ways out', async () => {
  const other = execFileSync('sh', ['-c', `ssh-keygen -q -t ed25519 -N '' -f ${dir}/other && cat ${dir}/other.pub`], {encoding: 'utf8'})
  const pinned = other.split(' ').slice(0, 2).join(' ')
  await assert.rejects(connectSsh(target({pinnedHostKey: pinned, machineName: 'web1'})), (err: unknown) => {
    assert.ok(err instanceof HostKeyMismatchError)
    assert.match(err.oneLine(), new RegExp(`^host key of 127\\.0\\.0\\.1:${port} changed \\(was ssh-ed25519 SHA256:[\\w+/]{43}, now ssh-ed25519 SHA256:[\\w+/]{43}\\): if the host was rebuilt run \`cluster regenerate-certs --accept-host-key web1\`, otherwise \`cluster rm web1\`$`))
    return true
  })
})

test('a refused key is a login failure naming the flags to check', async () => {
  const wrong = join(dir, 'wrong_key')
  writeFileSync(wrong, generateSshKeyPair('wrong').privateKey, {mode: 0o600})
  await assert.rejects(connectSsh(target({privateKeyPath: wrong})), (err: unknown) => {
    assert.ok(err instanceof SshError && !(err instanceof UnreachableError))
    assert.equal(err.oneLine(), `SSH login root@127.0.0.1:${port} failed: the password or key was refused: check --generic-ssh-key / --generic-ssh-password`)
    return true
  })
})

test('a closed port is unreachable, and waitForSsh gives up after its budget', async () => {
  const closed = await freePort()
  await assert.rejects(connectSsh(target({port: closed})), (err: unknown) => {
    assert.ok(err instanceof UnreachableError)
    assert.equal(err.oneLine(), `cannot reach 127.0.0.1:${closed} over SSH (connection refused): check --generic-ip-address and that sshd runs`)
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED')
    return true
  })
  const t0 = Date.now()
  await assert.rejects(waitForSsh(target({port: closed}), 1500, 200), UnreachableError)
  const waited = Date.now() - t0
  assert.ok(waited >= 1200 && waited < 3000, `waited ${waited} ms`)
})

test('a server that never speaks SSH times out after timeoutMs', async () => {
  const silent: Server = createServer(() => {}).listen(0, '127.0.0.1')
  await new Promise(r => silent.once('listening', r))
  const silentPort = (silent.address() as {port: number}).port
  try {
    const t0 = Date.now()
    await assert.rejects(connectSsh(target({port: silentPort, timeoutMs: 500})),
      new RegExp(`^UnreachableError: cannot reach 127\\.0\\.0\\.1:${silentPort} over SSH \\(connect timed out\\)`))
    assert.ok(Date.now() - t0 < 3000)
  } finally {
    silent.close()
  }
})

test('an aborted signal stops the connect with the abort reason', async () => {
  const ac = new AbortController()
  ac.abort(new Error('interrupted'))
  await assert.rejects(connectSsh(target({signal: ac.signal})), /interrupted/)
})

test('installAuthorizedKey appends once, keeps other lines, and the new key logs in; removeAuthorizedKey takes it out', async () => {
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh/authorized_keys'), 'ssh-ed25519 AAAAexisting user@elsewhere') // no final newline
  const fresh = generateSshKeyPair('cluster@web1')
  await installAuthorizedKey(conn, fresh.publicKey)
  await installAuthorizedKey(conn, fresh.publicKey)
  const file = join(home, '.ssh/authorized_keys')
  assert.equal(readFileSync(file, 'utf8'), `ssh-ed25519 AAAAexisting user@elsewhere\n${fresh.publicKey}\n`)
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.equal(statSync(join(home, '.ssh')).mode & 0o777, 0o700)
  const freshPath = join(dir, 'fresh_key')
  writeFileSync(freshPath, fresh.privateKey, {mode: 0o600})
  const c = await connectSsh(target({privateKeyPath: freshPath, pinnedHostKey: hostKey}))
  assert.equal((await c.exec('echo in')).stdout, 'in\n')
  c.close()
  await removeAuthorizedKey(conn, fresh.publicKey)
  assert.equal(readFileSync(file, 'utf8'), 'ssh-ed25519 AAAAexisting user@elsewhere\n')
  await assert.rejects(connectSsh(target({privateKeyPath: freshPath})), /password or key was refused/)
})

test('generateSshKeyPair makes an OpenSSH ed25519 key ssh-keygen accepts', () => {
  const pair = generateSshKeyPair('me@here')
  assert.match(pair.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[\w+/]+=* me@here$/)
  const path = join(dir, 'gen_key')
  writeFileSync(path, pair.privateKey, {mode: 0o600})
  const derived = execFileSync('ssh-keygen', ['-y', '-f', path], {encoding: 'utf8'}).trim()
  assert.equal(derived.split(' ').slice(0, 2).join(' '), pair.publicKey.split(' ').slice(0, 2).join(' '))
})

/** Runs the built CLI (bin/run.js) with a store holding one machine "web1" that points at our sshd. */
function cli(args: string[], store: string): {status: number | null; stdout: string; stderr: string} {
  const bin = join(fileURLToPath(import.meta.url), '../../../../bin/run.js')
  const r = spawnSync(process.execPath, [bin, ...args], {env: {...process.env, CLUSTER_STORAGE_PATH: store}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

function storeWithMachine(pinned: string): string {
  const store = mkdtempSync(join(dir, 'store-'))
  const machineDir = join(store, 'machines', 'web1')
  mkdirSync(machineDir, {recursive: true, mode: 0o700})
  const record = {name: 'web1', driver: 'generic', driverData: {ip: '127.0.0.1', sshUser: 'root', sshPort: port}, addresses: {public: '127.0.0.1'}, dockerUrl: 'tcp://127.0.0.1:2376',
    sshUser: 'root', sshPort: port, labels: {}, engine: {}, certFingerprint: '', caFingerprint: '', hostKey: pinned,
    state: 'ready', createdAt: new Date().toISOString(), createdBy: 'test'}
  writeFileSync(join(machineDir, 'machine.json'), JSON.stringify({record}))
  writeFileSync(join(machineDir, 'id_ed25519'), readFileSync(clientKey), {mode: 0o600})
  writeFileSync(join(machineDir, 'known_hosts'), knownHostsLine('127.0.0.1', port, pinned) + '\n', {mode: 0o600})
  return store
}

test('`cluster ssh NAME -- cmd` runs with the machine key and pinned host key and returns the remote exit code', () => {
  const store = storeWithMachine(hostKey)
  const r = cli(['ssh', 'web1', '--', 'echo', 'hi from $(hostname)', ';', 'exit', '7'], store)
  assert.equal(r.status, 7, r.stderr)
  assert.equal(r.stdout, `hi from ${execFileSync('hostname', {encoding: 'utf8'}).trim()}\n`)
  assert.equal(cli(['ssh', 'web1', '--', 'true'], store).status, 0)
  // ssh options after the name, as Docker Machine passes them: -L takes one value, the rest is the command.
  assert.equal(cli(['ssh', 'web1', '-L', `127.0.0.1:${port + 1}:127.0.0.1:${port}`, 'exit 4'], store).status, 4)
  assert.equal(cli(['ssh', 'web1', '-C', 'echo', '-h'], store).stdout, '-h\n')
})

test('`cluster ssh` refuses a host whose key differs from the pinned one', () => {
  const other = readFileSync(join(dir, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ')
  const r = cli(['ssh', 'web1', '--', 'true'], storeWithMachine(other))
  assert.equal(r.status, 255)
  assert.match(r.stderr, /Host key verification failed/)
})

test('`cluster scp` copies to and from the machine; a missing machine is one clear line', () => {
  const store = storeWithMachine(hostKey)
  const local = join(dir, 'upload.txt')
  writeFileSync(local, 'payload\n')
  const remote = join(dir, 'remote-copy.txt')
  let r = cli(['scp', local, `web1:${remote}`], store)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(readFileSync(remote, 'utf8'), 'payload\n')
  mkdirSync(join(dir, 'tree/sub'), {recursive: true})
  writeFileSync(join(dir, 'tree/sub/f'), 'deep\n')
  r = cli(['scp', '-r', `web1:${join(dir, 'tree')}`, join(dir, 'tree-copy')], store)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(readFileSync(join(dir, 'tree-copy/sub/f'), 'utf8'), 'deep\n')
  r = cli(['scp', local, 'nosuch:/tmp/x'], store)
  assert.equal(r.status, 1)
  assert.match(r.stderr, /^Error: machine "nosuch" is not in this store \(.*\): run `cluster ls` to see machine names$/m)
})

test('`cluster ssh -L` forwards a local port through the machine', async () => {
  const store = storeWithMachine(hostKey)
  const local = await freePort()
  const bin = join(fileURLToPath(import.meta.url), '../../../../bin/run.js')
  // Forward to the sshd itself: whatever answers on the local port must greet like OpenSSH.
  const child = spawn(process.execPath, [bin, 'ssh', 'web1', '-L', `127.0.0.1:${local}:127.0.0.1:${port}`, '--', 'sleep', '5'],
    {env: {...process.env, CLUSTER_STORAGE_PATH: store}, stdio: 'ignore'})
  try {
    const banner = await retry(() => readBanner(local), 8000)
    assert.match(banner, /^SSH-2\.0-OpenSSH/)
  } finally {
    child.kill()
  }
})

test('`cluster ssh NAME` without a command opens an interactive shell on a terminal', () => {
  const store = storeWithMachine(hostKey)
  const bin = join(fileURLToPath(import.meta.url), '../../../../bin/run.js')
  // script(1) gives the CLI a terminal, as a user's shell would.
  const r = spawnSync('script', ['-qec', `${process.execPath} ${bin} ssh web1`, '/dev/null'],
    {env: {...process.env, CLUSTER_STORAGE_PATH: store}, input: 'echo "tty=$(tty)"; exit 3\n', encoding: 'utf8', timeout: 20_000})
  assert.equal(r.status, 3, r.stdout + r.stderr)
  assert.match(r.stdout, /tty=\/dev\/pts\/\d+/)
})

function readBanner(p: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(p, '127.0.0.1')
    socket.once('data', d => {
      socket.destroy()
      resolve(d.toString())
    })
    socket.once('error', reject)
    socket.once('close', () => reject(new Error('closed before a banner')))
  })
}

async function retry<T>(fn: () => Promise<T>, totalMs: number): Promise<T> {
  const deadline = Date.now() + totalMs
  for (;;) {
    try {
      return await fn()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise(r => setTimeout(r, 100))
    }
  }
}

test('a server that closes before the handshake is unreachable (worth retrying while it boots)', async () => {
  const closing: Server = createServer(s => s.destroy()).listen(0, '127.0.0.1')
  await new Promise(r => closing.once('listening', r))
  const closingPort = (closing.address() as {port: number}).port
  try {
    await assert.rejects(connectSsh(target({port: closingPort})), (err: unknown) => {
      assert.ok(err instanceof UnreachableError)
      assert.match(err.message, new RegExp(`^cannot reach 127\\.0\\.0\\.1:${closingPort} over SSH \\((closed before the SSH handshake|connection reset)\\)$`))
      return true
    })
  } finally {
    closing.close()
  }
})

test('a missing key file or no credentials at all is refused before connecting', async () => {
  await assert.rejects(connectSsh(target({privateKeyPath: join(dir, 'nope')})), /^SshError: cannot read SSH key .*nope/)
  await assert.rejects(connectSsh(target({privateKeyPath: undefined})), (err: unknown) =>
    err instanceof InputError && err.oneLine() === 'no SSH key or password for root@127.0.0.1: check --generic-ssh-key / --generic-ssh-password')
})

test('scrapeRouterMetrics fetches /metrics from the machine\'s loopback through sshd; a port nobody serves is one clear error', async () => {
  const registry = new Registry()
  registry.counter(RECONCILE_RUNS, 'Runs.').inc({}, 7)
  // The router's answer waits for `wg show`: a client that half-closes early loses it.
  registry.onCollect(() => new Promise(resolve => setTimeout(resolve, 100)))
  const [serving] = serveMetrics(['127.0.0.1'], registry, {info() {}, warn() {}})
  try {
    const text = await waitFor('the metrics through sshd', () => scrapeRouterMetrics(conn, 2000), 5000)
    assert.equal(sampleValue(parseMetrics(text), RECONCILE_RUNS), 7)
  } finally {
    await serving.stop()
  }
  await assert.rejects(scrapeRouterMetrics(conn, 2000), (err: unknown) => err instanceof ClusterError && /127\.0\.0\.1:9713/.test(err.message))
})
