/**
 * Service discovery end to end on three lab hosts of our own (trixie: systemd, Docker 26),
 * the lab's etcd and the lab's dnsmasq (198.18.0.3, zone upstream.test) as every host's
 * upstream resolver, so no query leaves the lab. Hosts join with `cluster create`
 * (bench/overlay/lab-overlay.ts); containers use the router's DNS only through
 * what Docker puts in their resolv.conf: `docker run` carries no DNS flag anywhere here.
 *
 * Needs the compose lab up (test/lab/up.sh) and dist/router.cjs built with startDiscovery wired.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {newCluster, joinHost, startLabHost, destroyCluster, type OverlayCluster, type OverlayHost} from '../../bench/overlay/lab-overlay.js'
import {DNS_IP, IMAGES, exec, execOk, labIsUp, removeHost, type LabHost} from '../lab/lab.js'
import {cli, cliOk, type CliEnv} from '../support/cli.js'
import {waitFor} from '../support/wait.js'

const labHosts: LabHost[] = []
let cluster: OverlayCluster
let hosts: OverlayHost[] = []
let env: CliEnv

/** `docker run -d --name NAME` of a sleeping busybox on `host`; returns its overlay IP. */
async function runSleeper(host: OverlayHost, name: string, labels: string[] = []): Promise<string> {
  await execOk(host.name, ['docker', 'run', '-d', '--name', name, ...labels.flatMap(l => ['--label', l]), IMAGES.busybox, 'sleep', '3600'])
  return (await execOk(host.name, ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim()
}

/** IPv4 addresses busybox nslookup prints for `name`, in the order the server sent them ([] when not found). */
async function lookup(host: OverlayHost, container: string, name: string): Promise<string[]> {
  const r = await exec(host.name, ['docker', 'exec', container, 'nslookup', '-type=a', name])
  const answers = r.stdout.split(/\n\s*\n/).slice(1).join('\n')
  return [...answers.matchAll(/Address:\s*(\d+\.\d+\.\d+\.\d+)/g)].map(m => m[1])
}

before(async () => {
  assert.ok(await labIsUp(), 'the compose lab is not up: run `bash test/lab/up.sh`')
  labHosts.push(...await Promise.all(['dns-1', 'dns-2', 'dns-3'].map(startLabHost)))
  cluster = await newCluster('wireguard')
  // The cluster's DNS upstream is the lab's dnsmasq (lab-overlay's `cluster init`).
  hosts = await Promise.all(labHosts.map(h => joinHost(cluster, h)))
  env = cluster.env
})

after(async () => {
  if (cluster) await destroyCluster(cluster, false).catch(() => undefined)
  for (const h of labHosts) await removeHost(h.name).catch(() => undefined)
})

test('containers get the router as resolver and the cluster domain as search domain, with no flags', async () => {
  const [h1] = hosts
  await runSleeper(h1, 'probe')
  const resolv = await execOk(h1.name, ['docker', 'exec', 'probe', 'cat', '/etc/resolv.conf'])
  assert.match(resolv, new RegExp(`nameserver ${h1.subnet.replace(/\.0\/\d+$/, '.1').replaceAll('.', '\\.')}`))
  assert.match(resolv, /search .*cluster\.internal/)
})

test('app_on_host1 pings app_on_host2 by its bare name', async () => {
  const [h1, h2] = hosts
  await runSleeper(h1, 'app_on_host1')
  const ip2 = await runSleeper(h2, 'app_on_host2')
  await waitFor('app_on_host2 resolves on host 1', async () => (await lookup(h1, 'app_on_host1', 'app_on_host2')).includes(ip2) || undefined, 15_000, 200)
  // The routers were restarted in before(): allow the tunnel a moment to come back.
  let ping = await exec(h1.name, ['docker', 'exec', 'app_on_host1', 'ping', '-c', '2', '-W', '3', 'app_on_host2'])
  for (let i = 0; i < 5 && ping.code !== 0; i++) ping = await exec(h1.name, ['docker', 'exec', 'app_on_host1', 'ping', '-c', '2', '-W', '3', 'app_on_host2'])
  assert.equal(ping.code, 0, ping.stdout + ping.stderr)
  assert.match(ping.stdout, new RegExp(`PING app_on_host2 \\(${ip2.replaceAll('.', '\\.')}\\)`))
})

test('three containers named web on three hosts answer in turn; rm -f of one is gone within 1 s', async t => {
  const ips = await Promise.all(hosts.map(h => runSleeper(h, 'web')))
  const [h1, , h3] = hosts
  await waitFor('all three webs in the answers', async () =>
    (await lookup(h1, 'probe', 'web.cluster.internal')).sort().join() === [...ips].sort().join() || undefined, 15_000, 200)
  const firsts = new Set<string>()
  for (let i = 0; i < 3; i++) firsts.add((await lookup(h1, 'probe', 'web'))[0])
  assert.equal(firsts.size, 3, `first answers of three lookups: ${[...firsts]}`)

  // All lab hosts share the machine's kernel, so /proc/uptime is one clock for both sides.
  const poll = exec(h1.name, ['docker', 'exec', 'probe', 'sh', '-c',
    `while nslookup -type=a web.cluster.internal 2>/dev/null | grep -q '${ips[2]}'; do :; done; cut -d' ' -f1 /proc/uptime`], {timeoutMs: 30_000})
  await new Promise(resolve => setTimeout(resolve, 500))
  const [startedAt, removedAt] = (await execOk(h3.name, ['sh', '-c', "cut -d' ' -f1 /proc/uptime; docker rm -f web >/dev/null; cut -d' ' -f1 /proc/uptime"]))
    .trim().split('\n').map(Number)
  const goneAt = Number((await poll).stdout.trim())
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`
  t.diagnostic(`docker rm -f took ${ms(removedAt - startedAt)}; gone from answers on host 1 ${ms(goneAt - startedAt)} after it started (${ms(goneAt - removedAt)} after it returned)`)
  assert.ok(goneAt - removedAt < 1, `web on host 3 still answered ${(goneAt - removedAt).toFixed(2)} s after docker rm -f`)
  assert.deepEqual((await lookup(h1, 'probe', 'web')).sort(), ips.slice(0, 2).sort())
})

test('one name as alias: cluster.dns.alias=db on two hosts', async () => {
  const [h1, h2, h3] = hosts
  const ips = [await runSleeper(h2, 'mongo0', ['cluster.dns.alias=db']), await runSleeper(h3, 'mongo1', ['cluster.dns.alias=db'])]
  await waitFor('db answers with both', async () => (await lookup(h1, 'probe', 'db')).sort().join() === ips.sort().join() || undefined, 15_000, 200)
})

test('after dockerd restarts, the router follows it again: its firewall is re-checked, dead containers leave, restarted ones come back', async () => {
  const [h1, , h3] = hosts
  // The router's NAT exemption removed, as a firewall reload would: a dockerd (re)start makes
  // the router re-check its rules as soon as it reconnects, not only at its 30 s round.
  await execOk(h3.name, ['iptables', '-t', 'nat', '-D', 'POSTROUTING', '-j', 'CLUSTER-POSTROUTING'])
  await execOk(h3.name, ['systemctl', 'restart', 'docker'])
  await waitFor('mongo1 (died with dockerd) gone', async () => (await lookup(h1, 'probe', 'mongo1')).length === 0 || undefined, 15_000, 200)
  await waitFor('the NAT exemption back', async () => (await execOk(h3.name, ['iptables', '-t', 'nat', '-S', 'POSTROUTING'])).includes('-j CLUSTER-POSTROUTING') || undefined, 15_000, 200)
  await execOk(h3.name, ['docker', 'start', 'mongo1'])
  const ip = (await execOk(h3.name, ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'mongo1'])).trim()
  await waitFor('mongo1 back after start', async () => (await lookup(h1, 'probe', 'mongo1')).join() === ip || undefined, 15_000, 200)
})

test('names outside the cluster domain resolve through the lab upstream', async () => {
  assert.deepEqual(await lookup(hosts[0], 'probe', 'upstream.test'), [DNS_IP])
})

test('cluster dns add|ls|rm: a record that is not a container, on every host', async () => {
  await cliOk(env, ['dns', 'add', 'extdb', '198.18.0.50'])
  await waitFor('extdb resolves on host 2', async () => (await lookup(hosts[1], 'app_on_host2', 'extdb')).includes('198.18.0.50') || undefined, 5000, 200)
  const rows = JSON.parse(await cliOk(env, ['dns', 'ls', '--json'])) as {name: string; host: string; ip: string}[]
  assert.ok(rows.some(r => r.name === 'app_on_host2' && r.host === hosts[1].name))
  assert.ok(rows.some(r => r.name === 'extdb' && r.host === '' && r.ip === '198.18.0.50'))
  const bad = await cli(env, ['dns', 'add', 'not.a.label', '198.18.0.50'])
  assert.equal(bad.code, 2)
  assert.equal(bad.stderr.trim().split('\n').length, 1)
  await cliOk(env, ['dns', 'rm', 'extdb'])
  await waitFor('extdb gone', async () => (await lookup(hosts[0], 'probe', 'extdb')).length === 0 || undefined, 5000, 200)
})

test('a lost host: its containers leave the answers when its router lease expires', async t => {
  const [h1, h2] = hosts
  await execOk(h2.name, ['systemctl', 'kill', '-s', 'KILL', 'cluster-router'])
  await execOk(h2.name, ['systemctl', 'stop', 'cluster-router'])
  const t0 = Date.now()
  await waitFor('app_on_host2 gone from host 1', async () => (await lookup(h1, 'app_on_host1', 'app_on_host2')).length === 0 || undefined, 30_000, 500)
  t.diagnostic(`gone ${Date.now() - t0} ms after the router was killed (lease TTL 10 s)`)
  await execOk(h2.name, ['systemctl', 'start', 'cluster-router'])
  await waitFor('app_on_host2 back', async () => (await lookup(h1, 'app_on_host1', 'app_on_host2')).length === 1 || undefined, 30_000, 500)
})
