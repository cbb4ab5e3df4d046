/**
 * The simulator's own contract, over raw HTTP: the public API's shapes (auth error body,
 * rate-limit headers, absolute pagination links, 422 validation messages), droplet and
 * action lifecycle, and the test-control endpoints.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {DoSimulator} from '../do-sim/server.js'
import {RecordingBackend} from '../do-sim/backend.js'

const TOKEN = 'sim-token-contract'
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ2ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZm sim'
let sim: DoSimulator
let backend: RecordingBackend

async function call(method: string, path: string, body?: unknown, token = TOKEN) {
  const r = await fetch(`${sim.url}${path}`, {
    method, headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.text()
  return {status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined}
}

async function waitFor<T>(fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await fn()
    if (v !== undefined) return v
    await new Promise(r => setTimeout(r, 10))
  }
  throw new Error('timed out')
}

before(async () => {
  backend = new RecordingBackend()
  backend.readyAfterPolls = 20
  sim = new DoSimulator({token: TOKEN, backend, readyPollMs: 5})
  await sim.listen()
})

after(() => sim.close())

test('auth: a missing or wrong bearer token is 401 with the API error body', async () => {
  const r = await call('GET', '/v2/account', undefined, 'nope')
  assert.equal(r.status, 401)
  assert.equal(r.body.id, 'unauthorized')
  assert.equal(r.body.message, 'Unable to authenticate you')
  assert.match(r.body.request_id, /^[0-9a-f-]{36}$/)
})

test('every answer carries rate-limit headers; remaining counts down', async () => {
  const a = await call('GET', '/v2/account')
  const b = await call('GET', '/v2/account')
  assert.equal(a.headers.get('ratelimit-limit'), '5000')
  assert.equal(Number(b.headers.get('ratelimit-remaining')), Number(a.headers.get('ratelimit-remaining')) - 1)
  assert.ok(Number(a.headers.get('ratelimit-reset')) > Date.now() / 1000)
})

test('lists page with absolute links and meta.total', async () => {
  const r = await call('GET', '/v2/regions?per_page=3&page=2')
  assert.equal(r.body.regions.length, 3)
  assert.equal(r.body.meta.total, 8)
  assert.deepEqual(r.body.links.pages, {
    first: `${sim.url}/v2/regions?per_page=3&page=1`,
    prev: `${sim.url}/v2/regions?per_page=3&page=1`,
    next: `${sim.url}/v2/regions?per_page=3&page=3`,
    last: `${sim.url}/v2/regions?per_page=3&page=3`,
  })
})

test('droplet lifecycle: 202 new, active with addresses, actions, tag filter, delete, 404 after', async () => {
  const key = await call('POST', '/v2/account/keys', {name: 'k', public_key: KEY})
  assert.equal(key.status, 201)
  assert.match(key.body.ssh_key.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/)
  const created = await call('POST', '/v2/droplets', {name: 'd1', region: 'ams3', size: 's-1vcpu-1gb', image: 'debian-12-x64',
    ssh_keys: [key.body.ssh_key.fingerprint], tags: ['t1']})
  assert.equal(created.status, 202)
  assert.equal(created.body.droplet.status, 'new')
  assert.deepEqual(created.body.droplet.networks, {v4: [], v6: []})
  assert.equal(created.body.links.actions[0].rel, 'create')
  const id = created.body.droplet.id

  const busy = await call('POST', `/v2/droplets/${id}/actions`, {type: 'reboot'})
  assert.equal(busy.status, 422, 'no power action while the droplet is new')
  const active = await waitFor(async () => {
    const d = (await call('GET', `/v2/droplets/${id}`)).body.droplet
    return d.status === 'active' ? d : undefined
  })
  assert.deepEqual(active.networks.v4.map((n: {type: string}) => n.type), ['public', 'private'])
  assert.equal((await call('GET', `/v2/actions/${created.body.links.actions[0].id}`)).body.action.status, 'completed')
  assert.deepEqual(backend.calls.at(-1)!.spec!.authorizedKeys, [KEY])

  const action = await call('POST', `/v2/droplets/${id}/actions`, {type: 'shutdown'})
  assert.equal(action.status, 201)
  await waitFor(async () => (await call('GET', `/v2/actions/${action.body.action.id}`)).body.action.status === 'completed' || undefined)
  assert.equal((await call('GET', `/v2/droplets/${id}`)).body.droplet.status, 'off')
  assert.equal((await call('POST', `/v2/droplets/${id}/actions`, {type: 'rebuild'})).status, 422)

  assert.equal((await call('GET', '/v2/droplets?tag_name=t1')).body.droplets.length, 1)
  assert.equal((await call('GET', '/v2/droplets?tag_name=other')).body.droplets.length, 0)
  assert.equal((await call('DELETE', `/v2/droplets/${id}`)).status, 204)
  assert.equal((await call('DELETE', `/v2/droplets/${id}`)).status, 404)
  assert.equal((await call('GET', `/v2/droplets/${id}`)).body.id, 'not_found')
  assert.equal((await call('DELETE', `/v2/account/keys/${key.body.ssh_key.id}`)).status, 204)
  assert.deepEqual(backend.live(), [])
})

test('invalid requests are 422 with the API messages', async () => {
  const bad = (body: Record<string, unknown>) => call('POST', '/v2/droplets', {name: 'd', region: 'nyc3', size: 's-1vcpu-1gb', image: 'debian-12-x64', ...body})
  assert.equal((await bad({region: 'nyc1'})).body.message, 'You specified an invalid region for Droplet creation.')
  assert.equal((await bad({size: 'big'})).body.message, 'You specified an invalid size for Droplet creation.')
  assert.equal((await bad({image: 'windows'})).body.message, 'You specified an invalid image for Droplet creation.')
  assert.equal((await bad({name: 'bad name'})).body.message, 'Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)')
  assert.equal((await bad({ssh_keys: [123]})).body.message, 'You specified an invalid SSH key (123) for Droplet creation.')
  assert.equal((await bad({vpc_uuid: 'x'})).status, 422)
  assert.equal((await call('POST', '/v2/account/keys', {name: 'k', public_key: 'ssh-ed25519 garbage'})).body.message,
    'Key invalid, key should be of the format `type key [comment]`')
  assert.equal((await call('POST', '/v2/droplets', 'not json')).status, 422)
  assert.deepEqual(sim.snapshot(), {droplets: [], keys: []})
})

test('test control over HTTP: faults, rate limits, state and the request log', async () => {
  const control = (method: string, path: string, body?: unknown) =>
    fetch(`${sim.url}${path}`, {method, body: body === undefined ? undefined : JSON.stringify(body)})
  assert.equal((await control('POST', '/_sim/faults', {fault: {step: 'sizes.list', status: 503, times: 1}, rateLimit: {requests: 1, retryAfterSeconds: 7}})).status, 204)
  const limited = await call('GET', '/v2/sizes')
  assert.equal(limited.status, 429)
  assert.equal(limited.headers.get('retry-after'), '7')
  assert.equal(limited.body.id, 'too_many_requests')
  assert.equal((await call('GET', '/v2/sizes')).status, 503)
  assert.equal((await call('GET', '/v2/sizes')).status, 200)
  await control('POST', '/_sim/faults', {fault: {step: 'account.get', status: 500, times: 5}})
  await control('DELETE', '/_sim/faults')
  assert.equal((await call('GET', '/v2/account')).status, 200)

  await call('POST', '/v2/account/keys', {name: 'listed', public_key: KEY})
  const state = await (await control('GET', '/_sim/state')).json() as {droplets: unknown[]; keys: {name: string}[]}
  assert.deepEqual(state.keys.map(k => k.name), ['listed'])
  const log = await (await control('GET', '/_sim/requests')).json() as {method: string; step: string; status: number}[]
  assert.deepEqual(log.at(-1), {method: 'POST', path: '/v2/account/keys', step: 'keys.create', status: 201})
  await call('DELETE', `/v2/account/keys/${sim.snapshot().keys[0]!.fingerprint}`)
  assert.deepEqual(sim.snapshot(), {droplets: [], keys: []})
})
