/**
 * allocateSubnet / releaseSubnet against a real etcd started for this test on loopback
 * (Debian package etcd-server), with its own data folder and free ports.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {allocateSubnet, releaseSubnet} from '../../src/ipam.js'
import {keys, subnetFromKey} from '../../src/kv/keys.js'
import {ClusterError} from '../../src/errors.js'
import type {ClusterSettings} from '../../src/model.js'

const dir = mkdtempSync(join(tmpdir(), 'cluster-etcd-'))
let etcd: ChildProcess
let endpoint: string
const clients: Etcd3[] = []

function client(): Etcd3 {
  const c = new Etcd3({hosts: endpoint})
  clients.push(c)
  return c
}

function settings(range: string, subnetSize = 24): ClusterSettings {
  return {name: 't', range, subnetSize, backend: 'wireguard', domain: 'cluster.internal', createdAt: new Date().toISOString()}
}

before(async () => {
  // Ports of our own, away from a system etcd's 2379/2380.
  const [clientPort, peerPort] = [23790, 23800]
  endpoint = `http://127.0.0.1:${clientPort}`
  etcd = spawn('etcd', ['--data-dir', join(dir, 'data'), '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `default=http://127.0.0.1:${peerPort}`], {stdio: 'ignore'})
  const c = client()
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      await c.put('/ready').value('1')
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`etcd did not start: ${(error as Error).message}`)
      await new Promise(r => setTimeout(r, 200))
    }
  }
})

after(() => {
  for (const c of clients) c.close()
  etcd?.kill('SIGTERM')
  rmSync(dir, {recursive: true, force: true})
})

test('a host gets a subnet of the range and the same one again', async () => {
  const layout = keys('/cluster/stable')
  const c = client()
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
  const got = await Promise.all(owners.map(o => allocateSubnet(client(), layout, s, o)))
  assert.equal(new Set(got).size, 20, got.join(' '))
  for (const cidr of got) assert.match(cidr, /^198\.19\.(3[2-9]|[4-5]\d|6[0-3])\.0\/24$/)
  const stored = await client().getAll().prefix(layout.subnets).strings()
  assert.equal(Object.keys(stored).length, 20)
  const byOwner = new Map(Object.entries(stored).map(([k, owner]) => [owner, subnetFromKey(k)]))
  owners.forEach((o, i) => assert.equal(byOwner.get(o), got[i]))
})

test('a full range fails with one clear line and writes nothing', async () => {
  const layout = keys('/cluster/full')
  const c = client()
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
  const c = client()
  const s = settings('198.19.68.0/23')
  const a = await allocateSubnet(c, layout, s, 'a')
  const b = await allocateSubnet(c, layout, s, 'b')
  await assert.rejects(allocateSubnet(c, layout, s, 'c'), /is full/)
  assert.deepEqual(await releaseSubnet(c, layout, 'a'), [a])
  assert.deepEqual(await releaseSubnet(c, layout, 'a'), [], 'releasing twice is a no-op')
  assert.equal(await c.get(layout.subnet(b)).string(), 'b')
  assert.equal(await allocateSubnet(c, layout, s, 'c'), a)
})
