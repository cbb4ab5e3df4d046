/** pickSubnet and the subnet arithmetic: pure, no etcd. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {gatewayOf, networkOf, pickSubnet, subnetLayout} from '../../core/subnets.js'
import {InputError} from '../../core/errors.js'

const RANGE = '198.19.0.0/16'

/** A deterministic "random" source cycling through the given values. */
function sequence(...values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]!
}

test('an empty range gives the subnet the random draw points at', () => {
  assert.equal(pickSubnet(RANGE, 24, [], () => 0), '198.19.0.0/24')
  assert.equal(pickSubnet(RANGE, 24, [], () => 0.999999), '198.19.255.0/24')
  assert.equal(pickSubnet(RANGE, 24, [], () => 0.5), '198.19.128.0/24')
})

test('taken subnets are skipped and the draw indexes only free ones', () => {
  const taken = ['198.19.0.0/24', '198.19.1.0/24']
  assert.equal(pickSubnet(RANGE, 24, taken, () => 0), '198.19.2.0/24')
  // 254 free; the last free is .255
  assert.equal(pickSubnet(RANGE, 24, taken, () => 0.9999999), '198.19.255.0/24')
})

test('a full range gives null, one free subnet is found wherever it is', () => {
  const all = Array.from({length: 256}, (_, i) => `198.19.${i}.0/24`)
  assert.equal(pickSubnet(RANGE, 24, all, Math.random), null)
  const allBut77 = all.filter(s => s !== '198.19.77.0/24')
  for (const r of [0, 0.3, 0.99]) assert.equal(pickSubnet(RANGE, 24, allBut77, () => r), '198.19.77.0/24')
})

test('keys outside the range, misaligned or of another size do not count as taken', () => {
  const junk = ['10.0.0.0/24', '198.19.0.128/24', '198.19.0.0/25', 'garbage', '198.20.0.0/24']
  assert.equal(pickSubnet(RANGE, 24, junk, () => 0), '198.19.0.0/24')
  const small = Array.from({length: 4}, (_, i) => `198.19.0.${i * 64}/26`)
  assert.equal(pickSubnet('198.19.0.0/24', 26, small, () => 0), null)
})

test('many draws never return a taken subnet and cover the free ones', () => {
  const taken = Array.from({length: 200}, (_, i) => `198.19.${i}.0/24`)
  const seen = new Set<string>()
  const rand = sequence(...Array.from({length: 1000}, (_, i) => (i * 0.618033) % 1))
  for (let i = 0; i < 1000; i++) {
    const s = pickSubnet(RANGE, 24, taken, rand)!
    assert.ok(!taken.includes(s), `${s} was taken`)
    assert.ok(Number(s.split('.')[2]) >= 200)
    seen.add(s)
  }
  assert.equal(seen.size, 56)
})

test('range and size are checked with a hint', () => {
  assert.throws(() => pickSubnet('198.19.0.0/16', 16, [], Math.random), InputError)
  assert.throws(() => pickSubnet('198.19.0.0/16', 31, [], Math.random),
    (e: unknown) => e instanceof InputError && /does not fit/.test(e.message) && /between \/17 and \/30/.test(e.hint ?? ''))
  assert.throws(() => pickSubnet('not-a-cidr', 24, [], Math.random), /is not a CIDR/)
  assert.throws(() => pickSubnet('fd00::/64', 80, [], Math.random), /not an IPv4 CIDR/)
  assert.throws(() => pickSubnet('198.19.0.1', 24, [], Math.random), /not an IPv4 CIDR/)
  assert.deepEqual(subnetLayout('10.32.0.0/12', 24), {base: 10 * 2 ** 24 + 32 * 2 ** 16, rangeBits: 12, subnetSize: 24, count: 4096})
})

test('gateway and network address of a subnet', () => {
  assert.equal(gatewayOf('198.19.7.0/24'), '198.19.7.1')
  assert.equal(networkOf('198.19.7.0/24'), '198.19.7.0')
  assert.equal(gatewayOf('198.19.7.64/26'), '198.19.7.65')
  assert.equal(networkOf('198.19.255.252/30'), '198.19.255.252')
})
