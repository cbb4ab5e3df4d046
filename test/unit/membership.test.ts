/** Signed peer records: signing, verification against tampering and garbage, endpoint choice. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, statSync, writeFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import nacl from 'tweetnacl'
import {chooseEndpoint, isPeerError, isRevoked, verifyPeer, verifyRevocation, type PeerRecord} from '../../core/membership.js'
import {loadOrCreateSigningKey, loadSigningKey, signPeer, signRevocation} from '../../src/signing.js'
import {ClusterError} from '../../core/errors.js'

const pair = nacl.sign.keyPair()
const publicKey = Buffer.from(pair.publicKey).toString('base64')
const wgKey = Buffer.alloc(32, 7).toString('base64')

function record(over: Partial<PeerRecord> = {}): PeerRecord {
  return {
    name: 'host1', subnet: '198.19.1.0/24', publicKey: wgKey,
    endpoints: {public: '198.18.0.11'}, backend: 'wireguard', issuedAt: '2026-11-23T15:00:00.000Z', ...over,
  }
}

function errorOf(v: object): string {
  assert.ok(isPeerError(v), `expected an error, got ${JSON.stringify(v)}`)
  return v.error
}

test('a signed record verifies and comes back equal', () => {
  const r = record({endpoints: {public: '198.18.0.11', private: '198.18.1.11', privateNet: '198.18.1.0/24'}, advertise: '198.18.0.99'})
  assert.deepEqual(verifyPeer(signPeer(r, pair.secretKey), publicKey), r)
})

test('a tampered record, a tampered signature or another key is refused', () => {
  const signed = signPeer(record(), pair.secretKey)
  const tampered = {...signed, record: signed.record.replace('198.19.1.0/24', '198.19.2.0/24')}
  assert.match(errorOf(verifyPeer(tampered, publicKey)), /does not match/)
  const sig = Buffer.from(signed.signature, 'base64')
  sig[0] ^= 1
  assert.match(errorOf(verifyPeer({...signed, signature: sig.toString('base64')}, publicKey)), /does not match/)
  const other = nacl.sign.keyPair()
  assert.match(errorOf(verifyPeer(signPeer(record(), other.secretKey), publicKey)), /does not match/)
})

test('garbage never throws and says what is wrong', () => {
  for (const junk of [null, 42, 'x', [], {}, {record: 1, signature: 'a'}, {record: '{}'}]) {
    assert.match(errorOf(verifyPeer(junk, publicKey)), /not a signed record/)
  }
  assert.match(errorOf(verifyPeer({record: '{}', signature: 'AAAA'}, publicKey)), /64 bytes/)
  assert.match(errorOf(verifyPeer(signPeer(record(), pair.secretKey), 'AAAA')), /32-byte/)
})

test('a validly signed record with bad fields is refused field by field', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{name: '../etc'}, /name/],
    [{subnet: '198.19.1.0'}, /subnet/],
    [{subnet: '198.19.1.0/33'}, /subnet/],
    [{publicKey: 'short'}, /publicKey/],
    [{backend: 'ipsec'}, /backend/],
    [{issuedAt: 'yesterday'}, /issuedAt/],
    [{advertise: 'example.com'}, /advertise/],
    [{endpoints: {public: 'host.example'}}, /endpoints.public/],
    [{endpoints: {public: '198.18.0.11', private: '::1'}}, /endpoints.private/],
    [{endpoints: {public: '198.18.0.11', privateNet: '198.18.1.0'}}, /privateNet/],
    [{endpoints: 'x'}, /endpoints.public/],
  ]
  for (const [over, problem] of cases) {
    const bad = {...record(), ...over} as PeerRecord
    assert.match(errorOf(verifyPeer(signPeer(bad, pair.secretKey), publicKey)), problem, JSON.stringify(over))
  }
  const text = 'not json'
  const signature = Buffer.from(nacl.sign.detached(Buffer.from(text), pair.secretKey)).toString('base64')
  assert.match(errorOf(verifyPeer({record: text, signature}, publicKey)), /not JSON/)
})

test('the signing key is made once, 0600, and reloaded; a damaged one is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-signing-'))
  try {
    const made = loadOrCreateSigningKey(dir)
    assert.equal(statSync(join(dir, 'signing.key')).mode & 0o777, 0o600)
    const again = loadOrCreateSigningKey(dir)
    assert.equal(again.publicKey, made.publicKey)
    assert.deepEqual(verifyPeer(signPeer(record(), again.secretKey), made.publicKey), record())
    assert.notEqual(readFileSync(join(dir, 'signing.key'), 'utf8').trim(), made.publicKey)
    writeFileSync(join(dir, 'signing.key'), 'AAAA\n')
    assert.throws(() => loadOrCreateSigningKey(dir), (e: unknown) => e instanceof ClusterError && /damaged/.test(e.message))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('endpoint choice: shared private network, else public, advertise wins', () => {
  const a = record({name: 'a', endpoints: {public: '198.18.0.11', private: '198.18.1.11', privateNet: '198.18.1.0/24'}})
  const b = record({name: 'b', endpoints: {public: '198.18.0.12', private: '198.18.1.12', privateNet: '198.18.1.0/24'}})
  const c = record({name: 'c', endpoints: {public: '198.18.0.13', private: '198.18.2.13', privateNet: '198.18.2.0/24'}})
  const d = record({name: 'd', endpoints: {public: '198.18.0.14'}})
  assert.equal(chooseEndpoint(a, b), '198.18.1.12')
  assert.equal(chooseEndpoint(b, a), '198.18.1.11')
  assert.equal(chooseEndpoint(a, c), '198.18.0.13', 'different private networks')
  assert.equal(chooseEndpoint(c, a), '198.18.0.11')
  assert.equal(chooseEndpoint(a, d), '198.18.0.14', 'peer has no private address')
  assert.equal(chooseEndpoint(d, a), '198.18.0.11', 'self has no private address')
  assert.equal(chooseEndpoint(a, {...b, advertise: '198.18.0.99'}), '198.18.0.99')
  assert.equal(chooseEndpoint(d, {...c, advertise: '198.18.0.98'}), '198.18.0.98')
})

test('a revocation verifies; it can never pass for a peer record, nor a record for a revocation', () => {
  const revocation = signRevocation('host1', new Date('2026-11-23T16:00:00.000Z'), pair.secretKey)
  assert.deepEqual(verifyRevocation(revocation, publicKey), {kind: 'revocation', name: 'host1', before: '2026-11-23T16:00:00.000Z'})
  assert.match(errorOf(verifyPeer(revocation, publicKey)), /name|subnet/)
  assert.match(errorOf(verifyRevocation(signPeer(record(), pair.secretKey), publicKey)), /not a revocation/)
  const other = nacl.sign.keyPair()
  assert.match(errorOf(verifyRevocation(signRevocation('host1', new Date(), other.secretKey), publicKey)), /does not match/)
  const tampered = {...revocation, record: revocation.record.replace('2026-11-23T16', '2027-11-23T16')}
  assert.match(errorOf(verifyRevocation(tampered, publicKey)), /does not match/)
})

test('a revocation voids the name\'s records issued up to its date, not later ones nor other names', () => {
  const revocation = {kind: 'revocation' as const, name: 'host1', before: '2026-11-23T15:00:00.000Z'}
  assert.equal(isRevoked(record(), revocation), true, 'issued at the very date')
  assert.equal(isRevoked(record({issuedAt: '2026-11-23T14:00:00.000Z'}), revocation), true)
  assert.equal(isRevoked(record({issuedAt: '2026-11-23T15:00:00.001Z'}), revocation), false)
  assert.equal(isRevoked(record({name: 'host2'}), revocation), false)
  assert.equal(isRevoked(record(), undefined), false)
})

test('loadSigningKey reads the store\'s key and makes none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'signing-'))
  try {
    assert.equal(loadSigningKey(dir), undefined)
    const made = loadOrCreateSigningKey(dir)
    assert.equal(loadSigningKey(dir)?.publicKey, made.publicKey)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
