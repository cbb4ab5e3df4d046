/** Records read from etcd: one schema per kind (core/records.ts), and SSH trusting only the pinned copy (src/lifecycle/trust.ts). */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {checkMachineRecord, checkSettings, checkSubnetLease, isChecked, machineSignatureProblem} from '../../core/records.js'
import type {MachineRecord} from '../../core/model.js'
import {loadOrCreateSigningKey, signMachineRecord} from '../../src/signing.js'
import {LocalStore} from '../../src/store/local.js'
import {pinnedDifference, trustedRecord} from '../../src/lifecycle/trust.js'
import {oneLine} from '../support/errors.js'

const RECORD: MachineRecord = {
  name: 'web1', driver: 'generic', driverData: {ip: '198.18.0.11', sshPort: 22}, addresses: {public: '198.18.0.11'},
  dockerUrl: 'tcp://198.18.0.11:2376', sshUser: 'root', sshPort: 22, labels: {zone: 'a'},
  engine: {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []},
  certFingerprint: 'ab', caFingerprint: 'cd', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
  state: 'ready', createdAt: '2026-12-02T10:00:00.000Z', createdBy: 'me@here',
}

test('machine records: valid ones pass; garbage, foreign JSON, a wrong name or a bad field fail with the reason', () => {
  assert.deepEqual(checkMachineRecord(JSON.stringify(RECORD), 'web1'), {ok: RECORD})
  const why = (raw: string, name = 'web1') => {
    const c = checkMachineRecord(raw, name)
    assert.ok(!isChecked(c), raw)
    return c.error
  }
  assert.equal(why('{not json'), 'not valid JSON')
  assert.equal(why('"a string"'), 'is not an object')
  assert.equal(why('[1,2]'), 'is not an object')
  assert.equal(why(JSON.stringify({apiVersion: 'v1', kind: 'Pod'})), 'field name is not a string')
  assert.equal(why(JSON.stringify(RECORD), 'web2'), 'it names machine "web1"')
  assert.equal(why(JSON.stringify({...RECORD, sshPort: '22'})), 'field sshPort is not an integer in 0..65535')
  assert.equal(why(JSON.stringify({...RECORD, addresses: {public: 7}})), 'field addresses.public is not a string')
  assert.equal(why(JSON.stringify({...RECORD, engine: {...RECORD.engine, env: [1]}})), 'field engine.env is not a list of strings')
  assert.equal(why(JSON.stringify({...RECORD, state: 'gone'})), 'field state is not one of creating, ready, error, removing')
  assert.equal(why(JSON.stringify({...RECORD, swarm: {role: 'king'}})), 'field swarm.role is not one of master, manager, worker')
})

test('settings and subnet leases are checked the same way', () => {
  const settings = {name: 'c', range: '198.19.0.0/16', subnetSize: 24, backend: 'wireguard', domain: 'cluster.internal', createdAt: '2026-12-02T10:00:00Z'}
  assert.ok(isChecked(checkSettings(JSON.stringify(settings))))
  assert.deepEqual(checkSettings(JSON.stringify({...settings, range: '10.0.0.0/99'})), {error: 'field range is not an IPv4 CIDR'})
  assert.deepEqual(checkSettings(JSON.stringify({...settings, backend: 'ipsec'})), {error: 'field backend is not one of wireguard, vxlan, host-gw'})
  assert.deepEqual(checkSettings('garbage'), {error: 'not valid JSON'})
  assert.deepEqual(checkSubnetLease('198.19.4.0/24', 'web1'), {ok: {cidr: '198.19.4.0/24', owner: 'web1'}})
  assert.ok(!isChecked(checkSubnetLease('garbage/', 'web1')))
  assert.ok(!isChecked(checkSubnetLease('198.19.4.0/24', '{"json":1}')))
})

test('a signed machine record verifies; any changed field or another key does not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'records-'))
  try {
    const key = loadOrCreateSigningKey(dir)
    const signed = signMachineRecord(RECORD, key.secretKey)
    // Through etcd: stringified and parsed back.
    const read = JSON.parse(JSON.stringify(signed)) as MachineRecord
    assert.equal(machineSignatureProblem(read, key.publicKey), undefined)
    assert.equal(machineSignatureProblem({...read, addresses: {public: '198.18.0.12'}}, key.publicKey), 'signature does not match the cluster signing key')
    assert.equal(machineSignatureProblem(RECORD, key.publicKey), 'it carries no signature')
    const other = loadOrCreateSigningKey(join(dir, 'other'))
    assert.equal(machineSignatureProblem(read, other.publicKey), 'signature does not match the cluster signing key')
    assert.equal(signMachineRecord(read, key.secretKey).signature, signed.signature, 're-signing replaces the old signature')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('SSH trusts the pinned copy: a changed address, host key or port in etcd is refused in one line naming the difference', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trust-'))
  try {
    const store = new LocalStore(dir)
    store.saveMachine({record: RECORD})
    assert.equal(pinnedDifference(RECORD, {...RECORD, state: 'error', swarm: {role: 'worker'}}), undefined, 'state and swarm are not pinned')
    assert.equal(trustedRecord(store, 'web1', {...RECORD, state: 'error'}).record.state, 'error')
    const alone = trustedRecord(store, 'web1', undefined)
    assert.equal(alone.record, alone.local!.record, 'no etcd record: the pinned copy')
    assert.throws(() => trustedRecord(store, 'web1', {...RECORD, addresses: {public: '198.18.0.12'}}),
      oneLine(/^the etcd record of web1 says address 198\.18\.0\.12, this store pinned 198\.18\.0\.11: refusing to connect: someone changed the record in etcd; if this store's copy is right, put it back with `cluster provision --restore-record web1`$/))
    assert.throws(() => trustedRecord(store, 'web1', {...RECORD, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'}),
      oneLine(/^the etcd record of web1 says host key ssh-ed25519 SHA256:\S+, this store pinned ssh-ed25519 SHA256:\S+: refusing to connect/))
    assert.throws(() => trustedRecord(store, 'web1', {...RECORD, sshPort: 2222}), oneLine(/says SSH port 2222, this store pinned 22:/))
    assert.throws(() => trustedRecord(store, 'web1', {...RECORD, driverData: {ip: '198.18.0.12', sshPort: 22}}), oneLine(/says driver data \{"ip":"198\.18\.0\.12","sshPort":22\}, this store pinned/))
    assert.throws(() => trustedRecord(store, 'nope', undefined), oneLine(/^machine "nope" does not exist/))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('a store that has not met the machine trusts etcd\'s record only when signed by its cluster key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trust-other-'))
  try {
    const mine = join(dir, 'mine')
    const key = loadOrCreateSigningKey(mine)
    const signed = signMachineRecord(RECORD, key.secretKey)
    const teammate = new LocalStore(join(dir, 'teammate'))
    assert.throws(() => trustedRecord(teammate, 'web1', signed),
      oneLine(/^the etcd record of web1 cannot be trusted for SSH: this store \(.*\) has no cluster signing key to check it with: run the command from the store that created web1, or copy that store's signing\.key here$/))
    cpSync(join(mine, 'signing.key'), join(teammate.root, 'signing.key'))
    assert.equal(trustedRecord(teammate, 'web1', signed).record, signed)
    assert.throws(() => trustedRecord(teammate, 'web1', {...signed, addresses: {public: '198.18.0.12'}}), oneLine(/cannot be trusted for SSH: signature does not match/))
    assert.throws(() => trustedRecord(teammate, 'web1', RECORD), oneLine(/cannot be trusted for SSH: it carries no signature/))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
