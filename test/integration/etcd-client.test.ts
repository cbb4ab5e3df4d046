/**
 * The router's etcd client (router/etcd/) against a real etcd on loopback: every call it
 * makes, leases kept alive and lost, watches ended by compaction, and a silent partition
 * (no reset, nothing answers) noticed by its PINGs rather than by a hang.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {EtcdClient} from '../../router/etcd/client.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {freePort, startRelay} from '../support/net.js'
import {needs} from '../support/needs.js'
import {waitFor} from '../support/wait.js'
import {followMembers, startEndpoints, votingEndpoints} from '../../router/members.js'
import type {Logger} from '../../router/log.js'
import {getEventListeners} from 'node:events'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

needs('etcd')

const silentLog: Logger = {info: () => undefined, warn: () => undefined}

let etcd: TestEtcd

before(async () => {
  etcd = await startEtcd()
})

after(async () => {
  await etcd?.stop()
})

test('list, put, delete, and a watch from a revision sees exactly what came after', async () => {
  const c = etcd.routerClient()
  await c.put('/ec/a/1', 'one')
  await c.put('/ec/a/2', 'two€')
  await c.put('/ec/ab', 'not under /ec/a/')
  const listing = await c.list('/ec/a/')
  assert.deepEqual(listing.kvs.map(kv => `${kv.key}=${kv.value}`), ['/ec/a/1=one', '/ec/a/2=two€'])
  assert.deepEqual((await c.list('/ec/a/', {keysOnly: true})).kvs.map(kv => kv.value), ['', ''])
  const seen: string[] = []
  const watch = await c.watch('/ec/a/', listing.revision + 1n, {put: kv => seen.push(`+${kv.key}=${kv.value}`), delete: kv => seen.push(`-${kv.key}`)})
  await c.put('/ec/a/3', 'three')
  await c.delete('/ec/a/1')
  await c.put('/ec/b/x', 'elsewhere')
  await waitFor('events', async () => seen.length === 2 || undefined, 5000, 10)
  assert.deepEqual(seen, ['+/ec/a/3=three', '-/ec/a/1'])
  watch.cancel()
  assert.equal(await watch.ended, 'cancelled')
})

test('a watch from a compacted revision ends, saying so', async () => {
  const c = etcd.routerClient()
  const {revision} = await c.list('/ec/')
  await c.put('/ec/c/1', 'x')
  await etcd.client().kv.compact({revision: String(revision + 1n), physical: true})
  const watch = await c.watch('/ec/c/', revision, {put: () => undefined, delete: () => undefined})
  assert.match(await watch.ended, /etcd compacted its history past revision \d+/)
})

test('a lease is granted on first put, kept alive past its TTL, and lost (once) when etcd drops it', async () => {
  const c = etcd.routerClient()
  const lease = c.lease(2)
  const events: string[] = []
  lease.on('keepaliveSucceeded', () => events.push('ok'))
  lease.on('lost', (why: Error) => events.push(`lost: ${why.message}`))
  await lease.put('/ec/leased', 'v')
  const id = await lease.grant()
  await new Promise(r => setTimeout(r, 3500))
  assert.equal((await c.list('/ec/leased')).kvs[0]?.lease, id, 'still there after 1.75 TTLs')
  assert.ok(events.includes('ok'))
  await c.revokeLease(id)
  await waitFor('lost', async () => events.some(e => e.startsWith('lost')) || undefined, 5000, 50)
  assert.deepEqual(events.filter(e => e.startsWith('lost')), ['lost: etcd no longer has the lease'])
  await assert.rejects(lease.put('/ec/leased', 'again'), /the lease was lost/)
  assert.deepEqual((await c.list('/ec/leased')).kvs, [])
})

test('the first endpoint that answers is used; none answering is one clear error', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const c = new EtcdClient({endpoints: [dead, etcd.endpoint], connectTimeoutMs: 1000})
  try {
    await c.put('/ec/failover', 'yes')
    assert.equal((await c.list('/ec/failover')).kvs[0]?.value, 'yes')
  } finally {
    c.close()
  }
  const none = new EtcdClient({endpoints: [dead], connectTimeoutMs: 1000})
  await assert.rejects(none.list('/ec/'), new RegExp(`cannot reach etcd \\(${dead}: connect ECONNREFUSED`))
  none.close()
})

test('a silent partition ends watches and calls within seconds, without crashing; the client reconnects after', async () => {
  const relay = await startRelay(Number(new URL(etcd.endpoint).port))
  const c = new EtcdClient({endpoints: [`http://127.0.0.1:${relay.port}`], pingEveryMs: 300, connectTimeoutMs: 500, callTimeoutMs: 1000})
  try {
    const {revision} = await c.list('/ec/')
    const watch = await c.watch('/ec/p/', revision + 1n, {put: () => undefined, delete: () => undefined})
    relay.stall()
    const t0 = Date.now()
    assert.equal(await watch.ended, 'etcd stopped answering PINGs')
    assert.ok(Date.now() - t0 < 3000, `noticed after ${Date.now() - t0} ms`)
    await assert.rejects(c.list('/ec/'), /cannot reach etcd|connection to etcd was dropped|did not answer/)
    // A few more PING periods: a timer firing on the dead session must not throw.
    await new Promise(r => setTimeout(r, 1000))
    relay.restore()
    await waitFor('reconnected', async () => (await c.list('/ec/')).revision > 0n || undefined, 5000, 100)
  } finally {
    c.close()
    await relay.close()
  }
})

test('the router learns the members from etcd, switches to them and keeps them on disk for its next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-members-'))
  const path = join(dir, 'etcd-endpoints.json')
  try {
    const members = await etcd.routerClient().members()
    assert.deepEqual(members, [{name: 'test', clientURLs: [etcd.endpoint], isLearner: false}])
    // A dead endpoint first (the first member, gone): the client skips it and the follow drops it.
    const dead = `http://127.0.0.1:${await freePort()}`
    assert.deepEqual(startEndpoints([dead], path), [dead])
    const c = new EtcdClient({endpoints: [dead, etcd.endpoint], connectTimeoutMs: 500})
    const stop = new AbortController()
    const followed = followMembers(c, silentLog, stop.signal, path, 100)
    await waitFor('the endpoints follow the members', async () => c.endpoints.length === 1 || undefined, 5000, 20)
    // Several rounds of 100 ms: a loop that left an abort listener per round would show them here.
    await new Promise(r => setTimeout(r, 600))
    const listeners = getEventListeners(stop.signal, 'abort').length
    stop.abort()
    await followed
    c.close()
    assert.ok(listeners <= 1, `${listeners} abort listeners after several rounds`)
    assert.deepEqual(c.endpoints, [etcd.endpoint])
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), [etcd.endpoint])
    assert.deepEqual(startEndpoints([dead, etcd.endpoint], path), [etcd.endpoint, dead])
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('voting endpoints: learners and members not started serve no clients', () => {
  assert.deepEqual(votingEndpoints([
    {name: 'a', clientURLs: ['https://198.18.0.21:2379'], isLearner: false},
    {name: 'b', clientURLs: ['https://198.18.0.22:2379'], isLearner: true},
    {name: '', clientURLs: [], isLearner: false},
  ]), ['https://198.18.0.21:2379'])
})
