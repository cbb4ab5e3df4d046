import {test} from 'node:test'
import assert from 'node:assert/strict'
import {X509Certificate, createPublicKey} from 'node:crypto'
import {createServer, connect} from 'node:tls'
import {mkdtempSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {AddressInfo} from 'node:net'
import {createCa, createClientCert, issueServerCert, generateRsaKey, certFingerprint, certSans} from '../../src/tls/certs.js'
import {loadOrCreateClusterCerts, certPaths} from '../../src/tls/cluster-certs.js'
import {LocalStore} from '../../src/store/local.js'

const ca = createCa()
const client = createClientCert(ca)
const hostKey = generateRsaKey()
const serverPem = issueServerCert(ca, hostKey.publicKeyPem, 'node1', ['198.18.0.11', 'node1', 'localhost', '127.0.0.1', 'node1', ' '])

test('server certificate: signed by the CA, every address in the SANs once, for the host\'s own key', () => {
  const cert = new X509Certificate(serverPem)
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey))
  assert.deepEqual(certSans(serverPem), ['198.18.0.11', 'node1', 'localhost', '127.0.0.1'])
  assert.ok(cert.checkIP('198.18.0.11'))
  assert.equal(cert.checkIP('198.18.0.12'), undefined)
  assert.equal(cert.publicKey.export({type: 'spki', format: 'pem'}), createPublicKey(hostKey.publicKeyPem).export({type: 'spki', format: 'pem'}))
  assert.match(cert.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/) // serverAuth
})

test('client certificate has clientAuth and the CA is a CA', () => {
  assert.deepEqual(new X509Certificate(client.certPem).keyUsage, ['1.3.6.1.5.5.7.3.2'])
  assert.equal(new X509Certificate(ca.certPem).ca, true)
  assert.equal(new X509Certificate(client.certPem).ca, false)
})

test('fingerprint is the SHA-256 of the DER, as openssl and node compute it', () => {
  const expected = new X509Certificate(serverPem).fingerprint256.replaceAll(':', '').toLowerCase()
  assert.equal(certFingerprint(serverPem), expected)
})

test('mutual TLS handshake on loopback: accepted with our client cert, refused without one', async () => {
  const server = createServer({key: hostKey.privateKeyPem, cert: serverPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true},
    s => s.end('hello'))
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect({host: '127.0.0.1', port, ca: ca.certPem, cert: client.certPem, key: client.keyPem}, () => {
        let data = ''
        s.on('data', d => (data += d)).on('end', () => resolve(data))
      })
      s.on('error', reject)
    })
    assert.equal(reply, 'hello')
    const refused = await new Promise<boolean>(resolve => {
      const s = connect({host: '127.0.0.1', port, ca: ca.certPem}, () => s.once('data', () => resolve(false)))
      s.on('error', () => resolve(true))
      s.on('end', () => resolve(true))
    })
    assert.equal(refused, true)
  } finally {
    server.close()
  }
})

test('cluster certs are made once, keys 0600, and reused', () => {
  const store = new LocalStore(mkdtempSync(join(tmpdir(), 'cluster-tls-')))
  const first = loadOrCreateClusterCerts(store)
  const second = loadOrCreateClusterCerts(store)
  assert.equal(first.ca.certPem, second.ca.certPem)
  assert.equal(first.client.certPem, second.client.certPem)
  const p = certPaths(store)
  assert.equal(statSync(p.caKey).mode & 0o777, 0o600)
  assert.equal(statSync(p.key).mode & 0o777, 0o600)
  assert.equal(statSync(store.certsDir).mode & 0o777, 0o700)
})
