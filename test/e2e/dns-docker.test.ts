/**
 * startDiscovery against the machine's real dockerd and a real etcd on loopback: containers
 * on a Docker network addressed from 198.18.64.0/24 (standing in for the overlay) are
 * published under the router's lease, answered by the DNS server on loopback, and leave the
 * answers within 1 s of `docker rm -f`. Containers and the network carry cluster.lab=1 and
 * are removed by id at the end.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import type {Etcd3} from 'etcd3'
import type {Lease} from '../../router/etcd/client.js'
import {clusterPrefix, keys} from '../../core/keys.js'
import {startDiscovery, type Discovery} from '../../router/dns/discovery.js'
import {docker, IMAGES, LAB_LABEL} from '../lab/lab.js'
import {resolverFor} from '../support/dns.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {freePort} from '../support/net.js'
import {waitFor} from '../support/wait.js'

const RANGE = '198.18.64.0/24'
const HOST = 'dnshost'
const prefix = clusterPrefix('dns-docker-test')
const layout = keys(prefix)
const suffix = process.pid.toString(36)
const name = (n: string) => `dnst-${n}-${suffix}`

let etcd: TestEtcd
let client: Etcd3
let lease: Lease
let leaseId: bigint
let discovery: Discovery | undefined
let port: number
let network = ''
const containers = new Set<string>()

async function runContainer(n: string, opts: {alias?: string; net?: string} = {}): Promise<string> {
  const id = (await docker(['run', '-d', '--name', name(n), '--network', opts.net ?? network, '--label', `${LAB_LABEL}=1`,
    ...(opts.alias ? ['--label', `cluster.dns.alias=${opts.alias}`] : []), IMAGES.busybox, 'sleep', '600'])).trim()
  containers.add(id)
  return id
}

async function ipOf(id: string): Promise<string> {
  return (await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, id])).trim()
}

const resolver = () => resolverFor('127.0.0.1', port)

/** Milliseconds until `host` resolves to exactly `expected` (sorted; [] = NXDOMAIN), polling every 10 ms. */
async function msUntil(host: string, expected: string[], timeoutMs = 5000): Promise<number> {
  const t0 = Date.now()
  await waitFor(`${host} → [${expected}]`, async () => {
    const got = await resolver().resolve4(host).catch(() => [] as string[])
    return JSON.stringify(got.sort()) === JSON.stringify([...expected].sort()) || undefined
  }, timeoutMs, 10)
  return Date.now() - t0
}

before(async () => {
  etcd = await startEtcd()
  client = etcd.client()
  lease = etcd.routerClient().lease(10)
  leaseId = await lease.grant()
  network = `dnst-net-${suffix}`
  await docker(['network', 'create', '--subnet', RANGE, '--label', `${LAB_LABEL}=1`, network])
  port = await freePort()
})

after(async () => {
  await discovery?.stop()
  if (containers.size > 0) await docker(['rm', '-f', ...containers]).catch(() => undefined)
  if (network) await docker(['network', 'rm', network]).catch(() => undefined)
  lease?.release()
  if (leaseId) await client.leaseClient.leaseRevoke({ID: String(leaseId)}).catch(() => undefined)
  await etcd?.stop()
})

test('containers running before start are published; stale records of this host are removed', async () => {
  const stale = layout.dnsRecord(HOST, 'deadbeef')
  await client.put(stale).value(JSON.stringify({name: 'ghost', aliases: [], ip: '198.18.64.250', host: HOST, containerId: 'deadbeef'}))
  const web1 = await runContainer('web1', {alias: `svc-${suffix}`})
  const web2 = await runContainer('web2', {alias: `svc-${suffix}`})
  await runContainer('offlay', {net: 'bridge'})

  discovery = await startDiscovery({
    etcd: etcd.routerClient(), prefix, hostName: HOST, lease, listenAddress: '127.0.0.1', port,
    domain: 'cluster.internal', range: RANGE, upstreams: [], log: {info() {}, warn: m => console.error(m)},
  })
  await msUntil(`${name('web1')}.cluster.internal`, [await ipOf(web1)], 10_000)
  assert.deepEqual(await resolver().resolve4(name('web2')), [await ipOf(web2)])
  assert.deepEqual((await resolver().resolve4(`svc-${suffix}`)).sort(), [await ipOf(web1), await ipOf(web2)].sort())
  await assert.rejects(resolver().resolve4(`${name('offlay')}.cluster.internal`), {code: 'ENOTFOUND'})
  await waitFor('stale record removed', async () => (await client.get(stale).string()) === null || undefined, 3000)

  const stored = await client.get(layout.dnsRecord(HOST, web1)).exec()
  assert.equal(stored.kvs[0]?.lease, String(leaseId), 'record is bound to the router lease')
})

test('a container started later appears, and is gone within 1 s of docker rm -f', async t => {
  const web3 = await runContainer('web3')
  const appeared = await msUntil(name('web3'), [await ipOf(web3)])
  assert.ok(appeared < 1000, `appeared after ${appeared} ms`)
  await docker(['rm', '-f', web3])
  containers.delete(web3)
  const gone = await msUntil(`${name('web3')}.cluster.internal`, [])
  assert.ok(gone < 1000, `still answered ${gone} ms after docker rm -f`)
  t.diagnostic(`answered ${appeared} ms after docker run returned; gone ${gone} ms after docker rm -f returned`)
  assert.equal(await client.get(layout.dnsRecord(HOST, web3)).string(), null)
})

test('kill (die) removes the record; rename republishes under the new name', async () => {
  const victim = await runContainer('victim')
  await msUntil(name('victim'), [await ipOf(victim)])
  await docker(['kill', victim])
  assert.ok(await msUntil(name('victim'), []) < 1000)

  const renamed = await runContainer('before')
  const ip = await ipOf(renamed)
  await msUntil(name('before'), [ip])
  await docker(['rename', renamed, name('after')])
  await msUntil(name('after'), [ip])
  await msUntil(name('before'), [])
})

test('round-robin over the alias shared by two containers', async () => {
  const firsts = new Set<string>()
  for (let i = 0; i < 4; i++) firsts.add((await resolver().resolve4(`svc-${suffix}.cluster.internal`))[0])
  assert.equal(firsts.size, 2)
})
