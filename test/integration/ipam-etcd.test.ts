/**
 * Against a real etcd started for this test on loopback (Debian package etcd-server), with
 * its own data folder and ports: IPAM (allocateSubnet / releaseSubnet) and the router's two
 * etcd loops (announce, follow), including an etcd restart under them.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {allocateSubnet, releaseSubnet} from '../../src/ipam.js'
import {keys, subnetFromKey} from '../../core/keys.js'
import {ClusterError} from '../../core/errors.js'
import {announce, follow} from '../../router/kv.js'
import type {ClusterSettings} from '../../core/model.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {needs} from '../support/needs.js'

needs('etcd')

let etcd: TestEtcd

function settings(range: string, subnetSize = 24): ClusterSettings {
  return {name: 't', range, subnetSize, backend: 'wireguard', domain: 'cluster.internal', createdAt: new Date().toISOString()}
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise(r => setTimeout(r, 100))
  }
}

before(async () => {
  etcd = await startEtcd()
})

after(async () => {
  await etcd?.stop()
})

test('a host gets a subnet of the range and the same one again', async () => {
  const layout = keys('/cluster/stable')
  const c = etcd.client()
  const s = settings('198.19.0.0/16')
  const first = await allocateSubnet(c, layout, s, 'host1')
  assert.match(first, /^198\.19\.\d+\.0\/24$/)
  assert.equal(await allocateSubnet(c, layout, s, 'host1'), first)
  assert.equal(await c.get(layout.subnet(first)).string(), 'host1')
})

test('20 hosts allocating in parallel from separate clients never share a subnet', async () => {
  const layout = keys('/cluster/parallel')
  // 32 subnets for 20 hosts: random picks collide often, so the txn retry path is exercised.
  const s = settings('198.19.32.0/19')
  const owners = Array.from({length: 20}, (_, i) => `host${i}`)
  const got = await Promise.all(owners.map(o => allocateSubnet(etcd.client(), layout, s, o)))
  assert.equal(new Set(got).size, 20, got.join(' '))
  for (const cidr of got) assert.match(cidr, /^198\.19\.(3[2-9]|[4-5]\d|6[0-3])\.0\/24$/)
  const stored = await etcd.client().getAll().prefix(layout.subnets).strings()
  assert.equal(Object.keys(stored).length, 20)
  const byOwner = new Map(Object.entries(stored).map(([k, owner]) => [owner, subnetFromKey(k)]))
  owners.forEach((o, i) => assert.equal(byOwner.get(o), got[i]))
})

test('a full range fails with one clear line and writes nothing', async () => {
  const layout = keys('/cluster/full')
  const c = etcd.client()
  const s = settings('198.19.64.0/22')
  for (const o of ['a', 'b', 'c', 'd']) await allocateSubnet(c, layout, s, o)
  await assert.rejects(allocateSubnet(c, layout, s, 'e'), (e: unknown) => {
    assert.ok(e instanceof ClusterError)
    assert.equal(e.oneLine(), 'overlay range 198.19.64.0/22 is full (4 subnets of /24 in use): remove machines or choose a larger --overlay-range at cluster init')
    return true
  })
  assert.equal(Object.keys(await c.getAll().prefix(layout.subnets).strings()).length, 4)
})

test('release frees only the owner\'s subnet, which can then be taken again', async () => {
  const layout = keys('/cluster/release')
  const c = etcd.client()
  const s = settings('198.19.68.0/23')
  const a = await allocateSubnet(c, layout, s, 'a')
  const b = await allocateSubnet(c, layout, s, 'b')
  await assert.rejects(allocateSubnet(c, layout, s, 'c'), /is full/)
  assert.deepEqual(await releaseSubnet(c, layout, 'a'), [a])
  assert.deepEqual(await releaseSubnet(c, layout, 'a'), [], 'releasing twice is a no-op')
  assert.equal(await c.get(layout.subnet(b)).string(), 'b')
  assert.equal(await allocateSubnet(c, layout, s, 'c'), a)
})

const quiet = {info: () => undefined, warn: () => undefined}

test('follow: a listing, then puts and deletes, and it catches up after etcd restarts', async () => {
  const prefix = '/cluster/follow/peers/'
  const c = etcd.client()
  await c.put(`${prefix}a`).value('1')
  const resets: string[][] = []
  const changes: string[] = []
  const health: boolean[] = []
  const stop = new AbortController()
  const loop = follow(etcd.routerClient(), prefix, {
    reset: all => resets.push([...all].map(([k, v]) => `${k}=${v}`)),
    put: (name, raw) => changes.push(`${name}=${raw}`),
    delete: name => changes.push(`-${name}`),
  }, quiet, ok => health.push(ok), stop.signal)
  await until('first listing', () => resets.length === 1)
  assert.deepEqual(resets[0], ['a=1'])
  await c.put(`${prefix}b`).value('2')
  await c.delete().key(`${prefix}a`)
  await c.put('/cluster/follow/elsewhere').value('x')
  await until('put and delete seen', () => changes.join(' ') === 'b=2 -a')

  await etcd.crash()
  await until('the loss is noticed', () => health.includes(false), 15_000)
  etcd.restart()
  const other = etcd.client()
  await until('etcd is back', async () => (await other.put(`${prefix}c`).value('3'), true))
  // Caught up either by the resumed watch or by a fresh listing: both end with c=3 known.
  await until('c=3 after the restart', () => changes.includes('c=3') || (resets.length > 1 && resets.at(-1)!.includes('c=3')))
  assert.equal(health.at(-1), true)
  stop.abort()
  await loop
})

test('announce: the record lives under a lease and is put back when the lease is lost', async () => {
  const key = '/cluster/announce/peers/h1'
  const c = etcd.client()
  const stop = new AbortController()
  const loop = announce(etcd.routerClient(), key, 'record', quiet, () => undefined, stop.signal)
  const leaseOf = async () => (await c.getAll().prefix(key).exec()).kvs[0]?.lease
  await until('announced', async () => (await c.get(key).string()) === 'record')
  const first = await leaseOf()
  assert.ok(first && first !== '0', 'the record is bound to a lease')
  await c.leaseClient.leaseRevoke({ID: first})
  assert.equal(await c.get(key).string(), null, 'revoking the lease removed the record')
  await until('announced again under a new lease', async () => {
    const lease = await leaseOf()
    return lease !== undefined && lease !== first
  }, 15_000)
  assert.equal(await c.get(key).string(), 'record')
  stop.abort()
  await loop
})
