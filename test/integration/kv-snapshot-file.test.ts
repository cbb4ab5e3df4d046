/** A real snapshot from etcd's maintenance API (`cluster kv snapshot`) is what `kv restore` takes. */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {openKv} from '../../src/kv/client.js'
import {LocalStore} from '../../src/store/local.js'
import {saveSnapshot} from '../../src/kv/bootstrap/snapshot.js'
import {checkSnapshotFile} from '../../src/kv/bootstrap/snapshot-file.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {needs} from '../support/needs.js'

needs('etcd')

let etcd: TestEtcd
const dir = mkdtempSync(join(tmpdir(), 'kv-snapshot-file-'))
const snapshot = join(dir, 'backup.db')

before(async () => {
  etcd = await startEtcd()
  await etcd.client().put('/cluster/x/settings').value('{}')
  const kv = await openKv({endpoints: [etcd.endpoint]}, new LocalStore(join(dir, 'store')))
  try {
    await saveSnapshot(kv, snapshot)
  } finally {
    kv.close()
  }
})

after(async () => {
  await etcd.stop()
  rmSync(dir, {recursive: true, force: true})
})

test('etcd\'s snapshot passes the check; one changed byte of it does not', async () => {
  const data = readFileSync(snapshot)
  const s = await checkSnapshotFile(snapshot)
  assert.equal(s.bytes, data.length)
  assert.equal(s.bytes % 512, 32)
  assert.equal(s.sha256, data.subarray(data.length - 32).toString('hex'))
  data[data.length - 100] ^= 1
  writeFileSync(snapshot, data)
  await assert.rejects(checkSnapshotFile(snapshot), /its integrity hash does not match: the file is damaged/)
})
