/**
 * The overlay end to end, on lab hosts of our own (trixie: systemd, Docker 26, wireguard-go)
 * and the lab's etcd. Hosts join with `cluster create` and leave with `cluster rm` (see
 * bench/overlay/lab-overlay.ts); the overlay is judged only from outside: containers
 * talking by their own IPs, packet captures on the lab network, `wg`, `ip` and the
 * router's status.
 *
 * Needs the compose lab up (test/lab/up.sh) and dist/router.cjs built.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {
  newCluster, joinHost, startLabHost, destroyCluster, routerMemory, routerStatus, type OverlayCluster, type OverlayHost,
} from '../../bench/overlay/lab-overlay.js'
import {allocateSubnet} from '../../src/ipam.js'
import {gatewayOf} from '../../core/subnets.js'
import type {PeerRecord} from '../../core/membership.js'
import {signPeer} from '../../src/signing.js'
import {cliOk} from '../support/cli.js'
import {captureWhile} from '../support/capture.js'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, ETCD_IP, exec, execOk, removeHost, type LabHost} from '../lab/lab.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const PAGE = 'hello-from-the-overlay'

/** Polls `check` until it returns a value other than undefined/false; fails with `what` after `ms`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, ms = 5000, every = 100): Promise<T> {
  const deadline = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (${(last as Error).message})` : ''}`)
    await sleep(every)
  }
}

/** A busybox httpd on `host`'s Docker with no published port; returns its container IP. */
async function startWeb(host: LabHost, name = 'web'): Promise<string> {
  await execOk(host.name, ['sh', '-c', `mkdir -p /srv/www && echo ${PAGE} > /srv/www/index.html && head -c 4000000 /dev/urandom > /srv/www/big && docker rm -f ${name} >/dev/null 2>&1; docker run -d --name ${name} -v /srv/www:/www cluster-lab/busybox httpd -f -p 80 -h /www >/dev/null`])
  return (await execOk(host.name, ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim()
}

/** wget from a throwaway container on `host`; returns the body, or throws. */
async function wgetFromContainer(host: LabHost, url: string, timeoutS = 3): Promise<string> {
  return execOk(host.name, ['docker', 'run', '--rm', 'cluster-lab/busybox', 'wget', '-qO-', '-T', String(timeoutS), url])
}

async function wgetFromHost(host: LabHost, url: string): Promise<string> {
  return execOk(host.name, ['curl', '-sS', '-m', '3', url])
}

/** Public keys of the WireGuard peers `host` has, with their allowed-ips. */
async function wgPeers(host: LabHost): Promise<Map<string, string>> {
  const out = await execOk(host.name, ['wg', 'show', 'cluster-wg', 'allowed-ips'])
  return new Map(out.trim().split('\n').filter(Boolean).map(l => l.split('\t') as [string, string]))
}

async function journal(host: LabHost): Promise<string> {
  return execOk(host.name, ['journalctl', '-u', 'cluster-router', '--no-pager', '-o', 'cat'])
}

function etcdctl(...args: string[]): string {
  return execFileSync('etcdctl', ['--endpoints', ETCD_ENDPOINT, ...args], {env: {...process.env, ETCDCTL_API: '3'}, encoding: 'utf8'})
}

/** Routes, rules and router logs of `hosts`, for a failure message. */
async function diagnose(hosts: LabHost[]): Promise<string> {
  const parts = await Promise.all(hosts.map(async h => `--- ${h.name}\n` + (await exec(h.name, ['sh', '-c',
    'ip route; iptables -S FORWARD; iptables -S CLUSTER-FORWARD; iptables -t nat -S POSTROUTING; journalctl -u cluster-router -o cat --no-pager | tail -8'])).stdout))
  return parts.join('\n')
}

const labHosts: LabHost[] = []
const clusters: OverlayCluster[] = []

before(async () => {
  // Only the lab's network and etcd are needed (the hosts are our own).
  await eventually('the lab etcd answers (is the lab up? `bash test/lab/up.sh`)', async () => {
    const etcd = new Etcd3({hosts: ETCD_ENDPOINT, dialTimeout: 1000})
    try {
      return (await etcd.get('/cluster-lab-ping').string(), true)
    } finally {
      etcd.close()
    }
  }, 30_000, 1000)
  const names = ['ov-1', 'ov-2', 'ov-3']
  labHosts.push(...await Promise.all(names.map(startLabHost)))
})

after(async () => {
  for (const c of clusters) await destroyCluster(c, false).catch(() => undefined)
  for (const h of labHosts) await removeHost(h.name).catch(() => undefined)
})

test('wireguard: three hosts, encrypted, reachable by container IP, resilient to etcd and router faults', async t => {
  const cluster = await newCluster('wireguard')
  clusters.push(cluster)
  const [l1, l2, l3] = labHosts as [LabHost, LabHost, LabHost]
  const [h1, h2] = await Promise.all([joinHost(cluster, l1), joinHost(cluster, l2)])
  const web = await startWeb(h2)
  assert.ok(web.startsWith(h2.subnet.replace(/\.0\/24$/, '.')), `container ${web} is in ${h2.subnet}`)

  await t.test('a container on host 1 reaches the httpd on host 2 by its IP, no published port', async () => {
    const body = await eventually('wget from host 1', () => wgetFromContainer(h1, `http://${web}/`))
    assert.equal(body.trim(), PAGE)
  })

  let h3!: OverlayHost
  await t.test('a joining host is reachable from every other host as soon as its record appears (figure reported; the 1 s target is measured by bench/overlay)', async () => {
    const subnet = await allocateSubnet(cluster.etcd, cluster.layout, cluster.settings, l3.name)
    const target = gatewayOf(subnet)
    // Each existing host pings the newcomer's bridge address until it answers, noting when.
    const loop = `until ping -c1 -W0.2 -q ${target} >/dev/null 2>&1; do :; done; date +%s.%N`
    const pings = [h1, h2].map(h => execOk(h.name, ['timeout', '60', 'sh', '-c', loop], {timeoutMs: 70_000}))
    const watcher = await cluster.etcd.watch().key(cluster.layout.peer(l3.name)).create()
    const appeared = new Promise<number>(resolve => watcher.once('put', () => resolve(Date.now() / 1000)))
    h3 = await joinHost(cluster, l3)
    const recordAt = await appeared
    await watcher.cancel()
    const reachedAt = (await Promise.all(pings)).map(s => Number(s.trim()))
    const delays = reachedAt.map(at => at - recordAt)
    t.diagnostic(`join-to-reachable: ${delays.map(d => `${(d * 1000).toFixed(0)} ms`).join(', ')}`)
    // The 1 s target is bench/overlay's to measure (a loaded CI machine is no benchmark); here,
    // within the router's 5 s maintenance period shows the watch, not a periodic pass, drove it.
    for (const d of delays) assert.ok(d < 5, `reachable ${d.toFixed(3)} s after the record appeared: not driven by the etcd watch`)
  })

  await t.test('host 3 itself reaches the container on host 2; a 4 MB transfer does not stall (MTU)', async () => {
    assert.equal((await wgetFromHost(h3, `http://${web}/`)).trim(), PAGE)
    const size = await execOk(h1.name, ['docker', 'run', '--rm', 'cluster-lab/busybox', 'sh', '-c', `wget -qO- -T 10 http://${web}/big | wc -c`])
    assert.equal(size.trim(), '4000000')
    assert.equal((await execOk(h1.name, ['ip', '-o', 'link', 'show', 'docker0'])).match(/mtu (\d+)/)![1], '1420')
  })

  await t.test('traffic to addresses outside the overlay still leaves, masqueraded as the host', async () => {
    // The lab's DNS server (198.18.0.3) stands for "the outside world": not an overlay address.
    const answer = await execOk(h1.name, ['docker', 'run', '--rm', 'cluster-lab/busybox', 'nslookup', 'upstream.test', '198.18.0.3'])
    assert.match(answer, /198\.18\.0\.3/)
  })

  await t.test('a marker sent over the overlay never shows on the lab network', async () => {
    const marker = `CLUSTER-MARKER-${randomBytes(6).toString('hex')}`
    const cap = await captureWhile(['docker', 'exec', h2.name], 'eth0', 'not port 22 and not port 2379', async () => {
      await wgetFromContainer(h1, `http://${web}/?${marker}`)
    })
    assert.ok(cap.packets > 0, `the capture saw no packets at all: ${cap.log}`)
    assert.match(cap.text, /UDP|51820/, 'the capture saw the WireGuard packets')
    assert.ok(!cap.text.includes(marker), 'the marker crossed the lab network in clear')
  })

  await t.test('forged, tampered and garbage records change no host\'s peers', async () => {
    const before = await Promise.all([h1, h2, h3].map(wgPeers))
    const evil: PeerRecord = {
      name: 'evil', subnet: '198.19.250.0/24', publicKey: Buffer.alloc(32, 9).toString('base64'),
      endpoints: {public: '198.18.0.250'}, backend: 'wireguard', issuedAt: new Date().toISOString(),
    }
    etcdctl('put', cluster.layout.peer('evil'), JSON.stringify({record: JSON.stringify(evil), signature: Buffer.alloc(64).toString('base64')}))
    const otherKey = (await import('tweetnacl')).default.sign.keyPair()
    etcdctl('put', cluster.layout.peer('evil2'), JSON.stringify(signPeer({...evil, name: 'evil2'}, otherKey.secretKey)))
    const genuine = JSON.parse(h2.self.record) as PeerRecord
    etcdctl('put', cluster.layout.peer('copycat'), JSON.stringify({...h2.self, record: JSON.stringify({...genuine, name: 'copycat', subnet: '198.19.251.0/24'})}))
    etcdctl('put', cluster.layout.peer('junk'), '{{{ not json')
    for (const h of [h1, h2, h3]) {
      await eventually(`${h.name} logs the forged records`, async () => {
        const log = await journal(h)
        return ['evil', 'evil2', 'copycat', 'junk'].every(n => log.includes(`ignoring peer record ${n}:`))
      })
    }
    const afterwards = await Promise.all([h1, h2, h3].map(wgPeers))
    assert.deepEqual(afterwards, before)
    for (const n of ['evil', 'evil2', 'copycat', 'junk']) etcdctl('del', cluster.layout.peer(n))
    assert.equal((await wgetFromContainer(h1, `http://${web}/`)).trim(), PAGE, 'routers still serve after the garbage')
  })

  await t.test('a router restart re-applies without duplicating interfaces, routes or rules', async () => {
    const snapshot = async () => execOk(h1.name, ['sh', '-c',
      'ip -o link show type wireguard | wc -l; ip link show | grep -c cluster-wg; ip route show proto 211; wg show cluster-wg allowed-ips | sort; iptables -S | grep -c CLUSTER; iptables -t nat -S | grep -c CLUSTER; iptables -t raw -S | grep -c CLUSTER'])
    const before = await snapshot()
    const starts = async () => (await journal(h1)).split('router ov-1:').length
    const startsBefore = await starts()
    await execOk(h1.name, ['systemctl', 'restart', 'cluster-router'])
    await eventually('router back', async () => (await starts()) > startsBefore, 10_000)
    await sleep(1500)
    assert.equal(await snapshot(), before)
    assert.equal((await wgetFromContainer(h1, `http://${web}/`)).trim(), PAGE)
  })

  await t.test('a dead wireguard-go is noticed: the router restarts and rebuilds the tunnel', async () => {
    const starts = async () => (await journal(h1)).split('router ov-1:').length
    const startsBefore = await starts()
    await execOk(h1.name, ['pkill', '-x', 'wireguard-go'])
    await eventually('router restarted', async () => (await starts()) > startsBefore, 20_000, 250)
    const body = await eventually('overlay back', () => wgetFromContainer(h1, `http://${web}/`), 10_000)
    assert.equal(body.trim(), PAGE)
  })

  await t.test('with etcd unreachable the overlay keeps working, and the router catches up after', async () => {
    // Both directions: a one-way cut would still let etcd's watch events in.
    const cuts = [
      ['OUTPUT', '-d', ETCD_IP, '-p', 'tcp', '--dport', '2379', '-j', 'DROP'],
      ['INPUT', '-s', ETCD_IP, '-p', 'tcp', '--sport', '2379', '-j', 'DROP'],
    ]
    // Short of the 10 s lease: cut longer, and the others would rightly take host 1 for dead.
    for (const rule of cuts) await execOk(h1.name, ['iptables', '-I', ...rule])
    try {
      assert.equal((await wgetFromContainer(h1, `http://${web}/`)).trim(), PAGE, 'overlay works without etcd')
      // Meanwhile host 3 leaves the cluster.
      await cliOk(cluster.env, ['rm', '-y', h3.name])
      await eventually('host 2 drops host 3', async () => !(await wgPeers(h2)).has(h3.publicKey))
      assert.ok((await wgPeers(h1)).has(h3.publicKey),
        `host 1, cut from etcd, keeps its last known peers; its log:\n${(await journal(h1)).split('\n').slice(-8).join('\n')}`)
    } finally {
      for (const rule of cuts) await execOk(h1.name, ['iptables', '-D', ...rule])
    }
    await eventually('host 1 catches up and drops host 3', async () => !(await wgPeers(h1)).has(h3.publicKey), 20_000, 250)
    assert.ok((await wgPeers(h2)).has(h1.publicKey), 'host 1 is still (again) a peer of host 2')
  })

  await t.test('a stopped router leaves its containers reachable; `cluster rm` of the host drops it everywhere', async () => {
    await execOk(h2.name, ['systemctl', 'stop', 'cluster-router'])
    assert.equal((await wgetFromContainer(h1, `http://${web}/`)).trim(), PAGE, 'reachable with host 2\'s router stopped')
    // rm first undoes the host over SSH, then revokes and deletes its record: time the drop
    // from the first of those two etcd events.
    const watcher = await cluster.etcd.watch().prefix(cluster.layout.prefix + '/').create()
    const removed = new Promise<number>(resolve => watcher.on('data', res => {
      if (res.events.some(e => e.kv.key.toString() === cluster.layout.peer(h2.name) || e.kv.key.toString() === cluster.layout.revocation(h2.name))) resolve(Date.now())
    }))
    const removing = cliOk(cluster.env, ['rm', '-y', h2.name])
    const removedAt = await removed
    const droppedAt = await eventually('host 1 drops host 2', async () => (await wgPeers(h1)).size === 0 && Date.now(), 2000, 20)
    t.diagnostic(`peer dropped within ${droppedAt - removedAt} ms of its revocation or deletion in etcd`)
    await removing
    await watcher.cancel()
    await assert.rejects(wgetFromContainer(h1, `http://${web}/`, 2))
  })

  await t.test('router memory and status', async () => {
    const mem = await routerMemory(h1)
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`
    t.diagnostic(`router memory on host 1: RSS ${mb(mem.rss)}, of which heap and stacks ${mb(mem.anon)} (the rest is node's code)`)
    // The 60 MB target is measured by the overlay bench; this is a loose guard that catches
    // a regression of the kind etcd3 was (about 12 MB).
    assert.ok(mem.anon < 25 * 2 ** 20, `router heap and stacks ${mb(mem.anon)}`)
    assert.ok(mem.rss < 70 * 2 ** 20, `router RSS ${mb(mem.rss)}`)
    const status = (await routerStatus(h1))!
    assert.equal(status.backend, 'wireguard')
    assert.equal(status.encrypted, true)
    assert.equal(status.datapath, 'wireguard-go (userspace)')
    assert.equal(status.subnet, h1.subnet)
  })
  await destroyCluster(cluster, false)
  clusters.splice(clusters.indexOf(cluster), 1)
  for (const h of [h1, h3]) {
    assert.equal((await exec(h.name, ['ip', 'link', 'show', 'cluster-wg'])).code, 1, 'teardown removed the interface')
    assert.equal((await execOk(h.name, ['sh', '-c', 'iptables -S; iptables -t nat -S; iptables -t raw -S'])).includes('CLUSTER'), false, 'teardown removed the rules')
  }
})

for (const backend of ['vxlan', 'host-gw'] as const) {
  test(`${backend}: reachable by container IP, and a marker does show in clear on the lab network`, async t => {
    const cluster = await newCluster(backend)
    clusters.push(cluster)
    const [l1, l2] = labHosts as [LabHost, LabHost]
    const [h1, h2] = await Promise.all([joinHost(cluster, l1), joinHost(cluster, l2)])
    const web = await startWeb(h2)
    const body = await eventually('wget', () => wgetFromContainer(h1, `http://${web}/`), 10_000).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await diagnose([h1, h2])}`)
    })
    assert.equal(body.trim(), PAGE)
    const size = await execOk(h1.name, ['docker', 'run', '--rm', 'cluster-lab/busybox', 'sh', '-c', `wget -qO- -T 10 http://${web}/big | wc -c`])
    assert.equal(size.trim(), '4000000')
    const marker = `CLUSTER-MARKER-${randomBytes(6).toString('hex')}`
    const cap = await captureWhile(['docker', 'exec', h2.name], 'eth0', 'not port 22 and not port 2379', () => wgetFromContainer(h1, `http://${web}/?${marker}`))
    assert.ok(cap.packets > 0, `the capture saw no packets at all: ${cap.log}`)
    assert.ok(cap.text.includes(marker), `the ${backend} capture shows the marker`)
    await t.test('after a router restart (upgrade, crash) the peers are still reached', async () => {
      // vxlan: re-setting the device's address on start flushed its permanent neighbours, and
      // the new router, finding routes and forwarding entries in place, never wrote them again.
      await execOk(h1.name, ['systemctl', 'restart', 'cluster-router'])
      await sleep(3000)
      assert.equal((await wgetFromContainer(h1, `http://${web}/`)).trim(), PAGE)
      if (backend === 'vxlan') {
        const neigh = await execOk(h1.name, ['ip', 'neigh', 'show', 'dev', 'cluster-vxlan', 'nud', 'permanent'])
        assert.match(neigh, /lladdr 0a:58:/, 'the peer\'s permanent neighbour entry is there')
      }
    })
    if (backend === 'host-gw') {
      await t.test('a peer off this layer-2 network is refused with a clear reason', async () => {
        const far: PeerRecord = {
          name: 'far', subnet: '198.19.252.0/24', publicKey: Buffer.alloc(32, 5).toString('base64'),
          endpoints: {public: '198.18.7.7'}, backend: 'host-gw', issuedAt: new Date().toISOString(),
        }
        etcdctl('put', cluster.layout.peer('far'), JSON.stringify(signPeer(far, cluster.signing.secretKey)))
        const reason = await eventually('far refused', async () => (await routerStatus(h1))?.rejected.find(r => r.name === 'far')?.reason, 5000, 200)
        assert.match(reason, /198\.18\.7\.7 is not on this host's layer-2 network/)
        assert.equal((await exec(h1.name, ['sh', '-c', 'ip route show 198.19.252.0/24 | grep -q .'])).code, 1, 'no route was made')
      })
    }
    await destroyCluster(cluster, false)
    clusters.splice(clusters.indexOf(cluster), 1)
  })
}
