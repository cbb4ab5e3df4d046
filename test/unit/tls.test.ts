import {test} from 'node:test'
import assert from 'node:assert/strict'
import {X509Certificate, createPublicKey} from 'node:crypto'
import {createServer, connect} from 'node:tls'
import {mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {AddressInfo} from 'node:net'
import {createCa, createClientCert, issueServerCert, issuePeerCert, generateRsaKey, certFingerprint, certSans, type KeyPairPem} from '../../src/tls/certs.js'
import {
  dockerClientCert, etcdRootFiles, issueDockerServerCert, issueEtcdMemberCert, issueRouterEtcdCert, loadOrCreateAuthorities, trustFor,
} from '../../src/tls/authorities.js'
import {certPaths} from '../../src/tls/paths.js'
import {LocalStore} from '../../src/store/local.js'

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const ca = createCa('test CA', {serverAuth: true})
const hostKey = generateRsaKey()
const serverPem = issueServerCert(ca, hostKey.publicKeyPem, 'node1', ['198.18.0.11', 'node1', 'localhost', '127.0.0.1', 'node1', ' '])
const newStore = () => new LocalStore(mkdtempSync(join(tmpdir(), 'cluster-tls-')))

test('server certificate: serverAuth only, signed by the CA, every address in the SANs once, for the host\'s own key', () => {
  const cert = new X509Certificate(serverPem)
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey))
  assert.deepEqual(certSans(serverPem), ['198.18.0.11', 'node1', 'localhost', '127.0.0.1'])
  assert.ok(cert.checkIP('198.18.0.11'))
  assert.equal(cert.checkIP('198.18.0.12'), undefined)
  assert.equal(cert.publicKey.export({type: 'spki', format: 'pem'}), createPublicKey(hostKey.publicKeyPem).export({type: 'spki', format: 'pem'}))
  assert.deepEqual(cert.keyUsage, [SERVER_AUTH])
})

test('client certificates are clientAuth only, peer certificates both; a CA signs leaves only', () => {
  const clientCa = createCa('test client CA', {clientAuth: true})
  assert.deepEqual(new X509Certificate(createClientCert(clientCa, 'c').certPem).keyUsage, [CLIENT_AUTH])
  assert.deepEqual(new X509Certificate(issuePeerCert(ca, hostKey.publicKeyPem, 'p', ['10.0.0.1'])).keyUsage?.sort(), [SERVER_AUTH, CLIENT_AUTH])
  const caCert = new X509Certificate(clientCa.certPem)
  assert.equal(caCert.ca, true)
  assert.deepEqual(caCert.keyUsage, [CLIENT_AUTH])
  assert.equal(new X509Certificate(createClientCert(clientCa, 'c').certPem).ca, false)
})

test('fingerprint is the SHA-256 of the DER, as openssl and node compute it', () => {
  const expected = new X509Certificate(serverPem).fingerprint256.replaceAll(':', '').toLowerCase()
  assert.equal(certFingerprint(serverPem), expected)
})

test('the store makes four distinct CAs and the CLI certificates once, keys 0600, names by purpose', () => {
  const store = newStore()
  const first = loadOrCreateAuthorities(store)
  const second = loadOrCreateAuthorities(store)
  assert.deepEqual(first, second)
  const cas = Object.values(first).map(a => a.certPem)
  assert.equal(new Set(cas).size, 4)
  assert.equal(new Set(cas.map(c => new X509Certificate(c).subject)).size, 4, 'distinct subjects: no chain is built through the wrong CA')
  const p = certPaths(store)
  assert.equal(readFileSync(p.ca, 'utf8'), first.dockerServer.certPem, 'DOCKER_CERT_PATH/ca.pem verifies the engines')
  for (const f of [p.caKey, p.key, join(store.certsDir, 'docker-client-ca-key.pem'), join(store.certsDir, 'etcd-client-ca-key.pem'), join(store.certsDir, 'etcd-member-ca-key.pem')]) {
    assert.equal(statSync(f).mode & 0o777, 0o600, f)
  }
  assert.equal(statSync(store.certsDir).mode & 0o777, 0o700)
  const issuedBy = (pem: string, by: KeyPairPem) => new X509Certificate(pem).checkIssued(new X509Certificate(by.certPem))
  const cli = dockerClientCert(store)
  assert.ok(issuedBy(cli.certPem, first.dockerClient))
  assert.match(new X509Certificate(cli.certPem).subject, /^CN=docker-client:cli$/m)
  const key = generateRsaKey().publicKeyPem
  const server = issueDockerServerCert(store, key, 'web1', ['198.18.0.11'])
  assert.ok(issuedBy(server, first.dockerServer))
  assert.match(new X509Certificate(server).subject, /^CN=docker-server:web1$/m)
  const member = issueEtcdMemberCert(store, key, 'web1', ['198.18.0.11'])
  assert.ok(issuedBy(member, first.etcdMember))
  assert.match(new X509Certificate(member).subject, /^CN=etcd-member:web1$/m)
  const router = issueRouterEtcdCert(store, key, 'web1')
  assert.ok(issuedBy(router, first.etcdClient))
  assert.match(new X509Certificate(router).subject, /^CN=router:web1$/m)
  const root = etcdRootFiles(store)
  assert.equal(root.cacert, join(store.certsDir, 'etcd-member-ca.pem'))
  assert.ok(issuedBy(readFileSync(root.cert, 'utf8'), first.etcdClient))
  assert.match(new X509Certificate(readFileSync(root.cert)).subject, /^CN=root$/m)
  assert.equal(statSync(root.key).mode & 0o777, 0o600)
  assert.deepEqual(trustFor(store), {dockerClients: first.dockerClient.certPem, etcdClients: first.etcdClient.certPem, etcdMembers: first.etcdMember.certPem})
})

test('a store made before the purpose CAs keeps its CA for the Docker servers and moves its client certificate to legacy/', () => {
  const store = newStore()
  store.ensure()
  const old = createCa('cluster CA', {serverAuth: true, clientAuth: true})
  const oldClient = createClientCert(old, 'cluster client')
  const p = certPaths(store)
  writeFileSync(p.ca, old.certPem)
  writeFileSync(p.caKey, old.keyPem, {mode: 0o600})
  writeFileSync(p.cert, oldClient.certPem)
  writeFileSync(p.key, oldClient.keyPem, {mode: 0o600})
  const a = loadOrCreateAuthorities(store)
  assert.equal(a.dockerServer.certPem, old.certPem, 'engines\' certificates and the cluster identity stay valid')
  assert.notEqual(a.dockerClient.certPem, old.certPem)
  assert.equal(readFileSync(join(p.legacy, 'cert.pem'), 'utf8'), oldClient.certPem)
  assert.equal(readFileSync(join(p.legacy, 'ca.pem'), 'utf8'), old.certPem)
  assert.equal(statSync(join(p.legacy, 'key.pem')).mode & 0o777, 0o600)
  assert.ok(new X509Certificate(dockerClientCert(store).certPem).checkIssued(new X509Certificate(a.dockerClient.certPem)))
})

/** Whether a TLS server that trusts `trusted` for clients accepts a connection made with `cred`. */
async function accepts(trusted: string, cred: KeyPairPem | undefined): Promise<boolean> {
  const server = createServer({key: hostKey.privateKeyPem, cert: serverPem, ca: trusted, requestCert: true, rejectUnauthorized: true}, s => s.end('hello'))
  server.on('tlsClientError', () => {})
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  try {
    return await new Promise<boolean>(resolve => {
      const s = connect({host: '127.0.0.1', port, ca: ca.certPem, ...(cred ? {cert: cred.certPem, key: cred.keyPem} : {})})
      let data = ''
      s.on('data', d => (data += d))
      s.on('end', () => resolve(data === 'hello'))
      s.on('error', () => resolve(false))
    })
  } finally {
    server.close()
  }
}

test('handshakes on loopback: a server trusting one purpose CA accepts only that purpose\'s certificates', async () => {
  const store = newStore()
  const trust = trustFor(store)
  const hostCred = (issue: (pub: string) => string): KeyPairPem => {
    const k = generateRsaKey()
    return {certPem: issue(k.publicKeyPem), keyPem: k.privateKeyPem}
  }
  const creds = {
    cli: dockerClientCert(store),
    engine: hostCred(pub => issueDockerServerCert(store, pub, 'web1', ['127.0.0.1'])),
    router: hostCred(pub => issueRouterEtcdCert(store, pub, 'web1')),
    member: hostCred(pub => issueEtcdMemberCert(store, pub, 'web1', ['127.0.0.1'])),
    etcdRoot: {certPem: readFileSync(etcdRootFiles(store).cert, 'utf8'), keyPem: readFileSync(etcdRootFiles(store).key, 'utf8')},
  }
  const opened = async (trusted: string) => {
    const yes: string[] = []
    for (const [name, cred] of Object.entries(creds)) if (await accepts(trusted, cred)) yes.push(name)
    return yes
  }
  assert.deepEqual(await opened(trust.dockerClients), ['cli'], 'dockerd')
  assert.deepEqual(await opened(trust.etcdClients), ['router', 'etcdRoot'], 'etcd :2379')
  assert.deepEqual(await opened(trust.etcdMembers), ['member'], 'etcd :2380')
  assert.equal(await accepts(trust.dockerClients, undefined), false, 'no certificate')
})
