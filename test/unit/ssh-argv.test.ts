import {test} from 'node:test'
import assert from 'node:assert/strict'
import {knownHostsLine, parseScpPath, readSshWords, scpArgv, scpMachineNames, sshArgv, type SshMachine} from '../../src/ssh/external.js'
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
  '-o', 'KnownHostsCommand=none',
  '-o', 'VerifyHostKeyDNS=no',
  '-o', 'UpdateHostKeys=no',
  '-o', 'ConnectTimeout=10',
]

test('sshArgv: the words after the name follow the destination as written (Docker Machine passes them to ssh)', () => {
  assert.deepEqual(sshArgv(web1, []), [...COMMON, '-p', '2222', 'admin@198.18.0.11'])
  assert.deepEqual(sshArgv(web1, ['-fN', '-L', '8080:localhost:8080']), [...COMMON, '-p', '2222', 'admin@198.18.0.11', '-fN', '-L', '8080:localhost:8080'])
  // A remote command runs in batch mode (no password prompt); -h reaches it.
  assert.deepEqual(sshArgv(web1, ['df', '-h']), [...COMMON, '-o', 'BatchMode=yes', '-p', '2222', 'admin@198.18.0.11', 'df', '-h'])
  assert.deepEqual(sshArgv(web1, ['-C', 'echo', 'foo']).slice(-4), ['admin@198.18.0.11', '-C', 'echo', 'foo'])
  assert.deepEqual(sshArgv(web1, ['--', 'ls', '-la']).slice(-4), ['admin@198.18.0.11', '--', 'ls', '-la'])
})

test('readSshWords reads options as ssh does: clusters, attached and separate values, -- and the first other word', () => {
  assert.deepEqual(readSshWords(['-fN', '-L', '8080:localhost:8080']), {settings: [], command: []})
  assert.deepEqual(readSshWords(['-A', '-oForwardAgent=yes', '-p', '22', '-o', 'Compression yes', 'uptime', '-o', 'x']),
    {settings: ['ForwardAgent=yes', 'Compression yes'], command: ['uptime', '-o', 'x']})
  assert.deepEqual(readSshWords(['-Co', 'LogLevel=ERROR', 'echo', 'foo']), {settings: ['LogLevel=ERROR'], command: ['echo', 'foo']})
  assert.deepEqual(readSshWords(['-t', '--', '-x']), {settings: [], command: ['-x']})
  assert.throws(() => readSshWords(['-L']), /ssh option -L needs a value/)
})

test('sshArgv refuses -o settings that would change which host keys are trusted, however written', () => {
  for (const words of [['-o', 'StrictHostKeyChecking=no'], ['-oUserKnownHostsFile=/dev/null'], ['-Co', 'stricthostkeychecking no'],
    ['-o', 'KnownHostsCommand=/bin/echo'], ['-o', 'VerifyHostKeyDNS yes'], ['-A', '-o', 'HostKeyAlias=other', 'ls']]) {
    assert.throws(() => sshArgv(web1, words), (e: unknown) => e instanceof InputError && /would change which host keys ssh trusts for web1: drop it/.test(e.oneLine()), words.join(' '))
  }
  // The same words after the command are the command's, not ssh's.
  assert.equal(sshArgv(web1, ['echo', '-o', 'StrictHostKeyChecking=no']).at(-1), 'StrictHostKeyChecking=no')
})

test('scpArgv: local to remote, remote to local, recursive, same machine both ends', () => {
  const up = {recursive: false, source: parseScpPath('./app.tar'), destination: parseScpPath('web1:/tmp/')}
  assert.deepEqual(scpMachineNames(up), ['web1'])
  assert.deepEqual(scpArgv([web1], up), [...COMMON, '-o', 'BatchMode=yes', '-P', '2222', '--', './app.tar', 'admin@198.18.0.11:/tmp/'])
  const down = {recursive: true, source: parseScpPath('web1:logs'), destination: parseScpPath('.')}
  assert.deepEqual(scpArgv([web1], down).slice(-5), ['2222', '-r', '--', 'admin@198.18.0.11:logs', '.'])
  const within = {recursive: false, source: parseScpPath('web1:/a'), destination: parseScpPath('web1:/b')}
  assert.deepEqual(scpArgv([web1], within).slice(-5), ['2222', '-3', '--', 'admin@198.18.0.11:/a', 'admin@198.18.0.11:/b'])
  const v6 = {...web1, host: 'fd00::1'}
  assert.equal(scpArgv([v6], up).at(-1), 'admin@[fd00::1]:/tmp/')
})

test('parseScpPath reads NAME:PATH like scp: a slash before the colon makes it local', () => {
  assert.deepEqual(parseScpPath('web1:/etc/hosts'), {machine: 'web1', path: '/etc/hosts'})
  assert.deepEqual(parseScpPath('web1:'), {machine: 'web1', path: ''})
  assert.deepEqual(parseScpPath('./a:b'), {path: './a:b'})
  assert.deepEqual(parseScpPath('/x:y'), {path: '/x:y'})
  assert.deepEqual(parseScpPath('file.txt'), {path: 'file.txt'})
  assert.throws(() => parseScpPath('we b:/x'), (e: unknown) => e instanceof InputError && /is not a machine name: write NAME:PATH, or \.\/PATH/.test(e.oneLine()))
})

test('scp between two machines: relayed here (-3), scp:// URIs with each one\'s user and port, both keys and pins', () => {
  const db: SshMachine = {name: 'db', host: '198.18.0.12', port: 22, user: 'debian', dir: '/s/machines/db'}
  const opts = {recursive: false, source: parseScpPath('web1:/tmp/foo.txt'), destination: parseScpPath('db:tmp/')}
  assert.deepEqual(scpMachineNames(opts), ['web1', 'db'])
  const argv = scpArgv([web1, db], opts)
  assert.deepEqual(argv.slice(0, 6), ['-i', '/home/u/.cluster/machines/web1/id_ed25519', '-i', '/s/machines/db/id_ed25519', '-o', 'IdentitiesOnly=yes'])
  assert.ok(argv.includes('UserKnownHostsFile=/home/u/.cluster/machines/web1/known_hosts /s/machines/db/known_hosts'))
  assert.ok(argv.includes('StrictHostKeyChecking=yes'))
  assert.deepEqual(argv.slice(-4), ['-3', '--', 'scp://admin@198.18.0.11:2222//tmp/foo.txt', 'scp://debian@198.18.0.12:22/tmp/'])
  assert.throws(() => scpMachineNames({recursive: false, source: {path: 'a'}, destination: {path: 'b'}}), /neither path names a machine/)
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
