/** PeerSet: what the router believes of etcd's peer records (signature, name, caching). */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import nacl from 'tweetnacl'
import {PeerSet, ownRecordReplaced} from '../../router/peers.js'
import type {PeerRecord} from '../../core/membership.js'
import {signPeer, signRevocation} from '../../src/signing.js'
import {verifyRevocation, type Revocation} from '../../core/membership.js'
import {NewestLog, RevocationLog} from '../../router/revocations.js'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

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

const revocationOf = (name: string, before: string) => verifyRevocation(signRevocation(name, new Date(before), pair.secretKey), publicKey) as Revocation

test('a revocation drops the believed record and voids replays of it; a record issued later is believed', () => {
  const {lines, log} = quietLog()
  const set = new PeerSet(publicKey, log)
  const old = JSON.stringify(signPeer(record('host2', 2), pair.secretKey)) // issued 15:00
  set.put('host2', old)
  set.put('host3', JSON.stringify(signPeer(record('host3', 3), pair.secretKey)))
  assert.equal(set.revoke(revocationOf('host2', '2026-11-23T15:30:00.000Z')), true, 'the believed host2 is dropped')
  assert.deepEqual(set.records().map(r => r.name), ['host3'])
  set.delete('host2')
  assert.equal(set.put('host2', old), false, 'the replayed old record changes nothing')
  assert.match(lines.join('\n'), /ignoring peer record host2: issued 2026-11-23T15:00:00.000Z, revoked by `cluster rm` up to 2026-11-23T15:30:00.000Z/)
  assert.equal(set.revoke(revocationOf('host2', '2026-11-23T15:10:00.000Z')), false, 'an older revocation changes nothing')
  const reborn = JSON.stringify(signPeer({...record('host2', 5), issuedAt: '2026-11-23T15:30:00.001Z'}, pair.secretKey))
  assert.equal(set.put('host2', reborn), true, 'the same name, created again after the rm')
  assert.deepEqual(set.records().map(r => r.name).sort(), ['host2', 'host3'])
})

test('RevocationLog keeps what it saw on disk (0600): deleting it from etcd or restarting revokes nothing back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'revocations-'))
  const path = join(dir, 'state', 'revocations.json')
  try {
    const {lines, log} = quietLog()
    const first = new RevocationLog(path, publicKey, log)
    assert.deepEqual(first.load(), [])
    const raw = JSON.stringify(signRevocation('host2', new Date('2026-11-23T15:30:00.000Z'), pair.secretKey))
    assert.equal(first.add('/c/revoked/host2', raw)?.name, 'host2')
    assert.equal(first.add('/c/revoked/host2', raw), undefined, 'the same one twice is nothing new')
    assert.equal(first.add('/c/revoked/evil', JSON.stringify(signRevocation('evil', new Date(), nacl.sign.keyPair().secretKey))), undefined)
    assert.equal(first.add('/c/revoked/junk', '{nope'), undefined)
    assert.match(lines.join('\n'), /ignoring revocation \/c\/revoked\/evil: signature does not match/)
    assert.equal(statSync(path).mode & 0o777, 0o600)

    // A restart: the disk holds host2's; a forged entry slipped into the file is still refused.
    const saved = JSON.parse(readFileSync(path, 'utf8')) as unknown[]
    writeFileSync(path, JSON.stringify([...saved, {record: JSON.stringify({kind: 'revocation', name: 'host3', before: new Date().toISOString()}), signature: Buffer.alloc(64).toString('base64')}]))
    const fromConfig = signRevocation('host4', new Date('2026-11-23T15:00:00.000Z'), pair.secretKey)
    const again = new RevocationLog(path, publicKey, log).load([fromConfig])
    assert.deepEqual(again.map(r => r.name).sort(), ['host2', 'host4'])
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

const at = (name: string, n: number, issuedAt: string) => JSON.stringify(signPeer({...record(name, n), issuedAt}, pair.secretKey))

test('an older record of a live member cannot replace its current one, also after the current one is deleted', () => {
  const {lines, log} = quietLog()
  const set = new PeerSet(publicKey, log)
  assert.equal(set.put('host2', at('host2', 2, '2026-11-23T15:00:00.000Z')), true)
  assert.equal(set.put('host2', at('host2', 7, '2026-11-23T16:00:00.000Z')), true, 'a re-provisioned host: newer record, believed')
  assert.deepEqual(set.records().map(r => r.publicKey), [Buffer.alloc(32, 7).toString('base64')])
  assert.equal(set.put('host2', at('host2', 2, '2026-11-23T15:00:00.000Z')), true, 'the replay drops the believed record')
  assert.deepEqual(set.records(), [])
  assert.match(lines.join('\n'), /ignoring peer record host2: issued 2026-11-23T15:00:00\.000Z, older than its record issued 2026-11-23T16:00:00\.000Z already seen/)
  set.delete('host2')
  assert.equal(set.put('host2', at('host2', 2, '2026-11-23T15:00:00.000Z')), false, 'deleted, then replayed: still refused')
  assert.equal(set.put('host2', at('host2', 7, '2026-11-23T16:00:00.000Z')), true, 'the current record comes back')
})

test('NewestLog keeps the newest issuedAt per name on disk: a restarted router refuses the older record; the config seeds a new router', () => {
  const dir = mkdtempSync(join(tmpdir(), 'newest-'))
  const path = join(dir, 'state', 'newest.json')
  try {
    const {log} = quietLog()
    const first = new NewestLog(path, log).load()
    const set = new PeerSet(publicKey, log, first)
    set.put('host2', at('host2', 7, '2026-11-23T16:00:00.000Z'))
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {host2: '2026-11-23T16:00:00.000Z'})
    const restarted = new PeerSet(publicKey, log, new NewestLog(path, log).load())
    assert.equal(restarted.put('host2', at('host2', 2, '2026-11-23T15:00:00.000Z')), false)
    // A router that never saw host2 (new host), told by the CLI what it knew.
    const fresh = new PeerSet(publicKey, log, new NewestLog(join(dir, 'other.json'), log).load({host2: '2026-11-23T16:00:00.000Z', bad: 'not a date'}))
    assert.equal(fresh.put('host2', at('host2', 2, '2026-11-23T15:00:00.000Z')), false)
    assert.equal(fresh.put('host2', at('host2', 7, '2026-11-23T16:00:00.000Z')), true)
    // Garbage on disk is ignored, not fatal.
    writeFileSync(path, '[1,2')
    assert.equal(new NewestLog(path, log).load().get('host2'), undefined)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('a revocation is spent once a record of its name issued after it is believed, and not taken back from etcd after that', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spent-'))
  try {
    const {log} = quietLog()
    const newest = new NewestLog(join(dir, 'newest.json'), log).load()
    const revocations = new RevocationLog(join(dir, 'revocations.json'), publicKey, log, newest)
    const set = new PeerSet(publicKey, log, newest, (name, issuedAt) => revocations.spent(name, issuedAt))
    const raw = JSON.stringify(signRevocation('host2', new Date('2026-11-23T15:30:00.000Z'), pair.secretKey))
    set.revoke(revocations.add('/c/revoked/host2', raw)!)
    assert.equal(set.put('host2', at('host2', 2, '2026-11-23T15:00:00.000Z')), false, 'revoked')
    assert.equal(set.put('host2', at('host2', 5, '2026-11-23T15:30:00.001Z')), true, 'created again')
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'revocations.json'), 'utf8')), [], 'spent: gone from disk')
    assert.equal(revocations.add('/c/revoked/host2', raw), undefined, 'etcd still holding it adds nothing')
    assert.equal(set.put('host2', at('host2', 2, '2026-11-23T15:00:00.000Z')), true, 'the old record replayed: dropped')
    assert.deepEqual(set.records(), [], 'and the newest rule still refuses it')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('ownRecordReplaced: a router writes its own record back over an older, forged, misnamed or junk one, never over a newer valid one', () => {
  const self = record('host1', 1)
  const announced = JSON.stringify(signPeer(self, pair.secretKey))
  const at = (iso: string) => JSON.stringify(signPeer({...self, issuedAt: iso}, pair.secretKey))
  assert.equal(ownRecordReplaced(announced, announced, self, publicKey), undefined)
  assert.match(ownRecordReplaced(at('2026-11-23T14:00:00.000Z'), announced, self, publicKey)!, /^issued 2026-11-23T14:00:00\.000Z, not after this router's 2026-11-23T15:00:00\.000Z$/)
  // The same date, another key: a replay of the same moment is not newer either.
  assert.ok(ownRecordReplaced(JSON.stringify(signPeer({...self, publicKey: Buffer.alloc(32, 9).toString('base64')}, pair.secretKey)), announced, self, publicKey))
  // A re-provision on its way: newer and validly signed, left alone.
  assert.equal(ownRecordReplaced(at('2026-11-23T16:00:00.000Z'), announced, self, publicKey), undefined)
  const stranger = nacl.sign.keyPair()
  assert.match(ownRecordReplaced(JSON.stringify(signPeer({...self, issuedAt: '2030-01-01T00:00:00.000Z'}, stranger.secretKey)), announced, self, publicKey)!, /does not match/)
  assert.equal(ownRecordReplaced('{oops', announced, self, publicKey), 'not JSON')
  assert.match(ownRecordReplaced(JSON.stringify(signPeer({...record('host2', 2), issuedAt: '2030-01-01T00:00:00.000Z'}, pair.secretKey)), announced, self, publicKey)!, /^signed for "host2"$/)
})
