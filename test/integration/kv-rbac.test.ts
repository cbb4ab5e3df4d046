/**
 * The etcd side of `cluster kv` against a real etcd on loopback with mutual TLS (certificates
 * from our own CA code, one CA for clients and one for members, as src/tls/authorities.ts
 * makes them): RBAC for root and one host, status and snapshot through openKv.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {EtcdPermissionDeniedError} from 'etcd3'
import {createCa, createClientCert, generateRsaKey, issuePeerCert} from '../../src/tls/certs.js'
import {keys, clusterPrefix} from '../../core/keys.js'
import {openKv} from '../../src/kv/client.js'
import {LocalStore} from '../../src/store/local.js'
import {enableRbac, ensureHostAccess, removeHostAccess} from '../../src/kv/bootstrap/rbac.js'
import {hostRoleName} from '../../src/kv/bootstrap/plan.js'
import {kvStatus} from '../../src/kv/bootstrap/status.js'
import {saveSnapshot} from '../../src/kv/bootstrap/snapshot.js'
import {addMember} from '../../src/kv/bootstrap/membership.js'
import type {Progress} from '../../src/cli/progress.js'
import {ClusterError} from '../../core/errors.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {needs} from '../support/needs.js'

needs('etcd')

const dir = mkdtempSync(join(tmpdir(), 'kv-rbac-'))
const store = new LocalStore(join(dir, 'store'))
const layout = keys(clusterPrefix('rbac'))
const clientCa = createCa('test etcd client CA', {clientAuth: true})
const ca = createCa('test etcd member CA', {serverAuth: true, clientAuth: true})
const file = (name: string, pem: string) => {
  const p = join(dir, name)
  writeFileSync(p, pem, {mode: 0o600})
  return p
}
const root = createClientCert(clientCa, 'root')
const host = createClientCert(clientCa, hostRoleName('n1'))
let endpoint = ''
let etcd: TestEtcd
const clientOptions = (cert?: {certPem: string; keyPem: string}) => ({dialTimeout: 3000, credentials: {
  rootCertificate: Buffer.from(ca.certPem), certChain: cert && Buffer.from(cert.certPem), privateKey: cert && Buffer.from(cert.keyPem),
}})
const client = (cert?: {certPem: string; keyPem: string}) => etcd.client(clientOptions(cert))
const rootOpts = () => ({endpoints: [endpoint], cacert: file('ca.pem', ca.certPem), cert: file('root.pem', root.certPem), key: file('root-key.pem', root.keyPem), clusterName: 'rbac'})

before(async () => {
  const server = generateRsaKey()
  const tls = {
    caFile: file('ca.pem', ca.certPem),
    clientCaFile: file('client-ca.pem', clientCa.certPem),
    certFile: file('server.pem', issuePeerCert(ca, server.publicKeyPem, 'etcd-member:kv-test', ['127.0.0.1', 'localhost'])),
    keyFile: file('server-key.pem', server.privateKeyPem),
  }
  etcd = await startEtcd({name: 'kv-test', tls, clientOptions: clientOptions(root)})
  endpoint = etcd.endpoint
  const probe = client(root)
  await probe.put(layout.settings).value('{}')
  await probe.put(layout.machine('n2')).value('{}')
})

after(async () => {
  await etcd?.stop()
  rmSync(dir, {recursive: true, force: true})
})

test('root enables RBAC; a host role reads the cluster and writes only its own records', async () => {
  const r = client(root)
  await enableRbac(r)
  await ensureHostAccess(r, layout, 'n1')
  await ensureHostAccess(r, layout, 'n1') // again: idempotent
  const h = client(host)
  assert.equal(await h.get(layout.settings).string(), '{}')
  await h.put(layout.peer('n1')).value('me')
  await h.put(layout.dnsRecord('n1', 'c1')).value('x')
  await h.delete().key(layout.dnsRecord('n1', 'c1'))
  for (const key of [layout.peer('n2'), layout.dnsRecord('n2', 'c1'), layout.dnsRecord('n10', 'c1'), layout.machine('n2'), layout.settings, layout.subnet('198.19.9.0/24')]) {
    await assert.rejects(h.put(key).value('forged').exec(), EtcdPermissionDeniedError, key)
  }
  await assert.rejects(h.delete().key(layout.machine('n2')).exec(), EtcdPermissionDeniedError)
  // Outside the cluster's prefix the host reads nothing.
  await assert.rejects(h.get('/ready').string(), EtcdPermissionDeniedError)
  // A certificate from the CA whose CN names no user opens nothing.
  await assert.rejects(client(createClientCert(clientCa, 'stranger')).get(layout.settings).string())
  // A certificate of the member CA, even one named root, is refused at the TLS handshake.
  await assert.rejects(client(createClientCert(ca, 'root')).get(layout.settings).string(), /handshake|certificate|alert|unavailable|No connection/i)
  // No client certificate: refused at the TLS handshake.
  await assert.rejects(client().get(layout.settings).string())
})

test('removeHostAccess takes the host user away', async () => {
  const r = client(root)
  await removeHostAccess(r, 'n1')
  await removeHostAccess(r, 'n1') // already gone: fine
  await assert.rejects(client(host).put(layout.peer('n1')).value('me').exec())
  await ensureHostAccess(r, layout, 'n1')
  await client(host).put(layout.peer('n1')).value('back')
})

test('kv status and kv snapshot through the CLI root credentials', async () => {
  const s = await kvStatus(rootOpts(), store)
  assert.equal(s.members.length, 1)
  assert.equal(s.members[0].name, 'kv-test')
  assert.ok(s.members[0].leader && s.members[0].healthy && (s.members[0].dbSize ?? 0) > 0)
  assert.equal(s.leader, 'kv-test')
  assert.ok(s.healthy)
  const kv = await openKv(rootOpts(), store)
  try {
    const out = join(dir, 'snap.db')
    const r = await saveSnapshot(kv, out)
    assert.ok(r.bytes > 4096)
    assert.equal(statSync(out).size, r.bytes)
    assert.equal(statSync(out).mode & 0o777, 0o600)
  } finally {
    kv.close()
  }
})

test('TLS files from the local config apply to https endpoints only; DEP0123 stays off stderr', async () => {
  const cfgStore = new LocalStore(join(dir, 'cfg-store'))
  const {cacert, cert, key} = rootOpts()
  cfgStore.writeConfig({clusterName: 'rbac', kv: {endpoints: [endpoint], cacert, cert, key}})
  const fromConfig = await openKv({}, cfgStore)
  const plainFromFlag = await openKv({endpoints: ['http://127.0.0.1:1']}, cfgStore)
  try {
    assert.deepEqual(fromConfig.tls, {cacert, cert, key})
    assert.equal(plainFromFlag.tls, undefined)
    assert.equal(await fromConfig.client.get(layout.settings).string(), '{}')
    const warnings: string[] = []
    const record = (w: Error) => warnings.push((w as Error & {code?: string}).code ?? w.message)
    process.on('warning', record)
    process.emitWarning('Setting the TLS ServerName to an IP address…', 'DeprecationWarning', 'DEP0123')
    process.emitWarning('another', 'DeprecationWarning', 'DEP9999')
    await new Promise(r => setImmediate(r))
    process.off('warning', record)
    assert.deepEqual(warnings, ['DEP9999'])
  } finally {
    fromConfig.close()
    plainFromFlag.close()
  }
})

test('kv add of a machine whose etcd record differs from this store\'s pinned copy is refused before any SSH; etcd keeps its members', async () => {
  const pinned = {name: 'n3', driver: 'generic', driverData: {ip: '198.18.0.13', sshUser: 'root', sshPort: 22}, addresses: {public: '198.18.0.13'},
    dockerUrl: 'tcp://198.18.0.13:2376', sshUser: 'root', sshPort: 22, labels: {}, engine: {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []},
    certFingerprint: '', caFingerprint: '', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinnedPinnedPinnedPinnedPinnedPinnedPinnedPi', state: 'ready' as const, createdAt: new Date().toISOString(), createdBy: 'test'}
  store.ensure()
  store.claimMachineDir('n3')
  store.saveMachine({record: pinned})
  const kv = await openKv(rootOpts(), store)
  try {
    // Someone with etcd write access points n3 at another host: its address would become the member's peer URL.
    await client(root).put(layout.machine('n3')).value(JSON.stringify({...pinned, addresses: {public: '198.18.0.11'}, driverData: {...pinned.driverData, ip: '198.18.0.11'}}))
    const before = (await kv.client.cluster.memberList({})).members.length
    const signal = new AbortController().signal
    await assert.rejects(addMember(kv, 'n3', {store, progress: {step: () => undefined} as unknown as Progress, signal}),
      (e: unknown) => e instanceof ClusterError && /^the etcd record of n3 says address 198\.18\.0\.11, this store pinned 198\.18\.0\.13: refusing to connect/.test(e.oneLine()))
    assert.equal((await kv.client.cluster.memberList({})).members.length, before)
  } finally {
    kv.close()
  }
})
