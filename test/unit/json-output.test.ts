import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {MachineRecord, MachineStatus} from '../../core/model.js'
import {configJson, dnsAddJson, dnsRmJson, ipJson, machineJson, machinesJson, powerJson, removedJson, snapshotJson, statusJson, upgradeJson, urlJson, versionJson} from '../../src/cli/json.js'

const ROOT = join(fileURLToPath(import.meta.url), '../../../..')

const record: MachineRecord = {
  name: 'web1', driver: 'generic', driverData: {ip: '198.18.0.11'}, addresses: {public: '198.18.0.11'}, dockerUrl: 'tcp://198.18.0.11:2376',
  sshUser: 'root', sshPort: 22, labels: {role: 'web'}, engine: {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []},
  certFingerprint: 'ab', caFingerprint: 'cd', hostKey: 'ssh-ed25519 AAAA', state: 'ready', createdAt: '2026-12-02T10:00:00Z', createdBy: 'me@here',
}

test('machineJson: the fields a script needs, none of the secrets; absent values are null', () => {
  assert.deepEqual(machineJson(record), {
    name: 'web1', driver: 'generic', state: 'ready', url: 'tcp://198.18.0.11:2376', ip: '198.18.0.11', privateIp: null,
    sshUser: 'root', sshPort: 22, labels: {role: 'web'}, swarm: null, certFingerprint: 'ab', caFingerprint: 'cd',
  })
  const worker = machineJson({...record, addresses: {public: '198.18.0.11', private: '10.0.0.2'}, swarm: {role: 'worker', master: 'm1', nodeId: 'x'}})
  assert.deepEqual([worker.privateIp, worker.swarm], ['10.0.0.2', {role: 'worker', master: 'm1'}])
  assert.deepEqual(machinesJson([record]).machines.map(m => m.name), ['web1'])
  assert.ok(!('driverData' in machineJson(record)) && !('hostKey' in machineJson(record)))
})

test('status, ip, url, config, version, rm: one fixed shape each', () => {
  const s: MachineStatus = {name: 'web1', active: false, driver: 'generic', state: 'Running', url: 'tcp://198.18.0.11:2376', swarm: '', docker: 'v26.1.5', errors: ''}
  assert.deepEqual(statusJson(s), {name: 'web1', state: 'Running', url: 'tcp://198.18.0.11:2376', docker: 'v26.1.5', error: null})
  assert.deepEqual(statusJson({...s, state: 'Stopped', url: '', docker: 'Unknown', errors: 'Docker: timeout'}),
    {name: 'web1', state: 'Stopped', url: null, docker: null, error: 'Docker: timeout'})
  assert.deepEqual(ipJson([{name: 'a', ip: '198.18.0.11'}]), {machines: [{name: 'a', ip: '198.18.0.11'}]})
  assert.deepEqual(urlJson(record), {name: 'web1', url: 'tcp://198.18.0.11:2376'})
  assert.deepEqual(configJson('web1', record.dockerUrl, {ca: '/s/ca.pem', cert: '/s/cert.pem', key: '/s/key.pem'}),
    {name: 'web1', host: 'tcp://198.18.0.11:2376', tlsverify: true, tlscacert: '/s/ca.pem', tlscert: '/s/cert.pem', tlskey: '/s/key.pem'})
  assert.deepEqual(Object.keys(versionJson('0.1.0')), ['cluster', 'node', 'platform', 'machine'])
  assert.equal(versionJson('0.1.0').machine, null)
  assert.deepEqual(versionJson('0.1.0', {name: 'web1', docker: '26.1.5'}).machine, {name: 'web1', docker: '26.1.5'})
  assert.deepEqual(removedJson(['a', 'b']), {removed: ['a', 'b']})
})

test('power, kv snapshot, dns add/rm', () => {
  assert.deepEqual(powerJson('restart', [{name: 'a'}, {name: 'b', newAddress: '198.18.0.30'}]),
    {action: 'restart', machines: [{name: 'a', addressChanged: null}, {name: 'b', addressChanged: '198.18.0.30'}]})
  assert.deepEqual(snapshotJson({file: '/b/x.db', bytes: 20480}), {file: '/b/x.db', bytes: 20480, revision: null})
  assert.deepEqual(dnsAddJson({name: 'db', ip: '198.18.0.50'}), {name: 'db', ip: '198.18.0.50'})
  assert.deepEqual(dnsRmJson('db', undefined, 2), {name: 'db', ip: null, removed: 2})
})

test('every command with --json has its schema in docs/json.md, and the doc names no command without it', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
  const withJson = Object.entries(manifest.commands).filter(([, c]) => 'json' in c.flags).map(([id]) => `cluster ${id.replaceAll(':', ' ')}`).sort()
  const doc = readFileSync(join(ROOT, 'docs/json.md'), 'utf8')
  const documented = [...doc.matchAll(/^## (.*)$/gm)].flatMap(m => [...m[1].matchAll(/`(cluster [^`]+)`/g)].map(c => c[1])).sort()
  assert.deepEqual(documented, withJson)
  for (const id of ['create', 'rm', 'status', 'ip', 'url', 'config', 'version', 'kill', 'stop', 'start', 'restart', 'provision', 'regenerate-certs', 'kv:snapshot', 'dns:add', 'dns:rm']) {
    assert.ok('json' in manifest.commands[id].flags, `${id} has --json`)
  }
})

test('upgrade: engine and router before/after per machine, every key present', () => {
  const router = {version: '0.1.0', hash: 'a'.repeat(64)}
  const out = upgradeJson([{
    name: 'web1',
    engine: {before: '26.1.5', after: '26.1.5', changed: false, packages: [{name: 'docker.io', before: '26.1.5+dfsg1-9', after: '26.1.5+dfsg1-9'}], note: null},
    router: {before: null, after: router, changed: true, unitChanged: true, restarted: true},
  }])
  assert.deepEqual(out, {machines: [{
    name: 'web1',
    engine: {before: '26.1.5', after: '26.1.5', changed: false, packages: [{name: 'docker.io', before: '26.1.5+dfsg1-9', after: '26.1.5+dfsg1-9'}], note: null},
    router: {before: null, after: router, changed: true, unitChanged: true, restarted: true},
  }]})
})
