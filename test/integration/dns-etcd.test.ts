/**
 * The record path end to end on loopback: a real etcd, the etcd watch, the DNS server and a
 * real stub resolver; `dns add|rm|ls` against the same etcd; names outside the domain
 * forwarded to a dnsmasq on 127.0.0.77 serving a test zone (no query leaves the machine).
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'
import {Etcd3} from 'etcd3'
import {clusterPrefix, keys} from '../../core/keys.js'
import type {Kv} from '../../src/kv/client.js'
import {AlreadyExistsError, NotFoundError} from '../../core/errors.js'
import {RecordIndex} from '../../router/dns/records.js'
import {type DnsRecord} from '../../core/dns-records.js'
import {startDnsServer, type DnsServer} from '../../router/dns/server.js'
import {watchRecords, type RecordWatch} from '../../router/dns/watch.js'
import {addStaticRecord, listDns, removeStaticRecords} from '../../src/dns/static.js'
import {resolverFor, startDnsmasq} from '../support/dns.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {freePort, startRelay} from '../support/net.js'
import {needs} from '../support/needs.js'
import {waitFor} from '../support/wait.js'

needs('etcd', 'dnsmasq', 'dig')

const layout = keys(clusterPrefix('dns-etcd-test'))
const UPSTREAM_ADDRESS = '127.0.0.77'
let etcd: TestEtcd
let client: Etcd3
let upstream: {stop(): Promise<void>}
let server: DnsServer
let watch: RecordWatch
const index = new RecordIndex()
const warnings: string[] = []

before(async () => {
  etcd = await startEtcd()
  client = etcd.client()
  const upstreamPort = await freePort()
  upstream = await startDnsmasq({address: UPSTREAM_ADDRESS, port: upstreamPort, hosts: '198.18.0.99 www.upstream.test\n', extra: ['--local=/upstream.test/']})
  watch = watchRecords({etcd: etcd.routerClient(), layout, index, log: {info() {}, warn: m => warnings.push(m)}})
  await watch.ready
  server = await startDnsServer({
    address: '127.0.0.1', port: 0, domain: 'cluster.internal', index, range: '198.19.0.0/16', upstreams: [`${UPSTREAM_ADDRESS}:${upstreamPort}`],
  })
})

after(async () => {
  await watch?.stop()
  await server?.close()
  await upstream?.stop()
  await etcd?.stop()
})

const resolver = () => resolverFor(server.address, server.port)

/** Milliseconds until `name` resolves to exactly `expected` (sorted), polling every 10 ms. */
async function msUntil(name: string, expected: string[]): Promise<number> {
  const t0 = Date.now()
  await waitFor(`${name} → [${expected}]`, async () => {
    const got = await resolver().resolve4(name).catch(() => [] as string[])
    return JSON.stringify(got.sort()) === JSON.stringify(expected) || undefined
  }, 5000, 10)
  return Date.now() - t0
}

function record(name: string, ip: string, host: string, id: string, aliases: string[] = []): DnsRecord {
  return {name, aliases, ip, host, containerId: id}
}

test('a container record put in etcd resolves, by full and bare name; deleted, it is gone within 1 s', async () => {
  const lease = client.lease(10)
  await lease.put(layout.dnsRecord('host2', 'c2')).value(JSON.stringify(record('app_on_host2', '198.19.2.5', 'host2', 'c2', ['api'])))
  assert.ok(await msUntil('app_on_host2.cluster.internal', ['198.19.2.5']) < 1000)
  assert.deepEqual(await resolver().resolve4('app_on_host2'), ['198.19.2.5'])
  assert.deepEqual(await resolver().resolve4('api'), ['198.19.2.5'])
  assert.deepEqual(await resolver().reverse('198.19.2.5'), ['app_on_host2.cluster.internal', 'api.cluster.internal'])
  await client.delete().key(layout.dnsRecord('host2', 'c2'))
  const gone = await msUntil('app_on_host2.cluster.internal', [])
  assert.ok(gone < 1000, `still answered ${gone} ms after the delete`)
  await assert.rejects(resolver().resolve4('app_on_host2.cluster.internal'), {code: 'ENOTFOUND'})
  await lease.revoke()
})

test('three hosts, one name: every lookup starts with the next container (round-robin)', async () => {
  const lease = client.lease(10)
  for (const h of [1, 2, 3]) await lease.put(layout.dnsRecord(`host${h}`, `web${h}`)).value(JSON.stringify(record('web', `198.19.${h}.10`, `host${h}`, `web${h}`)))
  await msUntil('web.cluster.internal', ['198.19.1.10', '198.19.2.10', '198.19.3.10'])
  const firsts = new Set<string>()
  for (let i = 0; i < 3; i++) firsts.add((await resolver().resolve4('web.cluster.internal'))[0])
  assert.equal(firsts.size, 3, `first answers: ${[...firsts]}`)
  await lease.revoke()
})

test('a lost host\'s records vanish with its lease', async () => {
  const lease = client.lease(2)
  await lease.put(layout.dnsRecord('host9', 'c9')).value(JSON.stringify(record('lost_one', '198.19.9.9', 'host9', 'c9')))
  await msUntil('lost_one.cluster.internal', ['198.19.9.9'])
  // A host that dies stops renewing: releasing the lease without revoking it is exactly that.
  lease.release()
  const t0 = Date.now()
  await waitFor('record expired with the lease', async () =>
    (await resolver().resolve4('lost_one.cluster.internal').catch(() => [])).length === 0 || undefined, 10_000, 100)
  assert.ok(Date.now() - t0 < 5000)
})

test('dns add / ls / rm through etcd', async () => {
  const kv: Kv = {client, layout, endpoints: [etcd.endpoint], clusterName: 'dns-etcd-test', close() {}}
  await addStaticRecord(kv, 'extdb', '198.18.0.50')
  await assert.rejects(addStaticRecord(kv, 'extdb', '198.18.0.50'), AlreadyExistsError)
  await addStaticRecord(kv, 'extdb', '198.18.0.51')
  assert.ok(await msUntil('extdb', ['198.18.0.50', '198.18.0.51']) < 1000)
  const rows = (await listDns(kv)).filter(r => r.name === 'extdb')
  assert.deepEqual(rows.map(r => [r.ip, r.host]), [['198.18.0.50', ''], ['198.18.0.51', '']])
  assert.equal(await removeStaticRecords(kv, 'extdb', '198.18.0.50'), 1)
  await msUntil('extdb', ['198.18.0.51'])
  assert.equal(await removeStaticRecords(kv, 'extdb'), 1)
  await msUntil('extdb.cluster.internal', [])
  await assert.rejects(removeStaticRecords(kv, 'extdb'), NotFoundError)
})

test('malformed values in etcd are ignored (and logged), not served', async () => {
  await client.put(layout.dnsRecord('host5', 'junk')).value('{"name": "junk", "ip": "not-an-ip"}')
  await waitFor('warning logged', async () => warnings.some(w => w.includes('junk')) || undefined, 3000)
  await assert.rejects(resolver().resolve4('junk.cluster.internal'), {code: 'ENOTFOUND'})
  await client.delete().key(layout.dnsRecord('host5', 'junk'))
})

test('names outside the domain go to the upstream, over UDP and TCP', async () => {
  assert.deepEqual(await resolver().resolve4('www.upstream.test'), ['198.18.0.99'])
  const {stdout} = await promisify(execFile)('dig', ['+tcp', '+short', '+time=2', '+tries=1', `@${server.address}`, '-p', String(server.port), 'www.upstream.test'])
  assert.equal(stdout.trim(), '198.18.0.99')
  await assert.rejects(resolver().resolve4('missing.upstream.test'), {code: 'ENOTFOUND'})
})

test('with no upstream answering, outside names get SERVFAIL quickly, and our names still answer', async () => {
  const port = await freePort()
  const lonely = await startDnsServer({address: '127.0.0.1', port: 0, domain: 'cluster.internal', index, upstreams: [`127.0.0.78:${port}`]})
  try {
    const r = resolverFor(lonely.address, lonely.port, 4000)
    await assert.rejects(r.resolve4('www.upstream.test'), {code: 'ESERVFAIL'})
  } finally {
    await lonely.close()
  }
})

test('an etcd partition keeps the last known records; with history compacted meanwhile, the watch lists again and catches up', async () => {
  const relay = await startRelay(Number(new URL(etcd.endpoint).port))
  const partitioned = etcd.routerClient(`http://127.0.0.1:${relay.port}`)
  const own = keys(clusterPrefix('dns-partition-test'))
  const seen = new RecordIndex()
  const log: string[] = []
  const follower = watchRecords({etcd: partitioned, layout: own, index: seen, log: {info() {}, warn: m => log.push(m)}})
  try {
    await follower.ready
    await client.put(own.dnsRecord('h1', 'old')).value(JSON.stringify(record('old', '198.19.1.1', 'h1', 'old')))
    await waitFor('old record seen', async () => seen.addressesOf('old').length === 1 || undefined, 5000, 20)

    relay.cut()
    await client.delete().key(own.dnsRecord('h1', 'old'))
    await client.put(own.dnsRecord('h1', 'new')).value(JSON.stringify(record('new', '198.19.1.2', 'h1', 'new')))
    const {header} = await client.get('/dns-test/ready').exec()
    await client.kv.compact({revision: header.revision, physical: true})
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.deepEqual(seen.addressesOf('old'), ['198.19.1.1'], 'the last known record stays while etcd is away')

    relay.restore()
    await waitFor('caught up after the partition', async () =>
      (seen.addressesOf('old').length === 0 && seen.addressesOf('new').length === 1) || undefined, 20_000, 50)
    assert.ok(log.some(m => /listing again/.test(m)), `expected a re-list, log: ${log.join(' | ')}`)
  } finally {
    await follower.stop()
    partitioned.close()
    await relay.close()
  }
})
