import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {oneLine} from '../support/errors.js'
import {checkSnapshotFile} from '../../src/kv/bootstrap/snapshot-file.js'
import {previousMembers, restoreScript, retireScript} from '../../src/kv/bootstrap/restore-plan.js'
import {restoreKv} from '../../src/kv/bootstrap/restore.js'
import {LocalStore} from '../../src/store/local.js'
import {silentProgress} from '../../src/cli/progress.js'
import {InputError, NotFoundError} from '../../core/errors.js'
import type {MachineRecord} from '../../core/model.js'

const dir = mkdtempSync(join(tmpdir(), 'kv-restore-'))
after(() => rmSync(dir, {recursive: true, force: true}))
const snapshot = join(dir, 'backup.db')

/**
 * The shape of what etcd's maintenance API streams: two bbolt pages whose meta header holds
 * the magic, version 2 and the page size, then the SHA-256 of them all. (A real snapshot is
 * checked in test/integration/kv-snapshot-file.test.ts.)
 */
function fakeSnapshot(): Buffer {
  const db = Buffer.alloc(2 * 4096)
  for (const page of [0, 4096]) {
    db.writeUInt16LE(0x04, page + 8)
    db.writeUInt32LE(0xed0cdaed, page + 16)
    db.writeUInt32LE(2, page + 20)
    db.writeUInt32LE(4096, page + 24)
  }
  return Buffer.concat([db, createHash('sha256').update(db).digest()])
}
writeFileSync(snapshot, fakeSnapshot())

test('a snapshot passes: bbolt header and SHA-256 trailer', async () => {
  const s = await checkSnapshotFile(snapshot)
  const data = readFileSync(snapshot)
  assert.equal(s.bytes, data.length)
  assert.equal(s.bytes % 512, 32)
  assert.equal(s.sha256, data.subarray(data.length - 32).toString('hex'))
})

test('not a snapshot, damaged, truncated or missing: one line naming the file, exit 2', async () => {
  const data = readFileSync(snapshot)
  const cases: [string, Buffer | undefined, RegExp][] = [
    ['text', Buffer.from('hello, not a database\n'), /is not an etcd snapshot \(no etcd database header\): name a file written by `cluster kv snapshot`$/],
    ['changed byte', Buffer.concat([data.subarray(0, 5000), Buffer.from([data[5000] ^ 1]), data.subarray(5001)]), /its integrity hash does not match: the file is damaged/],
    ['truncated', data.subarray(0, data.length - 100), /no integrity hash at its end: truncated, or a raw database file/],
    ['raw database (no hash)', data.subarray(0, data.length - 32), /no integrity hash at its end/],
    ['empty', Buffer.alloc(0), /no etcd database header/],
  ]
  for (const [what, content, message] of cases) {
    const file = join(dir, what)
    writeFileSync(file, content!)
    await assert.rejects(checkSnapshotFile(file), (e: Error) => e instanceof InputError && e.exitCode === 2 && oneLine(message)(e), what)
  }
  await assert.rejects(checkSnapshotFile(join(dir, 'missing')), oneLine(/^cannot read .*missing: ENOENT/))
})

test('kv restore checks the file before anything else: a bad file fails before the machine is even looked up', async () => {
  const store = new LocalStore(join(dir, 'empty-store'))
  const bad = join(dir, 'text')
  writeFileSync(bad, 'not a snapshot')
  await assert.rejects(restoreKv({file: bad, on: 'nowhere', kv: {endpoints: ['https://198.18.0.250:2379']}}, {store, progress: silentProgress}), InputError)
  await assert.rejects(restoreKv({file: snapshot, on: 'nowhere', kv: {endpoints: ['https://198.18.0.250:2379']}}, {store, progress: silentProgress}), NotFoundError)
  assert.equal(existsSync(join(store.root, 'certs')), false)
})

const record = (name: string, pub: string, priv?: string) => ({name, addresses: {public: pub, ...(priv ? {private: priv} : {})}}) as MachineRecord

test('the former members are the machines whose client URL the store used', () => {
  const records = [record('m1', '198.18.0.21'), record('m2', '198.19.0.9', '198.18.0.22'), record('m3', '198.19.0.10', '198.18.0.23'), record('m4', '198.18.0.24')]
  // m2 is listed by its private address, m3 by its public one: either names the member.
  const members = previousMembers(['https://198.18.0.21:2379', 'https://198.18.0.22:2379', 'https://198.19.0.10:2379', 'https://198.18.0.99:2379'], records)
  assert.deepEqual(members, [{name: 'm1', address: '198.18.0.21'}, {name: 'm2', address: '198.18.0.22', publicAddress: '198.19.0.9'},
    {name: 'm3', address: '198.18.0.23', publicAddress: '198.19.0.10'}])
})

test('the restore script makes a one-member cluster with a new token and moves the old data aside', () => {
  const s = restoreScript({name: 'm1', address: '198.18.0.21'}, 'c-restored-ab', '/var/lib/cluster-etcd.restore.db', '20261202T110000')
  assert.match(s, /^set -e\n/)
  assert.match(s, /snapshot restore \/var\/lib\/cluster-etcd\.restore\.db --name m1 --initial-cluster m1=https:\/\/198\.18\.0\.21:2380 --initial-advertise-peer-urls https:\/\/198\.18\.0\.21:2380 --initial-cluster-token c-restored-ab --data-dir \/var\/lib\/cluster-etcd\.restored/)
  assert.match(s, /mv \/var\/lib\/cluster-etcd \/var\/lib\/cluster-etcd\.before-restore-20261202T110000/)
  // Restore first, then move: a restore that fails leaves the old data where it was.
  assert.ok(s.indexOf('snapshot restore') < s.indexOf('mv /var/lib/cluster-etcd /'))
  assert.doesNotMatch(s, /rm -rf \/var\/lib\/cluster-etcd(\s|$)/)
  assert.match(retireScript('T'), /systemctl disable --now cluster-etcd\.service[^\n]*\nif \[ -d \/var\/lib\/cluster-etcd \]; then mv \/var\/lib\/cluster-etcd \/var\/lib\/cluster-etcd\.before-restore-T; fi$/)
})
