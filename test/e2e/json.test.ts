/**
 * `--json` against the lab: the documents the real commands print (docs/json.md) carry
 * the values the machine really has.
 */
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {statSync} from 'node:fs'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {HOSTS, ETCD_ENDPOINT, SSH_KEY} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'

const CLUSTER = `e2e-json-${process.pid}`
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const json = async (args: string[]) => JSON.parse(await cliOk(env, [...args, '--json']))

after(async () => {
  await cli(env, ['rm', '-f', '-y', 'j1'])
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  await etcd.delete().prefix(`/cluster/${CLUSTER}/`).exec()
  etcd.close()
})

test('create, url, ip, config, status, version, provision, rm: one JSON document each', async () => {
  const created = await json(['create', '-d', 'generic', '--generic-ip-address', HOSTS.host1, '--generic-ssh-key', SSH_KEY,
    '--engine-label', 'role=web', '--overlay-range', '198.19.0.0/16', 'j1'])
  assert.deepEqual({...created, certFingerprint: 'x', caFingerprint: 'x'}, {
    name: 'j1', driver: 'generic', state: 'ready', url: `tcp://${HOSTS.host1}:2376`, ip: HOSTS.host1, privateIp: null,
    sshUser: 'root', sshPort: 22, labels: {role: 'web'}, swarm: null, certFingerprint: 'x', caFingerprint: 'x',
  })
  assert.match(created.certFingerprint, /^[0-9a-f]{64}$/)
  assert.deepEqual(await json(['url', 'j1']), {name: 'j1', url: `tcp://${HOSTS.host1}:2376`})
  assert.deepEqual(await json(['ip', 'j1']), {machines: [{name: 'j1', ip: HOSTS.host1}]})
  const config = await json(['config', 'j1'])
  assert.equal(config.host, `tcp://${HOSTS.host1}:2376`)
  assert.equal(statSync(config.tlskey).mode & 0o777, 0o600)
  const status = await json(['status', 'j1'])
  assert.deepEqual({...status, docker: 'x'}, {name: 'j1', state: 'Running', url: `tcp://${HOSTS.host1}:2376`, docker: 'x', error: null})
  assert.match(status.docker, /^v?\d+\.\d+/)
  const version = await json(['version'])
  assert.deepEqual(Object.keys(version), ['cluster', 'node', 'platform', 'machine'])
  const provisioned = await json(['provision', 'j1'])
  assert.deepEqual(provisioned.machines.map((m: {name: string; state: string}) => [m.name, m.state]), [['j1', 'ready']])
  assert.deepEqual(await json(['rm', '-y', 'j1']), {removed: ['j1']})
})

test('dns add/rm and kv snapshot', async () => {
  await cliOk(env, ['init', '--overlay-range', '198.19.0.0/16'])
  assert.deepEqual(await json(['dns', 'add', 'DB', '198.18.0.50']), {name: 'db', ip: '198.18.0.50'})
  assert.deepEqual(await json(['dns', 'rm', 'db']), {name: 'db', ip: null, removed: 1})
  const file = join(env.storage, 'backup.db')
  const snap = await json(['kv', 'snapshot', file])
  assert.equal(snap.file, file)
  assert.equal(snap.bytes, statSync(file).size)
  assert.ok(snap.bytes > 0)
})
