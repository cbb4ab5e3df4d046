import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer} from 'node:https'
import {mkdtempSync, statSync, existsSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {AddressInfo} from 'node:net'
import type {TLSSocket} from 'node:tls'
import {pingEngine} from '../../src/docker.js'
import {LocalStore} from '../../src/store/local.js'
import {loadOrCreateAuthorities} from '../../src/tls/authorities.js'
import {generateRsaKey, issueServerCert} from '../../src/tls/certs.js'

test('pingEngine: version and swarm role from /_ping over mutual TLS; a kept TLS ticket (0600) makes every later check resume', async () => {
  const store = new LocalStore(mkdtempSync(join(tmpdir(), 'cluster-ping-')))
  const {dockerServer, dockerClient} = loadOrCreateAuthorities(store)
  const key = generateRsaKey()
  const resumed: boolean[] = []
  const server = createServer({key: key.privateKeyPem, cert: issueServerCert(dockerServer, key.publicKeyPem, 'engine', ['127.0.0.1']), ca: dockerClient.certPem, requestCert: true, rejectUnauthorized: true},
    (req, res) => {
      resumed.push((req.socket as TLSSocket).isSessionReused())
      res.writeHead(req.url === '/_ping' ? 200 : 404, {Server: 'Docker/26.1.5+dfsg1 (linux)', Swarm: 'active/manager'}).end('OK')
    })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const url = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    assert.deepEqual(await pingEngine(url, store, 5000), {version: 'v26.1.5+dfsg1', swarm: 'active/manager'})
    const ticket = join(store.root, 'cache', 'tls-sessions', url.slice(6).replace(':', '_'))
    for (let i = 0; i < 50 && !existsSync(ticket); i++) await new Promise(r => setTimeout(r, 20))
    assert.equal(statSync(ticket).mode & 0o777, 0o600)
    const kept = readFileSync(ticket)
    await pingEngine(url, store, 5000)
    await pingEngine(url, store, 5000)
    assert.deepEqual(resumed, [false, true, true])
    // The full handshake's ticket serves again and again (a resumed check keeps it, src/docker.ts).
    assert.deepEqual(readFileSync(ticket), kept)
  } finally {
    server.close()
  }
})

test('pingEngine: a refused connection is an error, not a hang', async () => {
  const store = new LocalStore(mkdtempSync(join(tmpdir(), 'cluster-ping-')))
  loadOrCreateAuthorities(store)
  await assert.rejects(pingEngine('tcp://127.0.0.1:9', store, 2000), /ECONNREFUSED/)
})
