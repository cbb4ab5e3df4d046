/** PeerSet: what the router believes of etcd's peer records (signature, name, caching). */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import nacl from 'tweetnacl'
import {PeerSet} from '../../router/peers.js'
import {signPeer, type PeerRecord} from '../../src/membership.js'

const pair = nacl.sign.keyPair()
const publicKey = Buffer.from(pair.publicKey).toString('base64')

function record(name: string, n: number): PeerRecord {
  return {name, subnet: `198.19.${n}.0/24`, publicKey: Buffer.alloc(32, n).toString('base64'),
    endpoints: {public: `198.18.0.${n}`}, backend: 'wireguard', issuedAt: '2026-11-23T15:00:00.000Z'}
}

function quietLog() {
  const lines: string[] = []
  return {lines, log: {info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m)}}
}

test('signed records are believed, forged and misnamed ones ignored with a log line', () => {
  const {lines, log} = quietLog()
  const set = new PeerSet(publicKey, log)
  assert.equal(set.put('host2', JSON.stringify(signPeer(record('host2', 2), pair.secretKey))), true)
  const forged = {record: JSON.stringify(record('evil', 9)), signature: Buffer.alloc(64).toString('base64')}
  assert.equal(set.put('evil', JSON.stringify(forged)), false)
  assert.equal(set.put('junk', '{not json'), false)
  assert.equal(set.put('host3', JSON.stringify(signPeer(record('host4', 4), pair.secretKey))), false)
  assert.deepEqual(set.records().map(r => r.name), ['host2'])
  assert.equal(lines.length, 3)
  assert.match(lines.join('\n'), /evil: signature does not match/)
  assert.match(lines.join('\n'), /junk: not JSON/)
  assert.match(lines.join('\n'), /host3: it is signed for "host4"/)
})

test('a forged value over a good record drops the peer; the same value twice is no change', () => {
  const {log} = quietLog()
  const set = new PeerSet(publicKey, log)
  const good = JSON.stringify(signPeer(record('host2', 2), pair.secretKey))
  set.put('host2', good)
  assert.equal(set.put('host2', good), false)
  assert.equal(set.put('host2', '{"record":"{}","signature":"x"}'), true)
  assert.deepEqual(set.records(), [])
  assert.equal(set.delete('host2'), false, 'deleting an ignored record changes nothing believed')
})

test('a fresh listing replaces everything, keeping what did not change', () => {
  const {log} = quietLog()
  const set = new PeerSet(publicKey, log)
  const raw = (n: number) => JSON.stringify(signPeer(record(`host${n}`, n), pair.secretKey))
  set.put('host2', raw(2))
  set.put('host3', raw(3))
  assert.equal(set.replace(new Map([['host2', raw(2)], ['host3', raw(3)]])), false)
  assert.equal(set.replace(new Map([['host3', raw(3)], ['host4', raw(4)]])), true)
  assert.deepEqual(set.records().map(r => r.name).sort(), ['host3', 'host4'])
})
