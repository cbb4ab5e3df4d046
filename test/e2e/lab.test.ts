/**
 * Proves the test lab itself (run after test/lab/up.sh; run-all.sh runs this file first):
 * every compose host answers SSH the way it should, Docker runs a copied image in host1, the
 * hosts see each other, the upstream DNS and etcd answer. What other e2e tests may change on
 * the shared compose hosts (host3 gets Docker, host1's daemon.json is rewritten, routers take
 * port 51820) is checked on fresh hosts this file starts with lab.ts, from the same images
 * and flags: the bare image really is bare and reaches Debian's mirror, inner Docker keeps
 * its addresses in 198.18.0.0/15, userspace WireGuard builds a tunnel; and lab.ts can start,
 * stop, restart and remove a host.
 */
import {after, before, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {Resolver} from 'node:dns/promises'
import {existsSync, readFileSync} from 'node:fs'
import {Client} from 'ssh2'
import {
  DNS_IP, ETCD_ENDPOINT, HOSTS, IMAGES, LAB_ROOT_PASSWORD, SSH_KEY, exec, execOk, freeLabIp,
  inspectHost, labIsUp, loadImage, removeHost, run, ssh, sshAnswers, startHost, startStoppedHost,
  stopHost, type LabHost,
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

/** Fresh hosts of this file, from the lab images (the compose hosts are shared with other tests). */
const FRESH = {t1: 'labtest-t1', t2: 'labtest-t2', bare: 'labtest-bare'} as const
const fresh: Record<string, LabHost> = {}

describe('test lab', () => {
  before(async () => {
    assert.ok(await labIsUp(), 'the lab is not up: run `bash test/lab/up.sh` first')
    assert.ok(existsSync(SSH_KEY), `lab key ${SSH_KEY} missing`)
    const [t1, t2, bare] = await Promise.all([
      startHost({name: FRESH.t1, image: 'trixie'}),
      startHost({name: FRESH.t2, image: 'trixie'}),
      startHost({name: FRESH.bare, image: 'bare', installKey: false}),
    ])
    Object.assign(fresh, {t1, t2, bare})
  })
  after(async () => {
    await Promise.all(Object.values(FRESH).map(n => removeHost(n)))
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

  it('the bare image has no docker and no node, and the password login', async () => {
    for (const cmd of ['docker', 'dockerd', 'containerd', 'node', 'nodejs']) {
      const r = await exec(FRESH.bare, ['sh', '-c', `command -v ${cmd}`])
      assert.notEqual(r.code, 0, `${cmd} is installed in the bare image: ${r.stdout}`)
    }
    const pkgs = await exec(FRESH.bare, ['dpkg-query', '-W', '-f', '${Status}', 'docker.io'])
    assert.doesNotMatch(pkgs.stdout, /install ok installed/)
    const r = await sshPassword(fresh.bare.ip, LAB_ROOT_PASSWORD, 'hostname')
    assert.equal(r.stdout.trim(), FRESH.bare)
    assert.equal(await sshKeyAccepted(fresh.bare.ip, readFileSync(SSH_KEY)), false)
  })

  it('a bare host reaches the Debian mirror (apt-get update)', async () => {
    const r = await exec(FRESH.bare, ['apt-get', 'update'], {timeoutMs: 180_000})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /bookworm/)
    const policy = await execOk(FRESH.bare, ['apt-cache', 'policy', 'docker.io'])
    assert.match(policy, /Candidate: \d/, 'docker.io not installable from the mirror')
  })

  it('every lab host has a writable /proc/sys (lab-proc-sys.service)', async () => {
    for (const name of ['host1', 'host2', 'host3', ...Object.values(FRESH)]) {
      const r = await exec(name, ['sh', '-c', 'touch /proc/sys/net/ipv4/ip_forward'])
      assert.equal(r.code, 0, `${name}: ${r.stderr}`)
    }
  })

  it('an image copied with loadImage runs inside host1', async () => {
    await loadImage('host1', IMAGES.busybox)
    const r = await exec('host1', ['docker', 'run', '--rm', IMAGES.busybox, 'sh', '-c', 'echo hello-from-$(hostname -s | cut -c1-3)'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^hello-from-/)
  })

  it('the host image runs dockerd 26 (enabled) with its addresses in 198.18.0.0/15', async () => {
    const h = FRESH.t1
    const ver = await execOk(h, ['sh', '-c', 'for i in $(seq 100); do docker version -f "{{.Server.Version}} {{.Server.APIVersion}}" 2>/dev/null && exit 0; sleep 0.2; done; exit 1'])
    const [version, api] = ver.trim().split(' ')
    assert.match(version, /^26\./)
    assert.ok(Number(api) >= 1.45, `API ${api}`)
    const enabled = await exec(h, ['systemctl', 'is-enabled', 'docker.service'])
    assert.equal(enabled.stdout.trim(), 'enabled')
    const docker0 = await execOk(h, ['ip', '-4', '-o', 'addr', 'show', 'docker0'])
    assert.match(docker0, /inet 198\.18\.128\.1\/24/)
    // A user-defined network draws from the pool in daemon.json.
    await execOk(h, ['docker', 'network', 'create', 'labtest'])
    const subnet = await execOk(h, ['docker', 'network', 'inspect', 'labtest', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}'])
    assert.match(subnet.trim(), /^198\.18\.(1[6-8]\d|19[01])\.0\/24$/)
    // A container on it runs (needs the writable /proc/sys).
    await loadImage(h, IMAGES.busybox)
    const r = await exec(h, ['docker', 'run', '--rm', '--network', 'labtest', IMAGES.busybox, 'sh', '-c', 'ip -4 -o addr show eth0'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /inet 198\.18\.(1[6-8]\d|19[01])\./)
  })

  it('host1 pings host2 on the lab network', async () => {
    const r = await exec('host1', ['ping', '-c', '2', '-W', '2', HOSTS.host2])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /2 received/)
  })

  describe('userspace WireGuard between two lab hosts', () => {
    const peers = {[FRESH.t1]: '198.18.250.1', [FRESH.t2]: '198.18.250.2'} as Record<string, string>
    const pair = [FRESH.t1, FRESH.t2]
    const cleanup = async () => {
      for (const h of pair) {
        await exec(h, ['systemctl', 'stop', 'wgtest'])
        await exec(h, ['systemctl', 'reset-failed', 'wgtest'])
        await exec(h, ['ip', 'link', 'del', 'wg0'])
      }
    }
    before(cleanup)
    after(cleanup)

    it('builds a tunnel with wireguard-go + wg and pings over it', async () => {
      const keys: Record<string, {priv: string; pub: string}> = {}
      for (const h of pair) {
        const priv = (await execOk(h, ['wg', 'genkey'])).trim()
        const pub = (await execOk(h, ['wg', 'pubkey'], {input: priv})).trim()
        keys[h] = {priv, pub}
        // Foreground wireguard-go under systemd's supervision (LAB.md: a bare exec can kill it).
        await execOk(h, ['systemd-run', '--unit', 'wgtest', '--collect', 'wireguard-go', '-f', 'wg0'])
      }
      for (const h of pair) {
        const other = h === FRESH.t1 ? FRESH.t2 : FRESH.t1
        const otherIp = h === FRESH.t1 ? fresh.t2.ip : fresh.t1.ip
        // wait for the tun device wireguard-go creates
        await execOk(h, ['sh', '-c', 'for i in $(seq 50); do ip link show wg0 >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1'])
        await execOk(h, ['sh', '-c', 'umask 077; cat >/run/wgtest.key'], {input: keys[h].priv})
        await execOk(h, ['wg', 'set', 'wg0', 'private-key', '/run/wgtest.key', 'listen-port', '51820',
          'peer', keys[other].pub, 'endpoint', `${otherIp}:51820`, 'allowed-ips', `${peers[other]}/32`])
        await execOk(h, ['ip', 'addr', 'add', `${peers[h]}/24`, 'dev', 'wg0'])
        await execOk(h, ['ip', 'link', 'set', 'wg0', 'up'])
      }
      const ping = await exec(FRESH.t1, ['ping', '-c', '3', '-W', '2', peers[FRESH.t2]])
      assert.equal(ping.code, 0, ping.stdout + ping.stderr)
      assert.match(ping.stdout, /3 received/)
      const hs = await execOk(FRESH.t2, ['wg', 'show', 'wg0', 'latest-handshakes'])
      const [peer, when] = hs.trim().split(/\s+/)
      assert.equal(peer, keys[FRESH.t1].pub)
      assert.ok(Number(when) > 0, 'no handshake recorded')
      const active = await exec(FRESH.t1, ['systemctl', 'is-active', 'wgtest'])
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
