import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createCa, createClientCert} from '../../src/tls/certs.js'
import {activeEngine, contextArgs, contextPlan, currentContextName, readContext, removeOwnContext, unsetContext, useContext} from '../../src/docker-context.js'

// The real docker CLI, on a docker config folder of this test's own (never the user's).
const dir = mkdtempSync(join(tmpdir(), 'docker-context-'))
const saved = process.env.DOCKER_CONFIG
before(() => { process.env.DOCKER_CONFIG = dir })
after(() => {
  if (saved === undefined) delete process.env.DOCKER_CONFIG
  else process.env.DOCKER_CONFIG = saved
  rmSync(dir, {recursive: true, force: true})
})
const tls = {ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem')}
const env = () => ({DOCKER_CONFIG: dir}) as NodeJS.ProcessEnv

test('contextPlan: --docker value with the TLS files; CSV quoting for paths with commas or quotes', () => {
  const plan = contextPlan('web1', 'tcp://198.18.0.11:2376', tls)
  assert.deepEqual(contextArgs(plan, false), ['context', 'create', 'web1', '--description', 'cluster machine web1', '--docker',
    `host=tcp://198.18.0.11:2376,ca=${tls.ca},cert=${tls.cert},key=${tls.key}`])
  assert.equal(contextArgs(plan, true)[1], 'update')
  const odd = contextPlan('w', 'tcp://a:2376', {ca: '/a,b/ca.pem', cert: '/"q"/c.pem', key: '/k'})
  assert.equal(odd.docker, 'host=tcp://a:2376,"ca=/a,b/ca.pem","cert=/""q""/c.pem",key=/k')
  assert.equal(contextPlan('w2', 'tcp://m:2376', tls, 'm1').description, 'cluster swarm via m1')
})

test('use creates, then updates, the context and makes it current; the docker CLI reads what we wrote', async () => {
  const ca = createCa('test CA', {clientAuth: true})
  const client = createClientCert(ca, 'test client')
  writeFileSync(tls.ca, ca.certPem)
  writeFileSync(tls.cert, client.certPem)
  writeFileSync(tls.key, client.keyPem, {mode: 0o600})
  await useContext(contextPlan('web1', 'tcp://198.18.0.11:2376', tls))
  assert.equal(currentContextName(env()), 'web1')
  assert.deepEqual(readContext('web1', env()), {name: 'web1', host: 'tcp://198.18.0.11:2376', description: 'cluster machine web1', swarm: false, ours: true})
  await useContext(contextPlan('web1', 'tcp://198.18.0.12:2376', tls, 'mgr'))
  assert.deepEqual(activeEngine(env()), {url: 'tcp://198.18.0.12:2376', swarm: true})
  const inspected = JSON.parse(execFileSync('docker', ['context', 'inspect', 'web1'], {encoding: 'utf8', env: {...process.env, DOCKER_CONFIG: dir}}))
  assert.equal(inspected[0].Endpoints.docker.Host, 'tcp://198.18.0.12:2376')
  assert.equal(inspected[0].TLSMaterial.docker.length, 3)
})

test('which engine is active: DOCKER_HOST, then DOCKER_CONTEXT, then config.json; default means none', async () => {
  assert.deepEqual(activeEngine({...env(), DOCKER_HOST: 'tcp://198.18.0.13:2376'}), {url: 'tcp://198.18.0.13:2376', swarm: false})
  assert.deepEqual(activeEngine({...env(), DOCKER_HOST: 'tcp://198.18.0.13:2376', DOCKER_MACHINE_SWARM: 'm1'}), {url: 'tcp://198.18.0.13:2376', swarm: true})
  assert.equal(activeEngine({...env(), DOCKER_CONTEXT: 'default'}), undefined)
  assert.equal(activeEngine({...env(), DOCKER_CONTEXT: 'nosuch'}), undefined)
  await unsetContext()
  assert.equal(currentContextName(env()), undefined)
  assert.equal(activeEngine({...env(), DOCKER_CONTEXT: 'web1'})?.url, 'tcp://198.18.0.12:2376')
})

test('removeOwnContext removes only contexts cluster made, also the current one', async () => {
  execFileSync('docker', ['context', 'create', 'mine', '--docker', 'host=tcp://198.18.0.11:2376'], {env: {...process.env, DOCKER_CONFIG: dir}, stdio: 'ignore'})
  assert.equal(await removeOwnContext('mine'), false)
  assert.equal(readContext('mine', env())?.host, 'tcp://198.18.0.11:2376')
  assert.equal(await removeOwnContext('nosuch'), false)
  await useContext(contextPlan('web1', 'tcp://198.18.0.11:2376', tls))
  assert.equal(await removeOwnContext('web1'), true)
  assert.equal(readContext('web1', env()), undefined)
  assert.equal(currentContextName(env()), undefined)
})
