/** The store's memory of revocations and newest records: what a new router is told even after etcd lost it. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import nacl from 'tweetnacl'
import {signRevocation} from '../../src/signing.js'
import {addIssued, addRevocation, loadMembership, saveMembership, type Membership} from '../../src/store/membership.js'

const pair = nacl.sign.keyPair()
const publicKey = Buffer.from(pair.publicKey).toString('base64')
const revoke = (name: string, before: string) => signRevocation(name, new Date(before), pair.secretKey)
const empty = (): Membership => ({revocations: new Map(), newest: new Map()})

test('the latest valid revocation per name is kept; forged ones and ones a newer record already voids are not', () => {
  const m = empty()
  addRevocation(m, revoke('web1', '2026-11-23T15:00:00.000Z'), publicKey)
  addRevocation(m, revoke('web1', '2026-11-23T14:00:00.000Z'), publicKey)
  addRevocation(m, signRevocation('web2', new Date(), nacl.sign.keyPair().secretKey), publicKey)
  addRevocation(m, {record: 'junk', signature: 'x'}, publicKey)
  assert.deepEqual([...m.revocations.keys()], ['web1'])
  assert.equal(m.revocations.get('web1')!.revocation.before, '2026-11-23T15:00:00.000Z')
  addIssued(m, 'web3', '2026-11-23T16:00:00.000Z')
  addRevocation(m, revoke('web3', '2026-11-23T15:00:00.000Z'), publicKey)
  assert.equal(m.revocations.has('web3'), false, 'web3 has a record issued after it: nothing left to void')
})

test('a record issued after a revocation spends it; the newest date per name only rises', () => {
  const m = empty()
  addRevocation(m, revoke('web1', '2026-11-23T15:00:00.000Z'), publicKey)
  addIssued(m, 'web1', '2026-11-23T14:00:00.000Z')
  assert.equal(m.revocations.has('web1'), true, 'an older record spends nothing')
  addIssued(m, 'web1', '2026-11-23T15:00:00.001Z')
  assert.equal(m.revocations.has('web1'), false)
  addIssued(m, 'web1', '2026-11-23T15:00:00.000Z')
  assert.equal(m.newest.get('web1'), '2026-11-23T15:00:00.001Z')
})

test('saved 0600 and read back verified; a forged entry in the file or a damaged file is ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-membership-'))
  try {
    const m = empty()
    addRevocation(m, revoke('web1', '2026-11-23T15:00:00.000Z'), publicKey)
    addIssued(m, 'web2', '2026-11-23T16:00:00.000Z')
    saveMembership(dir, m)
    assert.equal(statSync(join(dir, 'membership.json')).mode & 0o777, 0o600)
    const saved = JSON.parse(readFileSync(join(dir, 'membership.json'), 'utf8')) as {revocations: unknown[]; newest: Record<string, string>}
    saved.revocations.push(signRevocation('web9', new Date(), nacl.sign.keyPair().secretKey))
    saved.newest.bad = 'not a date'
    writeFileSync(join(dir, 'membership.json'), JSON.stringify(saved))
    const back = loadMembership(dir, publicKey)
    assert.deepEqual([...back.revocations.keys()], ['web1'])
    assert.deepEqual(Object.fromEntries(back.newest), {web2: '2026-11-23T16:00:00.000Z'})
    writeFileSync(join(dir, 'membership.json'), '{damaged')
    assert.deepEqual(loadMembership(dir, publicKey), empty())
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
