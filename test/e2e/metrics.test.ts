/**
 * Router metrics end to end on two lab hosts of our own (trixie, wireguard-go): each router
 * scraped through `cluster net metrics NAME --json` (SSH to the router's loopback listener),
 * the probe reporting the other host up, counters that move when containers talk across the
 * overlay and ask the cluster DNS, the file_sd target answering over the overlay, and the
 * port silent on the public address. Needs the compose lab up (test/lab/up.sh).
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {connect} from 'node:net'
import {newCluster, joinHost, startLabHost, destroyCluster, routerMemory, type OverlayCluster, type OverlayHost} from '../../bench/overlay/lab-overlay.js'
import {IMAGES, exec, execOk, labIsUp, removeHost, type LabHost} from '../lab/lab.js'
import {cli, cliOk} from '../support/cli.js'
import {waitFor} from '../support/wait.js'
import {peerHealth, sampleValue, type ParsedMetrics} from '../../src/metrics/scrape.js'
import type {FileSdGroup} from '../../src/metrics/targets.js'
import * as names from '../../core/metrics.js'

const labHosts: LabHost[] = []
let cluster: OverlayCluster
let h1: OverlayHost
let h2: OverlayHost

async function metricsOf(host: OverlayHost): Promise<ParsedMetrics> {
  return JSON.parse(await cliOk(cluster.env, ['net', 'metrics', host.name, '--json'])) as ParsedMetrics
}

const value = (m: ParsedMetrics, name: string, labels: Record<string, string> = {}) => sampleValue(m, name, labels) ?? 0
const histogramCount = (m: ParsedMetrics, name: string) => m[name]?.samples[0]?.count ?? 0

before(async () => {
  assert.ok(await labIsUp(), 'the compose lab is not up: run `bash test/lab/up.sh`')
  labHosts.push(...await Promise.all(['metrics-1', 'metrics-2'].map(startLabHost)))
  cluster = await newCluster('wireguard')
  ;[h1, h2] = await Promise.all(labHosts.map(h => joinHost(cluster, h)))
})

after(async () => {
  if (cluster) await destroyCluster(cluster, false).catch(() => undefined)
  for (const h of labHosts) await removeHost(h.name).catch(() => undefined)
})

test('each router answers `net metrics`: etcd connected, the peer in place and its probe up with an RTT', async t => {
  for (const [self, peer] of [[h1, h2], [h2, h1]]) {
    const health = await waitFor(`${self.name} probes ${peer.name} up`, async () => {
      const m = await metricsOf(self)
      const h = peerHealth(m)[peer.name]
      return h?.probeUp && value(m, names.ETCD_CONNECTED) === 1 && value(m, names.PEERS) === 1 ? h : undefined
    }, 30_000, 500)
    t.diagnostic(`${self.name} → ${peer.name}: probe RTT ${(health.probeRttSeconds! * 1000).toFixed(2)} ms`)
    assert.ok(health.probeRttSeconds! > 0 && health.probeRttSeconds! < 1)
  }
  const m = await metricsOf(h1)
  assert.ok(value(m, names.RECONCILE_RUNS) >= 1, 'at least one reconcile')
  assert.equal(m[names.RECONCILE_DURATION].type, 'histogram')
  const mem = await routerMemory(h1)
  t.diagnostic(`router on ${h1.name} with metrics and probe: RSS ${(mem.rss / 2 ** 20).toFixed(1)} MiB, heap and stacks ${(mem.anon / 2 ** 20).toFixed(1)} MiB`)
})

test('traffic moves the peer byte counters and the handshake; DNS queries move the DNS counters; containers are counted', async () => {
  await execOk(h2.name, ['docker', 'run', '-d', '--name', 'mweb', IMAGES.busybox, 'sleep', '3600'])
  const webIp = (await execOk(h2.name, ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'mweb'])).trim()
  await execOk(h1.name, ['docker', 'run', '-d', '--name', 'mclient', IMAGES.busybox, 'sleep', '3600'])
  const before1 = await metricsOf(h1)
  const peerBefore = peerHealth(before1)[h2.name]
  const nx = () => value(before1, names.DNS_QUERIES, {type: 'A', rcode: 'NXDOMAIN'})

  // The name resolves once the publisher on host 2 has written it and host 1's watch has it.
  await waitFor('mweb resolves on host 1', async () =>
    (await exec(h1.name, ['docker', 'exec', 'mclient', 'nslookup', '-type=a', 'mweb'])).stdout.includes(`Address: ${webIp}`) || undefined, 15_000, 200)
  await exec(h1.name, ['docker', 'exec', 'mclient', 'nslookup', '-type=a', 'no-such-container'])
  const ping = await exec(h1.name, ['docker', 'exec', 'mclient', 'ping', '-c', '20', '-i', '0.05', '-s', '1000', 'mweb'])
  assert.equal(ping.code, 0, ping.stdout + ping.stderr)

  const after1 = await metricsOf(h1)
  const peerAfter = peerHealth(after1)[h2.name]
  assert.ok(peerAfter.rxBytes! >= (peerBefore.rxBytes ?? 0) + 20_000, `rx ${peerBefore.rxBytes} → ${peerAfter.rxBytes}`)
  assert.ok(peerAfter.txBytes! >= (peerBefore.txBytes ?? 0) + 20_000, `tx ${peerBefore.txBytes} → ${peerAfter.txBytes}`)
  assert.ok(peerAfter.handshakeAgeSeconds !== null && peerAfter.handshakeAgeSeconds < 180, `handshake age ${peerAfter.handshakeAgeSeconds}`)
  assert.ok(value(after1, names.DNS_QUERIES, {type: 'A', rcode: 'NOERROR'}) > value(before1, names.DNS_QUERIES, {type: 'A', rcode: 'NOERROR'}))
  assert.ok(value(after1, names.DNS_QUERIES, {type: 'A', rcode: 'NXDOMAIN'}) > nx())
  assert.ok(histogramCount(after1, names.DNS_DURATION) > histogramCount(before1, names.DNS_DURATION))
  assert.equal(value(after1, names.CONTAINERS_PUBLISHED), 1, 'mclient is host 1\'s one container')
  assert.equal(value(await metricsOf(h2), names.CONTAINERS_PUBLISHED), 1, 'mweb is host 2\'s one container')
})

test('a stopped router: its peer reports the probe down within 10 s and up again once it is back; its own metrics do not answer', async t => {
  const probeUp = async () => peerHealth(await metricsOf(h1))[h2.name]?.probeUp
  await execOk(h2.name, ['systemctl', 'stop', 'cluster-router'])
  const stoppedAt = Date.now()
  // Whatever becomes of the datapath meanwhile, the probe's echo is gone with the router.
  await waitFor('host 1 reports host 2 down', async () => (await probeUp()) === false || undefined, 10_000, 250)
  t.diagnostic(`probe down ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after the router stopped`)
  const silent = await cli(cluster.env, ['net', 'metrics', h2.name])
  assert.notEqual(silent.code, 0)
  assert.match(silent.stderr, /does not answer.*cluster net status/)
  await execOk(h2.name, ['systemctl', 'start', 'cluster-router'])
  await waitFor('host 1 reports host 2 up again', async () => (await probeUp()) === true || undefined, 30_000, 250)
})

test('the file_sd targets answer over the overlay; the metrics port is silent on the public address', async () => {
  const groups = JSON.parse(await cliOk(cluster.env, ['net', 'targets', '--prometheus'])) as FileSdGroup[]
  assert.deepEqual(groups.map(g => g.labels.machine), [h1.name, h2.name])
  const target1 = groups[0].targets[0]
  assert.equal(target1, `${h1.subnet.replace(/\.0\/\d+$/, '.1')}:${names.METRICS_PORT}`)
  // From host 2, over the overlay (its source is its own overlay address).
  const overlay = await execOk(h2.name, ['busybox', 'wget', '-q', '-T', '5', '-O', '-', `http://${target1}/metrics`])
  assert.match(overlay, new RegExp(`^${names.RECONCILE_RUNS} \\d+$`, 'm'))
  // From host 2 and from this machine, to host 1's public address: nothing listens there.
  const fromPeer = await exec(h2.name, ['busybox', 'wget', '-q', '-T', '3', '-O', '-', `http://${h1.ip}:${names.METRICS_PORT}/metrics`])
  assert.notEqual(fromPeer.code, 0, 'host 1 answered metrics on its public address')
  assert.equal(await answers(h1.ip, names.METRICS_PORT), false)
  // And the firewall drops the port from outside the overlay, should anyone route to the bridge address.
  const rules = await execOk(h1.name, ['iptables', '-w', '-S', 'CLUSTER-INPUT'])
  assert.match(rules, new RegExp(`! -s ${cluster.settings.range.replaceAll('.', '\\.')} ! -i lo -p tcp -m tcp --dport ${names.METRICS_PORT} -j DROP`))
  assert.match(rules, new RegExp(`--dport ${names.PROBE_PORT} -j DROP`))
})

/** Whether a TCP connection to host:port opens within 3 s. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect({host, port, timeout: 3000})
    const done = (yes: boolean) => {
      socket.destroy()
      resolve(yes)
    }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('timeout', () => done(false))
  })
}
