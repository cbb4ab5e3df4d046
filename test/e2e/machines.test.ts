/**
 * The foundation end to end, on the compose lab: three machines adopted with the generic
 * driver (host1 with a key, host2 with a key, host3 a bare Debian 12 reached with a
 * password only), the stock docker client running containers on each over TLS, `ls`, the
 * error paths, and `rm` leaving nothing in etcd or the store.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, statSync, cpSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {HOSTS, ETCD_ENDPOINT, SSH_KEY, LAB_ROOT_PASSWORD, IMAGES, loadImage, run, execOk, startHost, startStoppedHost, removeHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, CLUSTER_BIN, type CliEnv} from '../support/cli.js'
import {verifyRevocation, type PeerRecord, type SignedPeer} from '../../core/membership.js'
import {loadSigningKey, signPeer} from '../../src/signing.js'
import {spawn} from 'node:child_process'

const CLUSTER = `e2e-machines-${process.pid}`
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
const prefix = `/cluster/${CLUSTER}/`
const NET = ['--overlay-range', '198.19.0.0/16']

const createArgs = {
  node1: ['-d', 'generic', '--generic-ip-address', HOSTS.host1, '--generic-ssh-key', SSH_KEY, '--engine-label', 'role=web', '--engine-label', 'zone=a', ...NET],
  node2: ['-d', 'generic', '--generic-ip-address', HOSTS.host2, '--generic-ssh-key', SSH_KEY, '--engine-env', `CLUSTER_E2E_Q=it's "quoted" $HOME %n \\ end`, ...NET],
  node3: ['-d', 'generic', '--generic-ip-address', HOSTS.host3, '--generic-ssh-password', LAB_ROOT_PASSWORD, ...NET],
}
type Node = keyof typeof createArgs

/** The docker CLI of this machine, pointed at a machine by evaluating `cluster env` in bash. */
async function dockerVia(node: Node, dockerArgs: string): Promise<{code: number; stdout: string; stderr: string}> {
  return run('bash', ['-c', `eval "$(CLUSTER_STORAGE_PATH=${env.storage} ${process.execPath} bin/run.js env ${node})" && docker ${dockerArgs}`], {timeoutMs: 120_000})
}

before(async () => {
  const results = await Promise.all((Object.keys(createArgs) as Node[]).map(n => cli(env, ['create', ...createArgs[n], n])))
  results.forEach((r, i) => assert.equal(r.code, 0, `create node${i + 1} failed:\n${r.stderr}`))
})

after(async () => {
  await Promise.all([...Object.keys(createArgs), 'node4'].map(n => cli(env, ['rm', '-f', '-y', n])))
  await etcd.delete().prefix(prefix).exec()
  etcd.close()
})

test('each machine runs containers with the stock docker client over TLS after eval $(cluster env)', async () => {
  for (const [node, host] of [['node1', 'host1'], ['node2', 'host2'], ['node3', 'host3']] as const) {
    await loadImage(host, IMAGES.busybox)
    const r = await dockerVia(node, `run --rm ${IMAGES.busybox} sh -c 'echo hello from $(hostname)'`)
    assert.equal(r.code, 0, `${node}: ${r.stderr}`)
    assert.match(r.stdout, /^hello from \w+/)
  }
})

test('the engine refuses clients without our certificate', async () => {
  const r = await run('docker', ['-H', `tcp://${HOSTS.host1}:2376`, '--tlsverify=false', '--tls', 'version', '--format', '{{.Server.Version}}'], {timeoutMs: 30_000})
  assert.notEqual(r.code, 0)
  const plain = await run('docker', ['-H', `tcp://${HOSTS.host1}:2376`, 'version', '--format', '{{.Server.Version}}'], {timeoutMs: 30_000})
  assert.notEqual(plain.code, 0)
})

test('the bare Debian 12 host got Docker and Node installed, and the password host a key', async () => {
  const out = await execOk('host3', ['sh', '-c', 'command -v dockerd && node --version && cat /root/.ssh/authorized_keys'])
  assert.match(out, /dockerd/)
  assert.match(out, /^v1[89]|^v2\d/m)
  assert.match(out, /ssh-ed25519 \S+ cluster-node3/)
  // Later commands log in with the key alone.
  assert.match(await cliOk(env, ['ssh', 'node3', '--', 'echo', 'by-key']), /by-key/)
})

test('ls shows all three Running with their URL and Docker version; --json, -q, --filter, --format', async () => {
  const rows = JSON.parse(await cliOk(env, ['ls', '--json'])) as {name: string; state: string; url: string; docker: string; driver: string}[]
  assert.deepEqual(rows.map(r => [r.name, r.state, r.driver]), [['node1', 'Running', 'generic'], ['node2', 'Running', 'generic'], ['node3', 'Running', 'generic']])
  assert.equal(rows[0].url, `tcp://${HOSTS.host1}:2376`)
  for (const r of rows) assert.match(r.docker, /^v\d+\.\d+/)
  assert.equal(await cliOk(env, ['ls', '-q']), 'node1\nnode2\nnode3\n')
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'label=role=web']), 'node1\n')
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'name=node2', '--filter', 'name=node3', '--filter', 'state=Running']), 'node2\nnode3\n')
  assert.equal(await cliOk(env, ['ls', '--format', '{{.Name}}:{{.State}}', '--filter', 'name=node1']), 'node1:Running\n')
  const table = await cliOk(env, ['ls'])
  assert.match(table, /^NAME\s+ACTIVE\s+DRIVER\s+STATE\s+URL\s+SWARM\s+DOCKER\s+ERRORS\n/)
})

test('a second local store on the same etcd lists the same machines', async () => {
  const other: CliEnv = {...env, storage: mkdtempSync(join(tmpdir(), 'cluster-other-'))}
  const rows = JSON.parse(await cliOk(other, ['ls', '--json', '-t', '5'])) as {name: string; state: string}[]
  assert.deepEqual(rows.map(r => r.name), ['node1', 'node2', 'node3'])
  assert.ok(rows.every(r => r.state === 'Running'))
})

test('ip, url, inspect, config, status, active', async () => {
  assert.equal(await cliOk(env, ['ip', 'node1', 'node2']), `${HOSTS.host1}\n${HOSTS.host2}\n`)
  assert.equal(await cliOk(env, ['url', 'node2']), `tcp://${HOSTS.host2}:2376\n`)
  const rec = JSON.parse(await cliOk(env, ['inspect', 'node1']))
  assert.equal(rec.name, 'node1')
  assert.deepEqual(rec.labels, {role: 'web', zone: 'a'})
  assert.match(rec.certFingerprint, /^[0-9a-f]{64}$/)
  assert.match(rec.hostKey, /^ssh-ed25519 /)
  assert.equal(await cliOk(env, ['inspect', '--format', '{{.dockerUrl}}', 'node3']), `tcp://${HOSTS.host3}:2376\n`)
  assert.match(await cliOk(env, ['config', 'node1']), new RegExp(`--tlsverify\\n--tlscacert=".*ca\\.pem"\\n.*-H=tcp://${HOSTS.host1.replaceAll('.', '\\.')}:2376\\n$`, 's'))
  assert.equal(await cliOk(env, ['status', 'node2']), 'Running\n')
  assert.equal(await cliOk(env, ['active'], {extraEnv: {DOCKER_HOST: `tcp://${HOSTS.host2}:2376`}}), 'node2\n')
  assert.equal((await cli(env, ['active'], {extraEnv: {DOCKER_HOST: ''}})).code, 1)
  const noPrivate = await cli(env, ['ip', '--private', 'node1'])
  assert.equal(noPrivate.code, 1)
  assert.match(noPrivate.stderr, /^Error: machine "node1" has no private address: /)
})

test('engine labels reach dockerd; private keys in the store are 0600', async () => {
  const r = await dockerVia('node1', 'info --format "{{json .Labels}}"')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /role=web/)
  assert.match(r.stdout, /zone=a/)
  for (const f of ['certs/ca-key.pem', 'certs/key.pem', 'signing.key', 'machines/node3/id_ed25519', 'machines/node1/id_ed25519']) {
    assert.equal(statSync(join(env.storage, f)).mode & 0o777, 0o600, f)
  }
  // The host's TLS key was made on the host: it is nowhere in the store.
  const files = readdirSync(join(env.storage, 'machines/node1'))
  assert.ok(!files.some(f => /server-key/.test(f)), files.join(','))
})

test('an engine env value with quotes, spaces, $, % and a backslash reaches dockerd\'s environment literally', async () => {
  const environ = await execOk('host2', ['sh', '-c', 'tr "\\0" "\\n" < /proc/$(pidof dockerd)/environ | grep ^CLUSTER_E2E_Q='])
  assert.equal(environ, `CLUSTER_E2E_Q=it's "quoted" $HOME %n \\ end\n`)
})

test('bad input: one line naming the problem and the fix, non-zero exit, nothing made', async () => {
  // A key the hosts have never seen.
  const strangerKey = join(mkdtempSync(join(tmpdir(), 'cluster-stranger-')), 'id')
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', strangerKey])
  const cases: [string[], RegExp][] = [
    [['create', '-d', 'generic', '--generic-ip-address', HOSTS.host1, 'bad_name'], /^Error: invalid machine name "bad_name": use 1-63 letters/],
    [['create', ...createArgs.node1, 'node1'], /^Error: machine "node1" already exists in cluster .*: choose another name/],
    [['create', '-d', 'generic', '--generic-ip-address', '198.18.0.254', '--generic-ssh-key', SSH_KEY, 'ghost'], /^Error: cannot reach 198\.18\.0\.254:22 over SSH/],
    [['create', '-d', 'generic', '--generic-ip-address', HOSTS.host3, '--generic-ssh-password', 'wrong', 'wrongpw'], /^Error: SSH login root@198\.18\.0\.13:22 failed/],
    [['create', '-d', 'generic', '--generic-ip-address', HOSTS.host2, '--generic-ssh-key', strangerKey, 'wrongkey'], /^Error: SSH login root@198\.18\.0\.12:22 failed/],
    [['create', '-d', 'generic', '--generic-ip-address', HOSTS.host1, '--digitalocean-region', 'ams3', 'mixed'], /^Error: flag --digitalocean-region belongs to driver digitalocean, not generic: drop it, or use -d digitalocean/],
    [['create', '-d', 'generic', '--generic-ip-address', HOSTS.host1, '--no-such-flag', 'x1'], /^Error: Nonexistent flag: --no-such-flag: see `cluster create --help`/],
    [['create', '-d', 'nosuch', 'x2'], /^Error: .*nosuch/],
    [['create', ...createArgs.node2.slice(0, 6), '--engine-env', 'A=b\nExecStartPre=/bin/touch /tmp/pwned', 'newline'],
      /^Error: --engine-env "A=b\\nExecStartPre=\/bin\/touch \/tmp\/pwned" contains a control character \(U\+000A\): give each value as one line of printable text$/],
    [['create', ...createArgs.node2.slice(0, 6), '--tls-san', 'a b', 'badsan'], /^Error: --tls-san "a b" is not an IP address or a DNS name/],
    [['ls', '--format', '{{.Name'], /^Error: --format has a "\{\{" at character 1 that is never closed/],
  ]
  const before = await etcd.getAll().prefix(prefix).strings()
  for (const [args, re] of cases) {
    const r = await cli(env, args, {timeoutMs: 120_000})
    assert.notEqual(r.code, 0, args.join(' '))
    assert.match(r.stderr.trim().split('\n').pop()!, re, `${args.join(' ')}:\n${r.stderr}`)
    if (args[0] === 'ls') assert.equal(r.stdout, '', 'a broken template lists nothing')
  }
  // Refused input is refused before anything is made: not even a progress line.
  const newline = await cli(env, ['create', ...createArgs.node2.slice(0, 6), '--engine-env', 'A=b\nc', 'newline'])
  assert.equal(newline.stderr.trim().split('\n').length, 1, newline.stderr)
  // The wrong password left nothing in etcd: no revocation, no subnet, nothing changed at all.
  assert.deepEqual(await etcd.getAll().prefix(prefix).strings(), before)
  assert.equal(existsSync(join(env.storage, 'machines/wrongpw')), false)
  // With no machine at all, a broken template still fails.
  const empty: CliEnv = {...newCliEnv(`${CLUSTER}-empty`, ETCD_ENDPOINT)}
  const none = await cli(empty, ['ls', '--format', '{{.Name'])
  assert.equal(none.code, 2, none.stderr)
  assert.match(none.stderr, /^Error: --format has a "\{\{" at character 1 that is never closed/m)
  const unreachable = await cli({...env, endpoints: 'http://198.18.0.2:2399'}, ['create', ...createArgs.node2, 'noetcd'])
  assert.notEqual(unreachable.code, 0)
  assert.match(unreachable.stderr, /Error: cannot reach etcd at http:\/\/198\.18\.0\.2:2399/)
  // Nothing half-made: only the three machines, in etcd and in the store.
  const names = Object.keys(await etcd.getAll().prefix(`${prefix}machines/`).strings()).map(k => k.split('/').pop())
  assert.deepEqual(names.sort(), ['node1', 'node2', 'node3'])
  assert.deepEqual(readdirSync(join(env.storage, 'machines')).sort(), ['node1', 'node2', 'node3'])
})

test('two creates of one name at once: exactly one wins', async () => {
  const host = await startHost({name: 'e2e-race', image: 'trixie'})
  try {
    const args = ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, 'race']
    const other: CliEnv = {...env, storage: mkdtempSync(join(tmpdir(), 'cluster-race-'))}
    cpSync(join(env.storage, 'certs'), join(other.storage, 'certs'), {recursive: true})
    cpSync(join(env.storage, 'signing.key'), join(other.storage, 'signing.key'))
    const [a, b] = await Promise.all([cli(env, args), cli(other, args)])
    assert.deepEqual([a.code, b.code].sort(), [0, 1], `${a.stderr}\n${b.stderr}`)
    const loser = a.code === 0 ? b : a
    assert.match(loser.stderr, /machine "race" already exists/)
    await cliOk(a.code === 0 ? env : other, ['rm', '-y', 'race'])
  } finally {
    await removeHost(host.name)
  }
})

test('a changed host key is refused with the ways out named', async () => {
  const host = await startHost({name: 'e2e-hostkey', image: 'trixie'})
  try {
    await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, 'hk'])
    await execOk(host.name, ['sh', '-c', 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A -q && systemctl restart ssh'])
    const r = await cli(env, ['provision', 'hk'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /host key of .* changed.*cluster regenerate-certs --accept-host-key hk.*cluster rm hk/s)
    await cliOk(env, ['regenerate-certs', '--accept-host-key', 'hk'])
    assert.match(await cliOk(env, ['ssh', 'hk', '--', 'echo', 'ok']), /ok/)
    await cliOk(env, ['rm', '-y', 'hk'])
  } finally {
    await removeHost(host.name)
  }
})

test('generic power actions: stop over SSH shows Stopped, start says it is not supported, the host comes back Running', async () => {
  const host = await startHost({name: 'e2e-power', image: 'trixie'})
  try {
    await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, 'pw'])
    await cliOk(env, ['stop', 'pw'])
    let state = ''
    // A powered-off host's address swallows packets until ARP gives up (~3 s): the default
    // --timeout of 10 s leaves room for that.
    for (let i = 0; i < 10 && state !== 'Stopped'; i++) {
      await new Promise(r => setTimeout(r, 1000))
      state = (await cli(env, ['status', 'pw'])).stdout.trim()
    }
    assert.equal(state, 'Stopped')
    const start = await cli(env, ['start', 'pw'])
    assert.equal(start.code, 1)
    assert.match(start.stderr, /^Error: start is not supported by driver generic: power the host on by other means/m)
    await startStoppedHost(host.name)
    await new Promise(r => setTimeout(r, 3000))
    assert.equal(await cliOk(env, ['status', 'pw']), 'Running\n')
    await cliOk(env, ['rm', '-y', 'pw'])
  } finally {
    await cli(env, ['rm', '-f', '-y', 'pw'])
    await removeHost(host.name)
  }
})

/** A create of `name` that failed left nothing: no machine or peer record, no subnet lease, no store folder. */
async function assertRolledBack(name: string): Promise<void> {
  assert.deepEqual(await etcd.getAll().prefix(`${prefix}machines/${name}`).keys(), [], `no etcd record of ${name}`)
  assert.deepEqual(await etcd.getAll().prefix(`${prefix}peers/${name}`).keys(), [], `no peer record of ${name}`)
  assert.ok(!Object.values(await etcd.getAll().prefix(`${prefix}subnets/`).strings()).includes(name), `no subnet lease of ${name}`)
  assert.equal(existsSync(join(env.storage, `machines/${name}`)), false, `no store folder of ${name}`)
}

/** Creates `name` on a fresh lab host broken by `breakIt` (a shell script); checks it failed and left nothing; returns its error line. */
async function failedCreate(name: string, image: 'bare' | 'trixie', breakIt: string): Promise<string> {
  const host = await startHost({name: `e2e-${name}`, image})
  try {
    await execOk(host.name, ['sh', '-c', breakIt])
    const r = await cli(env, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, ...NET, name])
    assert.notEqual(r.code, 0, `the create of ${name} succeeded`)
    await assertRolledBack(name)
    return r.stderr.trim().split('\n').pop()!
  } finally {
    await removeHost(host.name)
  }
}

test('a failing Docker install rolls back: nothing in etcd, nothing in the store, the host as it was', async () => {
  // A package source that cannot work: apt-get update fails, so Docker cannot be installed.
  const error = await failedCreate('broken', 'bare',
    'echo "deb http://198.18.0.1:9/nothing bookworm main" > /etc/apt/sources.list.d/broken.list; rm -f /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list')
  assert.match(error, /^Error: .*(install|apt)/i)
})

test('a router that cannot start fails the create, which rolls back: nothing in etcd or the store', async () => {
  // What 20 lab hosts on one kernel did (bench/creates): wireguard-go fails, the router exits, systemd restarts it for ever.
  const error = await failedCreate('norouter', 'trixie', 'printf "#!/bin/sh\\nexit 1\\n" > /usr/bin/wireguard-go')
  assert.match(error, /^Error: the router on norouter did not report back connected to etcd within \d+ s .*journalctl -u cluster-router/)
})

test('Ctrl-C during the Docker install rolls back: exit 130, nothing in etcd or the store', async () => {
  const host = await startHost({name: 'e2e-sigint', image: 'bare'})
  try {
    const child = spawn(process.execPath, [CLUSTER_BIN, 'create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, 'interrupted'], {
      env: {...process.env, CLUSTER_STORAGE_PATH: env.storage, CLUSTER_KV_ENDPOINTS: env.endpoints, CLUSTER_NAME: env.clusterName},
    })
    let stderr = ''
    const code = await new Promise<number | null>(resolve => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b
        if (/installing what is missing/.test(stderr) && !child.killed) setTimeout(() => child.kill('SIGINT'), 1000)
      })
      child.on('close', resolve)
    })
    assert.equal(code, 130, stderr)
    assert.match(stderr, /Interrupted: rolling back/)
    assert.match(stderr.trim().split('\n').pop()!, /^Error: create of interrupted was interrupted: everything it made was removed$/)
    await assertRolledBack('interrupted')
  } finally {
    await removeHost(host.name)
  }
})

// No peers prints nothing: an empty list, not [''].
const wgPeers = async (host: string) => (await execOk(host, ['wg', 'show', 'cluster-wg', 'peers'])).trim().split('\n').filter(Boolean)
const journal = (host: string) => execOk(host, ['journalctl', '-u', 'cluster-router', '-o', 'cat', '--no-pager'])
const isoRe = (iso: string) => iso.replaceAll('.', '\\.')
/** A router's line refusing NAME's record issued at ISSUEDAT: a date of this run, since the lab hosts' journals outlive a run. */
const refusal = (name: string, issuedAt: string, because: string) => new RegExp(`ignoring peer record ${name}: issued ${isoRe(issuedAt)}, ${because}`)
const REVOKED = 'revoked by `cluster rm` up to '
const recordOf = (raw: string) => JSON.parse((JSON.parse(raw) as SignedPeer).record) as PeerRecord
const until = async (what: string, check: () => Promise<boolean>) => {
  for (const deadline = Date.now() + 15_000; !(await check());) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 15 s`)
    await new Promise(r => setTimeout(r, 200))
  }
}

test('garbage and foreign JSON under every key prefix: ls, net status and dns ls still answer for the healthy machines', async () => {
  const junk: Record<string, string> = {
    'machines/zz-garbage': '{not json',
    'machines/zz-foreign': JSON.stringify({apiVersion: 'v1', kind: 'Pod', metadata: {name: 'x'}}),
    'subnets/garbage': 'x',
    'subnets/198.19.250.0-24': '{"owner":1}',
    'peers/zz-garbage': '{not json',
    'peers/zz-foreign': JSON.stringify({name: 'zz-foreign', subnet: '198.19.251.0/24'}),
    'revoked/zz-garbage': 'not json',
    'revoked/zz-foreign': JSON.stringify({kind: 'revocation', name: 'node1', before: new Date().toISOString()}),
    'dns/node1/zz-garbage': '{not json',
    'dns/zz-foreign/x': JSON.stringify({hello: 'world'}),
    'dns-static/zz/garbage': '[]',
    'swarm/zz-garbage': '{not json',
  }
  try {
    for (const [k, v] of Object.entries(junk)) await etcd.put(prefix + k).value(v)
    const rows = JSON.parse(await cliOk(env, ['ls', '--json'])) as {name: string; state: string; errors: string}[]
    assert.deepEqual(rows.map(r => [r.name, r.state]), [['node1', 'Running'], ['node2', 'Running'], ['node3', 'Running'], ['zz-foreign', 'Error'], ['zz-garbage', 'Error']])
    assert.equal(rows.find(r => r.name === 'zz-garbage')!.errors, 'invalid etcd record: not valid JSON')
    assert.equal(rows.find(r => r.name === 'zz-foreign')!.errors, 'invalid etcd record: field name is not a string')
    assert.match(await cliOk(env, ['ls']), /^zz-garbage\s+-\s+Error\s+invalid etcd record: not valid JSON$/m)
    assert.equal(await cliOk(env, ['ls', '-q']), 'node1\nnode2\nnode3\n')
    const status = await cliOk(env, ['net', 'status'])
    for (const n of ['node1', 'node2', 'node3']) assert.match(status, new RegExp(`^${n}: wireguard .*etcd connected, 2 peers$`, 'm'))
    assert.match(status, /^zz-garbage: invalid etcd record: not valid JSON$/m)
    const dns = await cli(env, ['dns', 'ls'])
    assert.equal(dns.code, 0, dns.stderr)
    assert.match(dns.stdout, /^NAME\s+IP\s+HOST/)
    assert.doesNotMatch(dns.stdout, /zz/)
  } finally {
    for (const k of Object.keys(junk)) await etcd.delete().key(prefix + k)
  }
})

test('a record redirected in etcd to another host\'s address and host key: provision and regenerate-certs refuse in one line, ssh reaches the pinned host, a store that never met it refuses too', async () => {
  const key = `${prefix}machines/node2`
  const original = (await etcd.get(key).string())!
  const node1 = JSON.parse((await etcd.get(`${prefix}machines/node1`).string())!) as Record<string, unknown>
  const forged = {...JSON.parse(original) as Record<string, unknown>, addresses: node1.addresses, dockerUrl: node1.dockerUrl, hostKey: node1.hostKey, driverData: node1.driverData}
  const logins = async () => (await execOk('host1', ['sh', '-c', 'journalctl -u ssh -o cat --no-pager | grep -c "^Accepted" || true'])).trim()
  const loginsBefore = await logins()
  try {
    await etcd.put(key).value(JSON.stringify(forged))
    for (const args of [['provision', 'node2'], ['regenerate-certs', 'node2']]) {
      const r = await cli(env, args)
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr.trim().split('\n').pop()!,
        new RegExp(`^Error: the etcd record of node2 says address ${HOSTS.host1.replaceAll('.', '\\.')}, this store pinned ${HOSTS.host2.replaceAll('.', '\\.')}: refusing to connect: .*\`cluster provision --restore-record node2\`$`))
    }
    assert.match(await cliOk(env, ['ssh', 'node2', '--', 'hostname']), /^host2$/m)
    assert.equal(await logins(), loginsBefore, 'nobody logged in to host1')
    const pinned = JSON.parse(readFileSync(join(env.storage, 'machines/node2/machine.json'), 'utf8')) as {record: {addresses: {public: string}}}
    assert.equal(pinned.record.addresses.public, HOSTS.host2, 'the local copy is not overwritten from etcd')
    // A teammate's store with the cluster keys but no copy of node2: the forged record's signature fails.
    const teammate: CliEnv = {...env, storage: mkdtempSync(join(tmpdir(), 'cluster-teammate-'))}
    cpSync(join(env.storage, 'certs'), join(teammate.storage, 'certs'), {recursive: true})
    cpSync(join(env.storage, 'signing.key'), join(teammate.storage, 'signing.key'))
    const rm = await cli(teammate, ['rm', '-y', 'node2'])
    assert.equal(rm.code, 1, rm.stderr)
    assert.match(rm.stderr.trim().split('\n').pop()!, /^Error: the etcd record of node2 cannot be trusted for SSH: signature does not match the cluster signing key: run the command from the store that created node2/)
    assert.equal(await etcd.get(key).string(), JSON.stringify(forged), 'nothing removed')
  } finally {
    await etcd.put(key).value(original)
  }
})

let node3Record = ''

test('rm revokes: a removed machine\'s old record written back into etcd is ignored, also after the revocation is deleted and the routers restart', async () => {
  const oldRecord = (await etcd.get(`${prefix}peers/node3`).string())!
  node3Record = oldRecord
  const node3Key = recordOf(oldRecord).publicKey
  assert.ok((await wgPeers('host1')).includes(node3Key), 'node3 is a peer of node1 before the rm')
  await cliOk(env, ['rm', '-y', 'node3'])
  await until('node1 drops node3', async () => !(await wgPeers('host1')).includes(node3Key))

  // The replay: node3's genuine, validly signed record put back by someone with etcd access.
  await etcd.put(`${prefix}peers/node3`).value(oldRecord)
  const revoked = refusal('node3', recordOf(oldRecord).issuedAt, REVOKED)
  for (const host of ['host1', 'host2']) await until(`${host} logs the revoked replay`, async () => revoked.test(await journal(host)))
  for (const host of ['host1', 'host2']) assert.ok(!(await wgPeers(host)).includes(node3Key), `${host} took the replayed record`)

  // Deleting the revocation from etcd and restarting a router brings nothing back either.
  await etcd.delete().key(`${prefix}revoked/node3`)
  const times = async () => (await journal('host1')).split('\n').filter(l => revoked.test(l)).length
  const before = await times()
  await execOk('host1', ['systemctl', 'restart', 'cluster-router'])
  await until('the restarted router ignores the replay again', async () => (await times()) > before)
  await new Promise(r => setTimeout(r, 1000))
  assert.ok(!(await wgPeers('host1')).includes(node3Key), 'after a restart without the revocation in etcd')
  await etcd.delete().key(`${prefix}peers/node3`)
})

test('replays: an older record of a live member is refused, and its router puts the current one back; a host created after a revocation was deleted from etcd refuses the removed host\'s record', async () => {
  // An older record of node1, validly signed (the store's own key), put over its current one.
  const signing = loadSigningKey(env.storage)!
  const currentRaw = (await etcd.get(`${prefix}peers/node1`).string())!
  const current = recordOf(currentRaw)
  const older: PeerRecord = {...current, publicKey: Buffer.alloc(32, 7).toString('base64'), issuedAt: new Date(Date.parse(current.issuedAt) - 3_600_000).toISOString()}
  try {
    await etcd.put(`${prefix}peers/node1`).value(JSON.stringify(signPeer(older, signing.secretKey)))
    const refused = refusal('node1', older.issuedAt, `older than its record issued ${isoRe(current.issuedAt)} already seen`)
    await until('node2 refuses the older record of node1', async () => refused.test(await journal('host2')))
    assert.ok(!(await wgPeers('host2')).includes(older.publicKey), 'the replayed key is never a peer')
    // node1's router sees its record replaced and writes its own back: nobody has to.
    await until('node1\'s router writes its current record back', async () => (await etcd.get(`${prefix}peers/node1`).string()) === currentRaw)
    assert.match(await journal('host1'), /this host's peer record in etcd was replaced \(issued \S+, not after this router's \S+\); writing it back/)
  } finally {
    await etcd.put(`${prefix}peers/node1`).value(currentRaw)
  }
  await until('node2 takes node1\'s current record back', async () => (await wgPeers('host2')).includes(current.publicKey))

  // revoked/node3 was deleted from etcd in the test before; node3's old record is replayed,
  // and a new host is created: the store hands its router the revocation, and puts it back in etcd.
  assert.equal(await etcd.get(`${prefix}revoked/node3`).string(), null)
  await etcd.put(`${prefix}peers/node3`).value(node3Record)
  try {
    await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', HOSTS.host3, '--generic-ssh-password', LAB_ROOT_PASSWORD, ...NET, 'node4'], {timeoutMs: 600_000})
    const restored = await etcd.get(`${prefix}revoked/node3`).string()
    const signingKey = JSON.parse((await etcd.get(`${prefix}settings`).string())!).signingKey as string
    assert.equal((verifyRevocation(JSON.parse(restored!), signingKey) as {name?: string}).name, 'node3', 'the store put the revocation back')
    const config = JSON.parse(await execOk('host3', ['cat', '/etc/cluster/router.json'])) as {revocations: SignedPeer[]; newest: Record<string, string>}
    assert.ok(config.revocations.some(r => (verifyRevocation(r, signingKey) as {name?: string}).name === 'node3'), 'the new router was told')
    assert.ok(config.newest.node1 && config.newest.node2, JSON.stringify(config.newest))
    await until('node4 ignores the replayed node3', async () => refusal('node3', recordOf(node3Record).issuedAt, REVOKED).test(await journal('host3')))
    // The router logs the refusal while it reads etcd's listing, and sets the WireGuard peers
    // in the reconcile after (about 0.1 s later in the lab): wait for that reconcile.
    const live = [current.publicKey, recordOf((await etcd.get(`${prefix}peers/node2`).string())!).publicKey].sort()
    await until('node4 sets node1 and node2 as peers', async () => {
      const peers = await wgPeers('host3')
      return live.every(k => peers.includes(k))
    })
    assert.deepEqual((await wgPeers('host3')).sort(), live, `node4's peers are exactly node1 and node2, never node3 (${recordOf(node3Record).publicKey})`)
  } finally {
    await etcd.delete().key(`${prefix}peers/node3`)
    await cli(env, ['rm', '-f', '-y', 'node4'])
  }
})

test('rm leaves nothing in etcd or the store, and undoes the engine setup on the host', async () => {
  for (const n of ['node1', 'node2'] as Node[]) await cliOk(env, ['rm', '-y', n])
  const left = await etcd.getAll().prefix(prefix).strings()
  // What stays on purpose: the settings, and one signed revocation per removed machine.
  const revocations = Object.entries(left).filter(([k]) => k.startsWith(`${prefix}revoked/`))
  assert.deepEqual(Object.keys(left).filter(k => !k.endsWith('/settings') && !k.startsWith(`${prefix}revoked/`)), [])
  const revokedNames = revocations.map(([k]) => k.split('/').pop())
  assert.ok(['node1', 'node2'].every(n => revokedNames.includes(n)), `revocations: ${revokedNames.join(' ')}`)
  const signingKey = JSON.parse(left[`${prefix}settings`]!).signingKey as string
  for (const [, raw] of revocations) assert.equal((verifyRevocation(JSON.parse(raw), signingKey) as {kind?: string}).kind, 'revocation')
  assert.deepEqual(readdirSync(join(env.storage, 'machines')), [])
  const out = await execOk('host1', ['sh', '-c', 'ls /etc/systemd/system/docker.service.d/ 2>/dev/null; systemctl is-active docker; ss -ltn | grep -c :2376 || true'])
  assert.doesNotMatch(out, /cluster/)
  assert.match(out, /^active$/m)
  assert.match(out, /^0$/m)
})
