/** The reconcile plan: desired peers (etcd) against current (datapath). Pure. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {plan, desiredPeers, isEmpty, type AppliedPeer} from '../../router/plan.js'
import type {PeerRecord} from '../../core/membership.js'
import {numberToIp} from '../../core/ipv4.js'

const RANGE = '198.19.0.0/16'

function key(n: number): string {
  const b = Buffer.alloc(32)
  b.writeUInt32BE(n + 1)
  return b.toString('base64')
}

function peer(n: number, over: Partial<PeerRecord> = {}): PeerRecord {
  return {
    name: `host${n}`, subnet: `198.19.${n}.0/24`, publicKey: key(n),
    endpoints: {public: `198.18.0.${10 + n}`}, backend: 'wireguard',
    issuedAt: `2026-11-23T15:00:${String(n % 60).padStart(2, '0')}.000Z`, ...over,
  }
}

const self = peer(1)

function applied(r: PeerRecord): AppliedPeer {
  return {name: r.name, subnet: r.subnet, endpoint: r.endpoints.public, publicKey: r.publicKey}
}

test('from nothing: every other peer is added, self is skipped', () => {
  const a = plan([self, peer(2), peer(3)], {peers: []}, self, RANGE)
  assert.deepEqual(a.add.map(p => p.name).sort(), ['host2', 'host3'])
  assert.deepEqual(a.add.find(p => p.name === 'host2'), applied(peer(2)))
  assert.deepEqual([a.update, a.remove, a.rejected], [[], [], []])
})

test('unchanged peers are kept, so a second plan is empty', () => {
  const records = [self, peer(2), peer(3)]
  const first = plan(records, {peers: []}, self, RANGE)
  const second = plan(records, {peers: [...first.add]}, self, RANGE)
  assert.ok(isEmpty(second))
  assert.equal(second.keep.length, 2)
})

test('a moved endpoint or a new key is an update carrying the old state; a gone peer is removed', () => {
  const current = [applied(peer(2)), applied(peer(3)), applied(peer(4))]
  const moved = peer(2, {endpoints: {public: '198.18.0.99'}})
  const rekeyed = peer(3, {publicKey: key(333)})
  const a = plan([self, moved, rekeyed], {peers: current}, self, RANGE)
  assert.deepEqual(a.update.map(u => [u.from.endpoint, u.to.endpoint]), [['198.18.0.12', '198.18.0.99'], ['198.18.0.13', '198.18.0.13']])
  assert.equal(a.update[1]!.from.publicKey, key(3))
  assert.equal(a.update[1]!.to.publicKey, key(333))
  assert.deepEqual(a.remove.map(p => p.name), ['host4'])
  assert.deepEqual(a.add, [])
})

test('state read back from the kernel (no names, no keys for vxlan/host-gw) matches by subnet', () => {
  const fromKernel: AppliedPeer[] = [{name: '', subnet: '198.19.2.0/24', endpoint: '198.18.0.12'}, {name: '', subnet: '198.19.9.0/24', endpoint: '198.18.0.19'}]
  const a = plan([self, peer(2, {backend: 'wireguard'})], {peers: fromKernel}, self, RANGE)
  assert.deepEqual(a.keep.map(p => p.name), ['host2'])
  assert.deepEqual(a.remove.map(p => p.subnet), ['198.19.9.0/24'])
})

test('records that cannot be peers are rejected with a reason', () => {
  const bad = [
    peer(2, {backend: 'vxlan'}),
    peer(3, {subnet: '198.20.3.0/24'}),
    peer(4, {subnet: '198.19.1.128/25'}),
    peer(5, {subnet: '198.19.5.1/24'}),
    peer(6, {publicKey: self.publicKey}),
  ]
  const a = plan([self, ...bad, peer(7)], {peers: []}, self, RANGE)
  assert.deepEqual(a.add.map(p => p.name), ['host7'])
  const reasons = Object.fromEntries(a.rejected.map(r => [r.name, r.reason]))
  assert.match(reasons.host2!, /backend vxlan/)
  assert.match(reasons.host3!, /outside the overlay range/)
  assert.match(reasons.host4!, /overlaps this host's/)
  assert.match(reasons.host5!, /not a network address/)
  assert.match(reasons.host6!, /this host's own/)
})

test('conflicting records: the older wins on every router, whatever the order', () => {
  const older = peer(2, {issuedAt: '2026-01-01T00:00:00.000Z'})
  const sameSubnet = peer(3, {subnet: older.subnet, issuedAt: '2026-06-01T00:00:00.000Z'})
  const wider = peer(4, {subnet: '198.19.0.0/22', issuedAt: '2026-07-01T00:00:00.000Z'})
  const sameKey = peer(5, {publicKey: older.publicKey, issuedAt: '2026-08-01T00:00:00.000Z'})
  const other = peer(6)
  const third = peer(3, {name: 'host30', subnet: '198.19.30.0/24', issuedAt: '2026-01-02T00:00:00.000Z'})
  const records = [older, sameSubnet, wider, sameKey, other, third]
  for (const order of [records, [...records].reverse()]) {
    const {peers, rejected} = desiredPeers(order, peer(100), RANGE)
    assert.deepEqual(peers.map(p => p.name).sort(), ['host2', 'host30', 'host6'])
    assert.deepEqual(rejected.map(r => r.name).sort(), ['host3', 'host4', 'host5'])
  }
  // An older wide record beats the younger narrow ones it covers.
  const wideFirst = peer(4, {subnet: '198.19.0.0/22', issuedAt: '2025-01-01T00:00:00.000Z'})
  const {peers} = desiredPeers([peer(2), peer(3), wideFirst], peer(100), RANGE)
  assert.deepEqual(peers.map(p => p.name), ['host4'])
})

test('endpoints are chosen per pair (private network shared, else public)', () => {
  const me = peer(1, {endpoints: {public: '198.18.0.11', private: '198.18.1.11', privateNet: '198.18.1.0/24'}})
  const near = peer(2, {endpoints: {public: '198.18.0.12', private: '198.18.1.12', privateNet: '198.18.1.0/24'}})
  const far = peer(3)
  const a = plan([near, far], {peers: []}, me, RANGE)
  assert.deepEqual(a.add.map(p => p.endpoint), ['198.18.1.12', '198.18.0.13'])
})

test('10,000 synthetic peers plan in under a second and under 100 MB', () => {
  const records: PeerRecord[] = []
  const base = 198 * 2 ** 24 + 0 * 2 ** 16
  for (let i = 0; i < 10_000; i++) {
    records.push(peer(i + 2, {name: `n${i}`, subnet: `${numberToIp(base + (i + 2) * 256)}/24`, endpoints: {public: `198.18.${(i >> 8) & 255}.${i & 255}`}}))
  }
  const me = peer(1, {subnet: `${numberToIp(base + 256)}/24`})
  const range = '198.0.0.0/8'
  const rssBefore = process.memoryUsage().rss
  let t = performance.now()
  const first = plan(records, {peers: []}, me, range)
  const fromScratch = performance.now() - t
  assert.equal(first.add.length, 10_000)
  // Steady state: everything in place, one peer moved, one gone.
  const current = first.add
  const changed = records.slice(1)
  changed[0] = {...changed[0]!, endpoints: {public: '198.18.200.200'}}
  t = performance.now()
  const second = plan(changed, {peers: current}, me, range)
  const steady = performance.now() - t
  assert.equal(second.update.length, 1)
  assert.equal(second.remove.length, 1)
  assert.equal(second.keep.length, 9_998)
  const rss = process.memoryUsage().rss
  console.log(`plan 10k peers: ${fromScratch.toFixed(1)} ms from scratch, ${steady.toFixed(1)} ms steady; rss ${(rss / 2 ** 20).toFixed(0)} MB (+${((rss - rssBefore) / 2 ** 20).toFixed(0)} MB)`)
  assert.ok(fromScratch < 1000, `${fromScratch} ms`)
  assert.ok(steady < 1000, `${steady} ms`)
  assert.ok(rss < 100 * 2 ** 20, `rss ${rss}`)
})
