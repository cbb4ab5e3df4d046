/**
 * The DigitalOcean API client against the simulator over real HTTP on loopback: auth,
 * error bodies, 404-as-gone, rate limits, 5xx retries, pagination.
 */
import {test, before, after, beforeEach} from 'node:test'
import assert from 'node:assert/strict'
import {DoApi, DoApiError, rateLimitWait, type ApiClientOptions} from '../../drivers/digitalocean/api.js'
import {DoSimulator} from '../do-sim/server.js'
import {RecordingBackend} from '../do-sim/backend.js'

const TOKEN = 'sim-token-do-api'
const FAST = {baseDelayMs: 20, maxDelayMs: 100}
let sim: DoSimulator
let url: string

function client(opts: Partial<ApiClientOptions> = {}): DoApi {
  return new DoApi({token: TOKEN, baseUrl: url, retry: FAST, ...opts})
}

/** A distinct, valid ed25519 public key line (32 key bytes derived from n). */
function publicKey(n: number): string {
  const name = Buffer.from('ssh-ed25519')
  const key = Buffer.alloc(32, n)
  const blob = Buffer.concat([u32(name.length), name, u32(32), key])
  return `ssh-ed25519 ${blob.toString('base64')} test-${n}`
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

before(async () => {
  sim = new DoSimulator({token: TOKEN, backend: new RecordingBackend(), readyPollMs: 10})
  url = await sim.listen()
})

after(() => sim.close())

beforeEach(() => {
  sim.clearFaults()
  sim.requests.length = 0
})

test('sends the bearer token and parses a list', async () => {
  const regions = await client().listRegions()
  assert.ok(regions.some(r => r.slug === 'nyc3'))
  assert.deepEqual(sim.requests.map(r => [r.method, r.path.split('?')[0], r.status]), [['GET', '/v2/regions', 200]])
})

test('a wrong token is one clear line naming the flag and the env var', async () => {
  const err = await client({token: 'wrong'}).getAccount().catch(e => e)
  assert.ok(err instanceof DoApiError)
  assert.equal(err.status, 401)
  assert.equal(err.oneLine(),
    'DigitalOcean rejected the access token (401 unauthorized): check --digitalocean-access-token / DIGITALOCEAN_ACCESS_TOKEN')
  assert.equal(sim.requests.length, 1, '401 is not retried')
})

test('error bodies become one line with the API message and request id', async () => {
  const api = client()
  const key = await api.createKey('dup', publicKey(1))
  const err = await api.createKey('dup-again', publicKey(1)).catch(e => e)
  assert.ok(err instanceof DoApiError)
  assert.equal(err.status, 422)
  assert.match(err.message, /^DigitalOcean API POST \/v2\/account\/keys failed \(422 unprocessable_entity, request [0-9a-f-]{36}\): SSH Key is already in use on your account$/)
  assert.ok(!err.message.includes('\n'))
  await api.deleteKey(key.id)
})

test('a 404 on delete means already gone', async () => {
  const api = client()
  const key = await api.createKey('gone', publicKey(2))
  assert.equal(await api.deleteKey(key.id), true)
  assert.equal(await api.deleteKey(key.id), false)
  assert.equal(await api.deleteDroplet(123456), false)
  assert.equal(await api.getDroplet(123456), undefined)
})

test('a 429 with Retry-After is waited out, then the request succeeds', async () => {
  sim.addFaults({rateLimit: {requests: 1, retryAfterSeconds: 1}})
  const waits: number[] = []
  const started = Date.now()
  const account = await client({onRetry: (_reason, ms) => waits.push(ms)}).getAccount()
  assert.equal(account.status, 'active')
  assert.deepEqual(waits, [1000])
  assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`)
  assert.deepEqual(sim.requests.map(r => r.status), [429, 200])
})

test('a 429 asking for a longer wait than allowed fails at once instead of hanging', async () => {
  // No Retry-After: the client falls back to ratelimit-reset, 60 s ahead in the simulator.
  sim.addFaults({rateLimit: {requests: 1}})
  const started = Date.now()
  const err = await client({retry: {...FAST, maxRateLimitWaitMs: 5000}}).getAccount().catch(e => e)
  assert.ok(err instanceof DoApiError)
  assert.equal(err.status, 429)
  assert.match(err.message, /429 too_many_requests/)
  assert.ok(Date.now() - started < 1000)
})

test('rateLimitWait reads Retry-After seconds or date, else ratelimit-reset', () => {
  const now = 1_700_000_000_000
  assert.equal(rateLimitWait(new Headers({'retry-after': '3'}), 7, now), 3000)
  assert.equal(rateLimitWait(new Headers({'retry-after': new Date(now + 5000).toUTCString()}), 7, now), 5000)
  assert.equal(rateLimitWait(new Headers({'ratelimit-reset': String(now / 1000 + 9)}), 7, now), 9000)
  assert.equal(rateLimitWait(new Headers(), 7, now), 7)
})

test('transient 5xx are retried with growing backoff', async () => {
  sim.addFaults({fault: {step: 'sizes.list', status: 503, times: 2}})
  const waits: number[] = []
  const sizes = await client({onRetry: (_r, ms) => waits.push(ms)}).listSizes()
  assert.ok(sizes.some(s => s.slug === 's-1vcpu-1gb'))
  assert.deepEqual(sim.requests.map(r => r.status), [503, 503, 200])
  assert.deepEqual(waits, [20, 40])
})

test('5xx retries are bounded and the last error is reported', async () => {
  sim.addFaults({fault: {step: 'sizes.list', status: 500, times: 10}})
  const err = await client({retry: {...FAST, maxAttempts: 3}}).listSizes().catch(e => e)
  assert.ok(err instanceof DoApiError)
  assert.equal(err.status, 500)
  assert.equal(sim.requests.length, 3)
})

test('lists follow links.pages.next across pages', async () => {
  const api = client({pageSize: 2})
  const made = []
  for (let i = 10; i < 15; i++) made.push(await api.createKey(`page-${i}`, publicKey(i)))
  sim.requests.length = 0
  const keys = await api.listKeys()
  assert.deepEqual(keys.map(k => k.id).sort(), made.map(k => k.id).sort())
  assert.deepEqual(sim.requests.map(r => r.path), [
    '/v2/account/keys?per_page=2',
    '/v2/account/keys?per_page=2&page=2',
    '/v2/account/keys?per_page=2&page=3',
  ])
  for (const k of made) await api.deleteKey(k.fingerprint)
  assert.deepEqual(await api.listKeys(), [])
})

test('an unreachable API is one line naming the URL flag', async () => {
  const closed = new DoSimulator({token: TOKEN, backend: new RecordingBackend()})
  const deadUrl = await closed.listen()
  await closed.close()
  const err = await new DoApi({token: TOKEN, baseUrl: deadUrl, retry: {...FAST, maxAttempts: 2}}).getAccount().catch(e => e)
  assert.ok(err instanceof DoApiError)
  assert.match(err.oneLine(), new RegExp(`^cannot reach the DigitalOcean API at ${deadUrl} \\(GET /v2/account\\): ECONNREFUSED: check --digitalocean-api-url`))
})
