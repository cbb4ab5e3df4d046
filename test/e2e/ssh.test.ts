/**
 * `cluster ssh NAME WORDS…` hands the words to the system ssh as Docker Machine does
 * (options, then the remote command), against a real sshd, while the pinned host key stays
 * the only key accepted whatever options come through.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {createConnection} from 'node:net'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {HOSTS, ETCD_ENDPOINT, SSH_KEY, run} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'

const CLUSTER = `e2e-ssh-${process.pid}`
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const NAME = 'ssh1'

before(async () => {
  await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', HOSTS.host1, '--generic-ssh-key', SSH_KEY, '--overlay-range', '198.19.0.0/16', NAME])
})

after(async () => {
  await cli(env, ['rm', '-f', '-y', NAME])
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  await etcd.delete().prefix(`/cluster/${CLUSTER}/`).exec()
  etcd.close()
})

/** The first line a TCP port sends (an SSH banner, here). */
function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({host: '127.0.0.1', port}, () => s.once('data', b => { resolve(b.toString().split('\r\n')[0]); s.destroy() }))
    s.on('error', reject)
  })
}

test('ssh NAME -fN -L forwards a port in the background (seed 002\'s command)', async () => {
  const port = 20000 + (process.pid % 20000)
  const spec = `${port}:localhost:22`
  const r = await cli(env, ['ssh', NAME, '-fN', '-L', spec], {timeoutMs: 30_000})
  assert.equal(r.code, 0, r.stderr)
  const pids = (await run('pgrep', ['-f', '--', `-L ${spec}`])).stdout.trim().split('\n').filter(Boolean)
  try {
    assert.equal(pids.length, 1, 'one ssh left running in the background')
    assert.match(await banner(port), /^SSH-2\.0-OpenSSH/)
  } finally {
    for (const pid of pids) process.kill(Number(pid))
  }
})

test('options before the command reach ssh (-C, -A, -o, -p); words after it, -h included, reach the remote command', async () => {
  assert.equal(await cliOk(env, ['ssh', NAME, '-C', 'echo', 'foo']), 'foo\n')
  assert.equal(await cliOk(env, ['ssh', NAME, '-A', '-o', 'LogLevel=ERROR', '-p', '22', 'echo', 'ok']), 'ok\n')
  assert.equal(await cliOk(env, ['ssh', NAME, 'echo', '-h']), '-h\n')
  assert.match(await cliOk(env, ['ssh', NAME, 'df', '-h']), /^Filesystem\s+Size/)
  assert.equal(await cliOk(env, ['ssh', NAME, '--', 'echo', 'a', '-b']), 'a -b\n')
  assert.equal((await cli(env, ['ssh', NAME, 'exit 3'])).code, 3)
  assert.match(await cliOk(env, ['ssh', '--help']), /ssh NAME \[SSH OPTIONS\] \[COMMAND\.\.\.\]/)
})

test('host key pinning holds whatever flags come through', async () => {
  const refused = await cli(env, ['ssh', NAME, '-o', 'StrictHostKeyChecking=no', 'echo', 'x'])
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /^Error: -o StrictHostKeyChecking=no would change which host keys ssh trusts for ssh1: drop it/)
  assert.equal((await cli(env, ['ssh', NAME, '-oUserKnownHostsFile=/dev/null', 'echo', 'x'])).code, 2)
  // A pin that no longer matches the host: refused, with the user's options or without.
  const knownHosts = join(env.storage, 'machines', NAME, 'known_hosts')
  const pinned = readFileSync(knownHosts, 'utf8')
  const other = (await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(env.storage, 'other')])).code === 0
    ? readFileSync(join(env.storage, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ') : ''
  writeFileSync(knownHosts, `${HOSTS.host1} ${other}\n`)
  try {
    for (const words of [['echo', 'x'], ['-C', '-o', 'LogLevel=ERROR', '-o', 'CheckHostIP=no', 'echo', 'x']]) {
      const r = await cli(env, ['ssh', NAME, ...words])
      assert.equal(r.code, 255, `${words.join(' ')}: ${r.stdout}`)
      assert.doesNotMatch(r.stdout, /x/)
    }
  } finally {
    writeFileSync(knownHosts, pinned)
  }
})
