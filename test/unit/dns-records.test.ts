/** The record index, record checks, container → record mapping and the etcd sync plan. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {RecordIndex} from '../../router/dns/records.js'
import {isValidLabel, isValidName, parseRecord, staticRecord} from '../../core/dns-records.js'
import {containerRecord, planSync, type InspectedContainer} from '../../router/containers/record.js'
import {upstreamsFromResolvConf, parseUpstream} from '../../router/dns/forward.js'
import {Deframer, frame} from '../../router/framing.js'
import {DNS_TCP} from '../../router/dns/framing.js'
import {parseStaticArgs} from '../../src/dns/static.js'
import {InputError} from '../../core/errors.js'

test('index: lookups both ways, duplicates merged, deletes and replaceAll', () => {
  const index = new RecordIndex()
  let changes = 0
  index.onChange(() => changes++)
  index.put('/c/dns/h1/a', {name: 'web', aliases: ['front'], ip: '198.19.1.2', host: 'h1', containerId: 'a'})
  index.put('/c/dns/h2/b', {name: 'web', aliases: [], ip: '198.19.2.2', host: 'h2', containerId: 'b'})
  index.put('/c/dns-static/web/198.19.2.2', staticRecord('WEB', '198.19.2.2'))
  assert.deepEqual(index.addressesOf('web'), ['198.19.1.2', '198.19.2.2'])
  assert.deepEqual(index.addressesOf('front'), ['198.19.1.2'])
  assert.deepEqual(index.namesAt('198.19.1.2'), ['web', 'front'])
  assert.deepEqual(index.addressesOf('nope'), [])
  index.delete('/c/dns/h1/a')
  assert.deepEqual(index.addressesOf('web'), ['198.19.2.2'])
  assert.deepEqual(index.addressesOf('front'), [])
  assert.deepEqual(index.namesAt('198.19.1.2'), [])
  index.replaceAll([{key: 'x', record: staticRecord('db', '198.19.9.9')}])
  assert.deepEqual(index.addressesOf('web'), [])
  assert.equal(index.size, 1)
  assert.equal(changes, 5)
})

test('index: lookups with 10 000 records', () => {
  const index = new RecordIndex()
  index.replaceAll(Array.from({length: 10_000}, (_, i) => ({key: `k${i}`, record: staticRecord(`svc${i % 1000}`, `198.19.${i >> 8}.${i & 255}`)})))
  assert.equal(index.addressesOf('svc7').length, 10)
  assert.deepEqual(index.namesAt('198.19.0.7'), ['svc7'])
})

// Speed lives in bench/dns-churn; here, that a change reaches only what it touched.
test('index: a change with 10,000 records reports and rebuilds only its own name and address', () => {
  const index = new RecordIndex()
  index.replaceAll(Array.from({length: 10_000}, (_, i) => ({key: `k${i}`, record: staticRecord(`svc${i % 3334}`, `198.19.${i >> 8}.${i & 255}`)})))
  const changes: Array<[string[], string[]] | undefined> = []
  index.onChange(change => changes.push(change && [[...change.names], [...change.addresses]]))
  const untouched = index.addressesOf('svc2000')
  for (let i = 0; i < 1000; i++) {
    index.put(`new${i}`, staticRecord(`svc${i}`, `198.18.${i >> 8}.${i & 255}`))
    index.delete(`k${i}`)
  }
  assert.equal(changes.length, 2000)
  assert.deepEqual(changes[0], [['svc0'], ['198.18.0.0']])
  assert.deepEqual(changes[1], [['svc0'], ['198.19.0.0']])
  assert.ok(changes.every(c => c && c[0].length === 1 && c[1].length === 1), 'every change touched one name and one address')
  assert.equal(index.addressesOf('svc2000'), untouched, 'an untouched name keeps its array: it was not rebuilt')
  assert.deepEqual(index.addressesOf('svc0'), ['198.19.13.6', '198.19.26.12', '198.18.0.0'])
})

test('index: any sequence of puts and deletes gives the lookups a fresh listing would', () => {
  let seed = 7
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
  const index = new RecordIndex()
  const model = new Map<string, ReturnType<typeof staticRecord>>()
  const changed: Array<[string[], string[]]> = []
  index.onChange(change => changed.push(change ? [[...change.names], [...change.addresses]] : [[], []]))
  for (let step = 0; step < 2000; step++) {
    const key = `k${random(40)}`
    if (random(3) === 0) {
      index.delete(key)
      model.delete(key)
    } else {
      const record = {...staticRecord(`n${random(8)}`, `198.19.0.${random(12)}`), aliases: random(2) ? [`a${random(4)}`] : []}
      index.put(key, record)
      model.set(key, record)
    }
  }
  const fresh = new RecordIndex()
  fresh.replaceAll([...model].map(([key, record]) => ({key, record})))
  const sorted = (xs: readonly string[]) => [...xs].sort()
  for (let i = 0; i < 12; i++) assert.deepEqual(sorted(index.namesAt(`198.19.0.${i}`)), sorted(fresh.namesAt(`198.19.0.${i}`)))
  for (const name of ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'a0', 'a1', 'a2', 'a3']) assert.deepEqual(sorted(index.addressesOf(name)), sorted(fresh.addressesOf(name)))
  assert.equal(index.size, fresh.size)
  assert.ok(changed.length > 0 && changed.every(([names, addresses]) => names.length > 0 && addresses.length >= 1 && addresses.length <= 2))
})

test('labels and names: Docker-style names pass, junk does not', () => {
  for (const ok of ['web', 'app_on_host1', 'db-1', 'A1', 'x'.repeat(63)]) assert.ok(isValidLabel(ok), ok)
  for (const bad of ['', '-web', 'web-', 'a.b', 'we b', 'x'.repeat(64), 'ünï', 'a/b']) assert.ok(!isValidLabel(bad), bad)
  assert.ok(isValidName('my.app'))
  assert.ok(!isValidName('my..app'))
})

test('parseRecord accepts what the router writes and rejects the rest', () => {
  const r = {name: 'Web', aliases: ['DB', 'bad name'], ip: '198.19.1.2', host: 'h1', containerId: 'abc'}
  assert.deepEqual(parseRecord(JSON.stringify(r)), {name: 'web', aliases: ['db'], ip: '198.19.1.2', host: 'h1', containerId: 'abc'})
  for (const bad of ['not json', 'null', '{"name":"web"}', '{"name":"-x","ip":"1.2.3.4"}', '{"name":"web","ip":"1.2.3"}']) {
    assert.equal(parseRecord(bad), undefined, bad)
  }
})

function inspected(overrides: {name?: string; running?: boolean; labels?: Record<string, string>; networks?: InspectedContainer['NetworkSettings']['Networks']}): InspectedContainer {
  return {
    Id: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    Name: `/${overrides.name ?? 'app_on_host1'}`,
    State: {Running: overrides.running ?? true},
    Config: {Labels: overrides.labels ?? {}},
    NetworkSettings: {Networks: overrides.networks ?? {bridge: {IPAddress: '198.19.1.5', Aliases: null}}},
  }
}

const ctx = {hostName: 'host1', range: '198.19.0.0/16'}

test('containerRecord: a running overlay container with its label and network aliases', () => {
  const r = containerRecord(inspected({
    labels: {'cluster.dns.alias': 'db, Primary,bad name'},
    networks: {other: {IPAddress: '198.18.64.3', Aliases: ['x']}, cluster: {IPAddress: '198.19.1.5', Aliases: ['0123456789ab', 'web', 'app_on_host1']}},
  }), ctx)
  assert.deepEqual(r, {name: 'app_on_host1', aliases: ['db', 'primary', 'web'], ip: '198.19.1.5', host: 'host1',
    containerId: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'})
})

test('containerRecord: stopped, off-overlay and unnameable containers are not published', () => {
  assert.equal(containerRecord(inspected({running: false}), ctx), undefined)
  assert.equal(containerRecord(inspected({networks: {bridge: {IPAddress: '198.18.64.3'}}}), ctx), undefined)
  assert.equal(containerRecord(inspected({networks: {host: {IPAddress: ''}}}), ctx), undefined)
  assert.equal(containerRecord(inspected({name: 'x'.repeat(70)}), ctx), undefined)
})

test('planSync: puts what changed, removes what is gone, leaves the rest', () => {
  const rec = (id: string, ip: string) => ({name: id, aliases: [], ip, host: 'h', containerId: id})
  const same = rec('a', '198.19.1.1')
  const desired = new Map([['a', same], ['b', rec('b', '198.19.1.2')], ['c', rec('c', '198.19.1.3')]])
  const published = new Map([['a', JSON.stringify(same)], ['b', JSON.stringify(rec('b', '198.19.1.99'))], ['d', '']])
  const plan = planSync(desired, published)
  assert.deepEqual(plan.put.map(r => r.containerId).sort(), ['b', 'c'])
  assert.deepEqual(plan.remove, ['d'])
})

test('upstreams: from resolv.conf minus our own address; explicit specs checked', () => {
  const conf = '# generated\nsearch cluster.internal\nnameserver 198.19.1.1\nnameserver 198.18.0.3\nnameserver fe80::1\noptions ndots:0\n'
  assert.deepEqual(upstreamsFromResolvConf(conf, ['198.19.1.1']), [{host: '198.18.0.3', port: 53}])
  assert.deepEqual(parseUpstream('127.0.0.9:5300'), {host: '127.0.0.9', port: 5300})
  assert.throws(() => parseUpstream('resolver.example'), /invalid upstream/)
  assert.throws(() => parseUpstream('127.0.0.1:99999'), /invalid upstream/)
})

test('TCP framing: split and joined frames; oversized frames refused', () => {
  const framer = new Deframer(DNS_TCP, 100)
  const two = Buffer.concat([frame(DNS_TCP, Buffer.from('hello')), frame(DNS_TCP, Buffer.from('world!'))])
  assert.deepEqual(framer.push(two.subarray(0, 4)), [])
  assert.deepEqual(framer.push(two.subarray(4)).map(String), ['hello', 'world!'])
  assert.throws(() => new Deframer(DNS_TCP, 10).push(frame(DNS_TCP, Buffer.alloc(11))), /announces 11 bytes, over the 10 taken/)
})

test('dns add arguments: a label and an IPv4 address, or one clear InputError', () => {
  assert.deepEqual(parseStaticArgs('DB', '198.18.0.50'), {name: 'db', ip: '198.18.0.50'})
  assert.throws(() => parseStaticArgs('bad.name', '198.18.0.50'), (e: unknown) => e instanceof InputError && /not a valid DNS label/.test(e.oneLine()))
  assert.throws(() => parseStaticArgs('-db', '198.18.0.50'), InputError)
  assert.throws(() => parseStaticArgs('db', '198.18.0'), /not an IPv4 address/)
})
