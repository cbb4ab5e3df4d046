import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, statSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {oneLine} from '../support/errors.js'
import {LocalStore, storagePath} from '../../src/store/local.js'
import {writeSecret} from '../../core/files.js'
import {NotFoundError, ClusterError} from '../../core/errors.js'
import type {MachineRecord} from '../../core/model.js'

const record = (name: string) => ({name, driver: 'generic', driverData: {}, addresses: {public: '198.18.0.11'}, dockerUrl: 'tcp://198.18.0.11:2376',
  sshUser: 'root', sshPort: 22, labels: {}, engine: {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []},
  certFingerprint: '', caFingerprint: '', state: 'ready', createdAt: '', createdBy: ''}) as MachineRecord

test('storage path: $CLUSTER_STORAGE_PATH, else ~/.cluster', () => {
  assert.equal(storagePath({CLUSTER_STORAGE_PATH: '/x/y'}), '/x/y')
  assert.match(storagePath({}), /\.cluster$/)
})

test('machines: claim, save, list, get, remove; folders 0700, files 0600', () => {
  const store = new LocalStore(mkdtempSync(join(tmpdir(), 'cluster-store-')))
  store.claimMachineDir('n1')
  assert.throws(() => store.claimMachineDir('n1'), ClusterError)
  store.saveMachine({record: record('n1'), localDriverData: {token: 's'}})
  store.claimMachineDir('n2')
  store.saveMachine({record: record('n2')})
  assert.deepEqual(store.listMachines(), ['n1', 'n2'])
  assert.equal(store.getMachine('n1').localDriverData?.token, 's')
  assert.equal(statSync(store.machineDir('n1')).mode & 0o777, 0o700)
  assert.equal(statSync(join(store.machineDir('n1'), 'machine.json')).mode & 0o777, 0o600)
  store.removeMachine('n1')
  assert.deepEqual(store.listMachines(), ['n2'])
  assert.throws(() => store.getMachine('n1'), NotFoundError)
})

test('writeSecret is atomic and 0600, leaving no temporary file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-secret-'))
  writeSecret(join(dir, 'k'), 'one')
  writeSecret(join(dir, 'k'), 'two')
  assert.deepEqual(readdirSync(dir), ['k'])
  assert.equal(statSync(join(dir, 'k')).mode & 0o777, 0o600)
})

test('config round trip and a damaged config is one clear error', async () => {
  const store = new LocalStore(mkdtempSync(join(tmpdir(), 'cluster-cfg-')))
  assert.deepEqual(store.readConfig(), {})
  store.writeConfig({clusterName: 'c1', kv: {endpoints: ['http://198.18.0.2:2379']}})
  assert.equal(store.readConfig().clusterName, 'c1')
  const {writeFileSync} = await import('node:fs')
  writeFileSync(store.configPath, '{not json')
  assert.throws(() => store.readConfig(), oneLine(/cannot read .*config\.json: the file is damaged/))
})
