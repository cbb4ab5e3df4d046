/**
 * Proves the test lab itself (run after test/lab/up.sh): every host answers SSH the way it
 * should, Docker works inside the Docker hosts, the bare host really is bare and reaches
 * Debian's mirror, the hosts see each other, userspace WireGuard builds a tunnel, the
 * upstream DNS and etcd answer, and lab.ts can start, stop, restart and remove a host.
 */
import {after, before, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {Resolver} from 'node:dns/promises'
import {existsSync, readFileSync} from 'node:fs'
import {Client} from 'ssh2'
import {
  DNS_IP, ETCD_ENDPOINT, HOSTS, IMAGES, LAB_ROOT_PASSWORD, SSH_KEY, exec, execOk, freeLabIp,
  inspectHost, labIsUp, loadImage, removeHost, run, ssh, sshAnswers, startHost, startStoppedHost,
  stopHost,
} from '../lab/lab.js'

/** Password login with ssh2 (OpenSSH's client cannot take a password non-interactively). */
function sshPassword(host: string, password: string, command: string): Promise<{code: number; stdout: string}> {
  return new Promise((resolve, reject) => {
    const c = new Client()
    let stdout = ''
    c.on('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return reject(err)
        stream.on('data', (d: Buffer) => (stdout += d))
        stream.stderr.on('data', () => {})
        stream.on('close', (code: number) => {
          c.end()
          resolve({code, stdout})
        })
      })
    })
    c.on('error', reject)
    c.connect({host, port: 22, username: 'root', password, readyTimeout: 10_000, tryKeyboard: false})
  })
}

/** Key login with ssh2: resolves true when the server accepts the key. */
function sshKeyAccepted(host: string, privateKey: Buffer): Promise<boolean> {
  return new Promise(resolve => {
    const c = new Client()
    c.on('ready', () => {
      c.end()
      resolve(true)
    })
    c.on('error', () => resolve(false))
    c.connect({host, port: 22, username: 'root', privateKey, readyTimeout: 10_000})
  })
}

describe('test lab', () => {
  before(async () => {
    assert.ok(await labIsUp(), 'the lab is not up: run `bash test/lab/up.sh` first')
    assert.ok(existsSync(SSH_KEY), `lab key ${SSH_KEY} missing`)
  })

  it('host1 and host2 accept the lab key and report their hostname', async () => {
    for (const name of ['host1', 'host2'] as const) {
      const r = await ssh(HOSTS[name], 'hostname; . /etc/os-release; echo $VERSION_CODENAME')
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(r.stdout.trim().split('\n'), [name, 'trixie'])
    }
  })

  it('host3 refuses the lab key but accepts the root password', async () => {
    assert.equal(await sshKeyAccepted(HOSTS.host3, readFileSync(SSH_KEY)), false, 'host3 must not have authorized_keys')
    const r = await sshPassword(HOSTS.host3, LAB_ROOT_PASSWORD, 'hostname; . /etc/os-release; echo $VERSION_CODENAME')
    assert.equal(r.code, 0)
    assert.deepEqual(r.stdout.trim().split('\n'), ['host3', 'bookworm'])
    await assert.rejects(sshPassword(HOSTS.host3, 'wrong-password', 'true'))
  })

  it('host3 has no docker and no node', async () => {
    for (const cmd of ['docker', 'dockerd', 'node', 'nodejs']) {
      const r = await exec('host3', ['sh', '-c', `command -v ${cmd}`])
      assert.notEqual(r.code, 0, `${cmd} is installed on host3: ${r.stdout}`)
    }
    const pkgs = await exec('host3', ['dpkg-query', '-W', '-f', '${Status}', 'docker.io'])
    assert.doesNotMatch(pkgs.stdout, /install ok installed/)
  })

  it('host3 reaches the Debian mirror (apt-get update)', async () => {
    const r = await exec('host3', ['apt-get', 'update'], {timeoutMs: 180_000})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /bookworm/)
    const policy = await execOk('host3', ['apt-cache', 'policy', 'docker.io'])
    assert.match(policy, /Candidate: \d/, 'docker.io not installable from the mirror')
  })

  it('dockerd answers inside host1 and keeps its addresses in 198.18.0.0/15', async () => {
    const ver = await execOk('host1', ['docker', 'version', '-f', '{{.Server.Version}} {{.Server.APIVersion}}'])
    const [version, api] = ver.trim().split(' ')
    assert.match(version, /^26\./)
    assert.ok(Number(api) >= 1.45, `API ${api}`)
    const enabled = await exec('host1', ['systemctl', 'is-enabled', 'docker.service'])
    assert.equal(enabled.stdout.trim(), 'enabled')
    const docker0 = await execOk('host1', ['ip', '-4', '-o', 'addr', 'show', 'docker0'])
    assert.match(docker0, /inet 198\.18\.128\.1\/24/)
  })

  it('an image copied with loadImage runs inside host1', async () => {
    await loadImage('host1', IMAGES.busybox)
    const r = await exec('host1', ['docker', 'run', '--rm', IMAGES.busybox, 'sh', '-c', 'echo hello-from-$(hostname -s | cut -c1-3)'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^hello-from-/)
    // A user-defined network draws from the pool in daemon.json.
    await exec('host1', ['docker', 'network', 'rm', 'labtest'])
    await execOk('host1', ['docker', 'network', 'create', 'labtest'])
    try {
      const subnet = await execOk('host1', ['docker', 'network', 'inspect', 'labtest', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}'])
      assert.match(subnet.trim(), /^198\.18\.(1[6-8]\d|19[01])\.0\/24$/)
    } finally {
      await exec('host1', ['docker', 'network', 'rm', 'labtest'])
    }
  })

  it('host1 pings host2 on the lab network', async () => {
    const r = await exec('host1', ['ping', '-c', '2', '-W', '2', HOSTS.host2])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /2 received/)
  })

  describe('userspace WireGuard between host1 and host2', () => {
    const peers = {host1: '198.18.250.1', host2: '198.18.250.2'} as const
    const cleanup = async () => {
      for (const h of ['host1', 'host2']) {
        await exec(h, ['systemctl', 'stop', 'wgtest'])
        await exec(h, ['systemctl', 'reset-failed', 'wgtest'])
        await exec(h, ['ip', 'link', 'del', 'wg0'])
      }
    }
    before(cleanup)
    after(cleanup)

    it('builds a tunnel with wireguard-go + wg and pings over it', async () => {
      const keys: Record<string, {priv: string; pub: string}> = {}
      for (const h of ['host1', 'host2'] as const) {
        const priv = (await execOk(h, ['wg', 'genkey'])).trim()
        const pub = (await execOk(h, ['wg', 'pubkey'], {input: priv})).trim()
        keys[h] = {priv, pub}
        // Foreground wireguard-go under systemd's supervision (LAB.md: a bare exec can kill it).
        await execOk(h, ['systemd-run', '--unit', 'wgtest', '--collect', 'wireguard-go', '-f', 'wg0'])
      }
      for (const h of ['host1', 'host2'] as const) {
        const other = h === 'host1' ? 'host2' : 'host1'
        // wait for the tun device wireguard-go creates
        await execOk(h, ['sh', '-c', 'for i in $(seq 50); do ip link show wg0 >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1'])
        await execOk(h, ['sh', '-c', 'umask 077; cat >/run/wgtest.key'], {input: keys[h].priv})
        await execOk(h, ['wg', 'set', 'wg0', 'private-key', '/run/wgtest.key', 'listen-port', '51820',
          'peer', keys[other].pub, 'endpoint', `${HOSTS[other]}:51820`, 'allowed-ips', `${peers[other]}/32`])
        await execOk(h, ['ip', 'addr', 'add', `${peers[h]}/24`, 'dev', 'wg0'])
        await execOk(h, ['ip', 'link', 'set', 'wg0', 'up'])
      }
      const ping = await exec('host1', ['ping', '-c', '3', '-W', '2', peers.host2])
      assert.equal(ping.code, 0, ping.stdout + ping.stderr)
      assert.match(ping.stdout, /3 received/)
      const hs = await execOk('host2', ['wg', 'show', 'wg0', 'latest-handshakes'])
      const [peer, when] = hs.trim().split(/\s+/)
      assert.equal(peer, keys.host1.pub)
      assert.ok(Number(when) > 0, 'no handshake recorded')
      const active = await exec('host1', ['systemctl', 'is-active', 'wgtest'])
      assert.equal(active.stdout.trim(), 'active')
    })
  })

  it('the upstream DNS answers the test zone and nothing else', async () => {
    const r = new Resolver({timeout: 2000, tries: 1})
    r.setServers([DNS_IP])
    assert.deepEqual(await r.resolve4('upstream.test'), ['198.18.0.3'])
    assert.deepEqual(await r.resolve4('host2.upstream.test'), ['198.18.0.12'])
    await assert.rejects(r.resolve4('missing.upstream.test'), {code: 'ENOTFOUND'})
    // No forwarding: a name outside the zone is refused, never looked up outside.
    await assert.rejects(r.resolve4('example.com'), {code: 'EREFUSED'})
  })

  it('etcd answers on the lab network', async () => {
    const env = {...process.env, ETCDCTL_API: '3'}
    const key = `/lab-test/${process.pid}`
    const etcdctl = (args: string[]) => run('env', [`ETCDCTL_API=${env.ETCDCTL_API}`, 'etcdctl', '--endpoints', ETCD_ENDPOINT, ...args])
    assert.equal((await etcdctl(['put', key, 'v1'])).code, 0)
    const got = await etcdctl(['get', '--print-value-only', key])
    assert.equal(got.stdout.trim(), 'v1')
    assert.equal((await etcdctl(['del', key])).stdout.trim(), '1')
  })

  it('lab.ts starts, stops, restarts and removes a host', async () => {
    const name = 'labtest-lifecycle'
    const ip = await freeLabIp()
    try {
      const h = await startHost({name, image: 'trixie', ip})
      assert.equal(h.ip, ip)
      assert.match(h.id, /^[0-9a-f]{64}$/)
      const r = await ssh(ip, 'hostname')
      assert.equal(r.stdout.trim(), name)
      await stopHost(name)
      assert.equal((await inspectHost(name))?.running, false)
      assert.equal(await sshAnswers(ip), false)
      const again = await startStoppedHost(name)
      assert.equal(again.ip, ip)
      assert.equal((await ssh(ip, 'hostname')).stdout.trim(), name, 'key survives a restart')
    } finally {
      await removeHost(name)
    }
    assert.equal(await inspectHost(name), undefined)
    await removeHost(name) // already gone: still success
  })
})
