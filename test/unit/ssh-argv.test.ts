import {test} from 'node:test'
import assert from 'node:assert/strict'
import {knownHostsLine, parseScpPath, scpArgv, scpMachineName, sshArgv, type SshMachine} from '../../src/ssh/external.js'
import {shq, asRoot} from '../../src/ssh/shell.js'
import {formatHostKey, hostKeyFingerprint, sameHostKey} from '../../src/ssh/host-key.js'
import {InputError} from '../../core/errors.js'

const web1: SshMachine = {name: 'web1', host: '198.18.0.11', port: 2222, user: 'admin', dir: '/home/u/.cluster/machines/web1'}
const COMMON = [
  '-i', '/home/u/.cluster/machines/web1/id_ed25519',
  '-o', 'IdentitiesOnly=yes',
  '-o', 'UserKnownHostsFile=/home/u/.cluster/machines/web1/known_hosts',
  '-o', 'GlobalKnownHostsFile=/dev/null',
  '-o', 'StrictHostKeyChecking=yes',
  '-o', 'ConnectTimeout=10',
]

test('sshArgv: interactive shell without BatchMode, forwards passed through', () => {
  assert.deepEqual(sshArgv(web1, {command: [], localForwards: ['8080:127.0.0.1:80', '9000:127.0.0.1:9000'], remoteForwards: ['2000:127.0.0.1:22']}), [
    ...COMMON, '-p', '2222', '-L', '8080:127.0.0.1:80', '-L', '9000:127.0.0.1:9000', '-R', '2000:127.0.0.1:22', '--', 'admin@198.18.0.11',
  ])
})

test('sshArgv: a command runs in batch mode, its words after the destination (even ones that look like options)', () => {
  assert.deepEqual(sshArgv(web1, {command: ['ls', '-la', '/tmp']}), [...COMMON, '-o', 'BatchMode=yes', '-p', '2222', '--', 'admin@198.18.0.11', 'ls', '-la', '/tmp'])
  assert.deepEqual(sshArgv(web1, {command: ['top'], tty: true}).slice(-6), ['-p', '2222', '-t', '--', 'admin@198.18.0.11', 'top'])
})

test('scpArgv: local to remote, remote to local, recursive, same machine both ends', () => {
  const up = {recursive: false, source: parseScpPath('./app.tar'), destination: parseScpPath('web1:/tmp/')}
  assert.equal(scpMachineName(up), 'web1')
  assert.deepEqual(scpArgv(web1, up), [...COMMON, '-o', 'BatchMode=yes', '-P', '2222', '--', './app.tar', 'admin@198.18.0.11:/tmp/'])
  const down = {recursive: true, source: parseScpPath('web1:logs'), destination: parseScpPath('.')}
  assert.deepEqual(scpArgv(web1, down).slice(-5), ['2222', '-r', '--', 'admin@198.18.0.11:logs', '.'])
  const within = {recursive: false, source: parseScpPath('web1:/a'), destination: parseScpPath('web1:/b')}
  assert.deepEqual(scpArgv(web1, within).slice(-5), ['2222', '-3', '--', 'admin@198.18.0.11:/a', 'admin@198.18.0.11:/b'])
  const v6 = {...web1, host: 'fd00::1'}
  assert.equal(scpArgv(v6, up).at(-1), 'admin@[fd00::1]:/tmp/')
})

test('parseScpPath reads NAME:PATH like scp: a slash before the colon makes it local', () => {
  assert.deepEqual(parseScpPath('web1:/etc/hosts'), {machine: 'web1', path: '/etc/hosts'})
  assert.deepEqual(parseScpPath('web1:'), {machine: 'web1', path: ''})
  assert.deepEqual(parseScpPath('./a:b'), {path: './a:b'})
  assert.deepEqual(parseScpPath('/x:y'), {path: '/x:y'})
  assert.deepEqual(parseScpPath('file.txt'), {path: 'file.txt'})
  assert.throws(() => parseScpPath('we b:/x'), (e: unknown) => e instanceof InputError && /is not a machine name: write NAME:PATH, or \.\/PATH/.test(e.oneLine()))
})

test('scpMachineName refuses no machine and two machines', () => {
  assert.throws(() => scpMachineName({recursive: false, source: {path: 'a'}, destination: {path: 'b'}}), /neither path names a machine/)
  assert.throws(() => scpMachineName({recursive: false, source: {machine: 'a', path: 'x'}, destination: {machine: 'b', path: 'y'}}),
    /cannot copy between two machines \(a, b\) in one scp/)
})

test('knownHostsLine uses [host]:port except on port 22 and drops a comment', () => {
  assert.equal(knownHostsLine('198.18.0.11', 22, 'ssh-ed25519 AAAAC3 root@h'), '198.18.0.11 ssh-ed25519 AAAAC3')
  assert.equal(knownHostsLine('198.18.0.11', 2222, 'ssh-ed25519 AAAAC3'), '[198.18.0.11]:2222 ssh-ed25519 AAAAC3')
})

test('shq quotes anything a shell could misread; asRoot wraps in sudo -n', () => {
  assert.equal(shq('/etc/docker/daemon.json'), '/etc/docker/daemon.json')
  assert.equal(shq("it's $HOME `x`"), `'it'\\''s $HOME \`x\`'`)
  assert.equal(shq(''), "''")
  assert.equal(asRoot("echo 'a'"), `sudo -n sh -c 'echo '\\''a'\\'''`)
})

test('host keys: formatted from the wire blob, fingerprinted like ssh-keygen, compared without comments', () => {
  const key = Buffer.alloc(32, 7)
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), key])
  const formatted = formatHostKey(blob)
  assert.equal(formatted, `ssh-ed25519 ${blob.toString('base64')}`)
  assert.match(hostKeyFingerprint(formatted), /^ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}$/)
  assert.ok(sameHostKey(formatted, `${formatted} root@host`))
  assert.ok(!sameHostKey(formatted, `ssh-rsa ${blob.toString('base64')}`))
})
