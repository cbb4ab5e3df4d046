/**
 * The digitalocean driver against the simulator (real HTTP on loopback, recording backend):
 * create, power actions and remove; bad input; and a failure injected at every step of
 * create, after which `remove` from the last saved data leaves zero droplets and zero keys.
 */
import {test, before, after, beforeEach} from 'node:test'
import {noSsh} from '../support/errors.js'
import assert from 'node:assert/strict'
import {mkdtempSync, statSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Driver, DriverContext, DriverData, FlagValues} from '../../drivers/sdk/driver.js'
import {createDigitalOceanFactory} from '../../drivers/digitalocean/index.js'
import {ClusterError, InputError} from '../../core/errors.js'
import {DoSimulator} from '../do-sim/server.js'
import {RecordingBackend} from '../do-sim/backend.js'

const TOKEN = 'sim-token-do-driver'
const factory = createDigitalOceanFactory({pollIntervalMs: 20, waitTimeoutMs: 1500, retry: {baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 3}})
let sim: DoSimulator
let backend: RecordingBackend
let url: string
const dirs: string[] = []

/** What the lead's create does with ctx.save: keep the latest data, as the store would. */
interface Harness {
  ctx: DriverContext
  saved: DriverData[]
  abort: AbortController
  progress: string[]
}

function harness(name: string, opts: {failSaveAt?: number} = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'do-driver-'))
  dirs.push(dir)
  const saved: DriverData[] = []
  const progress: string[] = []
  const abort = new AbortController()
  const ctx: DriverContext = {
    machineName: name,
    machineDir: dir,
    cacheDir: join(dir, 'cache'),
    progress: s => progress.push(s),
    save: async data => {
      if (opts.failSaveAt === saved.length + 1) throw new Error('simulated crash while saving')
      saved.push(structuredClone(data))
    },
    signal: abort.signal,
    sshExec: noSsh,
  }
  return {ctx, saved, abort, progress}
}

function flags(extra: FlagValues = {}): FlagValues {
  return {'digitalocean-access-token': TOKEN, 'digitalocean-api-url': url, ...extra}
}

/** `cluster rm` on another run: a driver loaded from the last data that reached the store. */
async function removeFromSaved(h: Harness): Promise<void> {
  const data = h.saved.at(-1)
  assert.ok(data, 'create saved its data before making anything')
  await factory.load(data, {...h.ctx, signal: new AbortController().signal}).remove()
}

function assertNothingLeft(): void {
  const {droplets, keys} = sim.snapshot()
  assert.deepEqual(droplets.map(d => d.id), [], 'no droplets left')
  assert.deepEqual(keys.map(k => k.name), [], 'no keys left')
  assert.deepEqual(backend.live(), [], 'no machines left in the backend')
}

before(async () => {
  backend = new RecordingBackend()
  backend.readyAfterPolls = 10
  sim = new DoSimulator({token: TOKEN, backend, readyPollMs: 10})
  url = await sim.listen()
})

after(async () => {
  await sim.close()
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

beforeEach(() => {
  sim.clearFaults()
})

test('create makes a key and an active droplet; power actions and remove work', async () => {
  const h = harness('node1')
  const driver = factory.fromFlags(flags({'digitalocean-tags': 'web,prod', 'digitalocean-ipv6': true}), h.ctx)
  await driver.preCreateCheck()
  await driver.create()

  const {droplets, keys} = sim.snapshot()
  assert.equal(droplets.length, 1)
  assert.equal(keys.length, 1)
  const [droplet] = droplets
  assert.equal(droplet!.name, 'node1')
  assert.equal(droplet!.status, 'active')
  assert.equal(droplet!.region.slug, 'nyc3')
  assert.equal(droplet!.size_slug, 's-1vcpu-1gb')
  assert.equal(droplet!.image.slug, 'ubuntu-24-04-x64')
  assert.deepEqual(droplet!.tags.slice(0, 2), ['web', 'prod'])
  assert.match(droplet!.tags[2]!, /^cluster-machine-[0-9a-f]{12}$/)
  assert.ok(droplet!.features.includes('ipv6'))

  const keyFile = join(h.ctx.machineDir, 'id_ed25519')
  assert.equal(statSync(keyFile).mode & 0o777, 0o600)
  assert.equal(keys[0]!.public_key, readFileSync(`${keyFile}.pub`, 'utf8').trim())
  assert.deepEqual(backend.calls.find(c => c.op === 'create')!.spec!.authorizedKeys, [keys[0]!.public_key])

  const public4 = droplet!.networks.v4.find(n => n.type === 'public')!.ip_address
  const private4 = droplet!.networks.v4.find(n => n.type === 'private')!.ip_address
  assert.deepEqual(await driver.addresses(), {public: public4, private: private4})
  assert.deepEqual(driver.ssh(), {host: public4, port: 22, user: 'root', privateKeyPath: keyFile})
  assert.ok(h.progress.some(p => /^Waiting for droplet \d+ to become active \(new, \d+ s\)$/.test(p)), h.progress.join('\n'))

  // Saves: before the upload, after it, after the droplet POST, after it is active.
  assert.equal(h.saved.length, 4)
  assert.equal(h.saved[0]!.keyId, undefined)
  assert.equal(h.saved[1]!.keyId, keys[0]!.id)
  assert.equal(h.saved[2]!.dropletId, droplet!.id)
  assert.equal(h.saved[3]!.publicIp, public4)
  assert.deepEqual(h.saved[3]!.secret, {accessToken: TOKEN})

  assert.equal(await driver.state(), 'Running')
  await driver.stop()
  assert.equal(await driver.state(), 'Stopped')
  await driver.stop()
  await driver.start()
  assert.equal(await driver.state(), 'Running')
  await driver.restart()
  await driver.kill()
  assert.equal(await driver.state(), 'Stopped')
  const ops = backend.calls.filter(c => c.dropletId === droplet!.id && c.op !== 'create').map(c => c.op)
  assert.deepEqual(ops, ['shutdown', 'power_on', 'reboot', 'power_off'], 'a second stop of a stopped droplet sends nothing')

  await driver.remove()
  assertNothingLeft()
  await driver.remove()
  assert.equal(await driver.state(), 'NotFound')
})

test('a machine loaded on another computer uses DIGITALOCEAN_ACCESS_TOKEN, and says so when it is missing', async () => {
  const h = harness('node-shared')
  const driver = factory.fromFlags(flags(), h.ctx)
  await driver.create()
  const {secret: _secret, ...shared} = h.saved.at(-1)!
  const loaded = factory.load(shared, h.ctx)
  const saved = process.env.DIGITALOCEAN_ACCESS_TOKEN
  delete process.env.DIGITALOCEAN_ACCESS_TOKEN
  try {
    const err = await loaded.state().catch(e => e)
    assert.ok(err instanceof InputError)
    assert.equal(err.oneLine(), 'no DigitalOcean access token for machine node-shared: set DIGITALOCEAN_ACCESS_TOKEN (this computer does not hold the token it was created with)')
    process.env.DIGITALOCEAN_ACCESS_TOKEN = TOKEN
    assert.equal(await factory.load(shared, h.ctx).state(), 'Running')
    await factory.load(shared, h.ctx).remove()
  } finally {
    if (saved === undefined) delete process.env.DIGITALOCEAN_ACCESS_TOKEN
    else process.env.DIGITALOCEAN_ACCESS_TOKEN = saved
  }
  assertNothingLeft()
})

test('bad input is one clear line before anything is made', async () => {
  const saved = process.env.DIGITALOCEAN_ACCESS_TOKEN
  delete process.env.DIGITALOCEAN_ACCESS_TOKEN
  try {
    const missing = (() => { try { factory.fromFlags({'digitalocean-api-url': url}, harness('x').ctx) } catch (e) { return e } })()
    assert.ok(missing instanceof InputError)
    assert.match(missing.oneLine(), /^driver digitalocean needs an access token: pass --digitalocean-access-token or set DIGITALOCEAN_ACCESS_TOKEN/)
  } finally {
    if (saved !== undefined) process.env.DIGITALOCEAN_ACCESS_TOKEN = saved
  }
  // The rollback of a create that failed before making anything: no token needed, no API call.
  const before = sim.requests.length
  await factory.load({}, harness('x').ctx).remove()
  assert.equal(sim.requests.length, before)

  const check = (extra: FlagValues) => factory.fromFlags(flags(extra), harness('x').ctx).preCreateCheck().then(() => undefined, e => e as ClusterError)

  const region = await check({'digitalocean-region': 'mars1'})
  assert.ok(region instanceof InputError)
  assert.equal(region.oneLine(), 'unknown or unavailable DigitalOcean region "mars1": use one of: ams3, fra1, lon1, nyc3, sfo3, sgp1, tor1 (--digitalocean-region / DIGITALOCEAN_REGION)')
  const closed = await check({'digitalocean-region': 'nyc1'})
  assert.match(closed!.message, /region "nyc1"/)

  const size = await check({'digitalocean-size': 'huge'})
  assert.ok(size instanceof InputError)
  assert.equal(size.oneLine(), 'unknown DigitalOcean size "huge" for region nyc3: use one of: s-1vcpu-1gb, s-1vcpu-2gb, s-1vcpu-512mb-10gb, s-2vcpu-2gb, s-2vcpu-4gb, s-4vcpu-8gb (--digitalocean-size / DIGITALOCEAN_SIZE)')

  const token = await check({'digitalocean-access-token': 'nope'})
  assert.equal(token!.oneLine(), 'DigitalOcean rejected the access token (401 unauthorized): check --digitalocean-access-token / DIGITALOCEAN_ACCESS_TOKEN')

  const fingerprint = await check({'digitalocean-ssh-key-fingerprint': '00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff', 'digitalocean-ssh-key-path': '/etc/hostname'})
  assert.match(fingerprint!.oneLine(), /^the DigitalOcean account has no SSH key with fingerprint 00:11:/)

  for (const [extra, pattern] of [
    [{'digitalocean-ssh-port': 70000}, /^--digitalocean-ssh-port 70000 is not a port/],
    [{'digitalocean-vpc-uuid': 'vpc-1'}, /^--digitalocean-vpc-uuid "vpc-1" is not a UUID/],
    [{'digitalocean-tags': 'ok,not ok'}, /^--digitalocean-tags: "not ok" is not a valid tag/],
    [{'digitalocean-api-url': 'ftp://x'}, /^--digitalocean-api-url "ftp:\/\/x" is not an http\(s\) URL/],
    [{'digitalocean-ssh-key-fingerprint': 'zz'}, /needs --digitalocean-ssh-key-path|is not an MD5 fingerprint/],
  ] as const) {
    assert.throws(() => factory.fromFlags(flags(extra), harness('x').ctx), (e: unknown) => e instanceof InputError && pattern.test(e.oneLine()))
  }
  assertNothingLeft()
})

test('DIGITALOCEAN_* env vars fill flags that were not given; given flags win', async () => {
  const saved = {...process.env}
  Object.assign(process.env, {DIGITALOCEAN_REGION: 'ams3', DIGITALOCEAN_SIZE: 's-2vcpu-2gb', DIGITALOCEAN_TAGS: 'from-env', DIGITALOCEAN_MONITORING: 'true'})
  try {
    const driver = factory.fromFlags(flags({'digitalocean-size': 's-1vcpu-2gb'}), harness('node-env').ctx)
    await driver.preCreateCheck()
    await driver.create()
    const [droplet] = sim.snapshot().droplets
    assert.deepEqual([droplet!.region.slug, droplet!.size_slug, droplet!.tags[0], droplet!.features], ['ams3', 's-1vcpu-2gb', 'from-env', ['monitoring']])
    await driver.remove()
  } finally {
    for (const k of ['DIGITALOCEAN_REGION', 'DIGITALOCEAN_SIZE', 'DIGITALOCEAN_TAGS', 'DIGITALOCEAN_MONITORING']) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  }
  assertNothingLeft()
})

test('a reused account key is used and never deleted', async () => {
  const keyHarness = harness('keyowner')
  const owner = factory.fromFlags(flags(), keyHarness.ctx)
  await owner.create()
  const ownerKey = sim.snapshot().keys[0]!
  const h = harness('reuser')
  const driver = factory.fromFlags(flags({
    'digitalocean-ssh-key-fingerprint': ownerKey.fingerprint,
    'digitalocean-ssh-key-path': join(keyHarness.ctx.machineDir, 'id_ed25519'),
  }), h.ctx)
  await driver.preCreateCheck()
  await driver.create()
  assert.equal(sim.snapshot().keys.length, 1, 'no second key uploaded')
  assert.equal(statSync(join(h.ctx.machineDir, 'id_reused')).mode & 0o777, 0o600)
  await driver.remove()
  assert.deepEqual(sim.snapshot().keys.map(k => k.id), [ownerKey.id], 'the reused key stays')
  await owner.remove()
  assertNothingLeft()
})

/** Each way a create can fail, then `rm` from what was saved: nothing may be left, and a new create works. */
const failures: {name: string; setup(h: Harness): void; expect: RegExp}[] = [
  {name: 'key upload fails', setup: () => sim.addFaults({fault: {step: 'keys.create', status: 500, times: 3}}), expect: /POST \/v2\/account\/keys failed \(500/},
  {name: 'key uploaded, then the CLI dies before saving its id', setup: () => undefined, expect: /simulated crash while saving/},
  {name: 'droplet create fails', setup: () => sim.addFaults({fault: {step: 'droplets.create', status: 422, times: 1}}), expect: /POST \/v2\/droplets failed \(422/},
  {name: 'droplet created but every answer lost', setup: () => sim.addFaults({fault: {step: 'droplets.create', status: 503, times: 3, afterEffect: true}}), expect: /\(503 server_error/},
  {name: 'droplet create action errors', setup: () => sim.addFaults({failActivation: true}), expect: /^DigitalOcean could not create droplet \d+ \(its create action errored\)$/},
  {name: 'droplet never becomes active', setup: () => sim.addFaults({neverActive: true}), expect: /was not active after \d+ s \(status new\)/},
  {name: 'polling the droplet fails', setup: () => sim.addFaults({fault: {step: 'droplets.get', status: 500, times: 3}}), expect: /GET \/v2\/droplets\/\d+ failed \(500/},
  {name: 'Ctrl-C while waiting for active', setup: h => {
    sim.addFaults({neverActive: true})
    const timer = setInterval(() => {
      if (h.saved.some(d => d.dropletId)) {
        clearInterval(timer)
        h.abort.abort()
      }
    }, 5)
  }, expect: /aborted/i},
  {name: 'Ctrl-C during the droplet POST', setup: h => {
    // The server makes the droplet but the client has gone before the answer: only the tag finds it.
    sim.addFaults({fault: {step: 'droplets.create', status: 503, times: 1, afterEffect: true}})
    const timer = setInterval(() => {
      if (sim.requests.some(r => r.step === 'droplets.create' && r.status === 503)) {
        clearInterval(timer)
        h.abort.abort()
      }
    }, 1)
  }, expect: /aborted/i},
]

for (const f of failures) {
  test(`failure: ${f.name} → remove leaves nothing, and the create can be retried`, async () => {
    const h = harness('node-fail', {failSaveAt: f.name.includes('dies before saving') ? 2 : undefined})
    f.setup(h)
    const err = await factory.fromFlags(flags(), h.ctx).create().then(() => undefined, e => e as Error)
    assert.ok(err, 'create failed')
    assert.match(err.message, f.expect)
    sim.clearFaults()
    await removeFromSaved(h)
    assertNothingLeft()

    const retry = factory.fromFlags(flags(), harness('node-fail').ctx)
    await retry.create()
    assert.equal(sim.snapshot().droplets.length, 1)
    await retry.remove()
    assertNothingLeft()
  })
}

test('a retried upload and a retried droplet POST that had succeeded leave no duplicates', async () => {
  sim.addFaults({fault: {step: 'keys.create', status: 500, times: 1, afterEffect: true}})
  sim.addFaults({fault: {step: 'droplets.create', status: 500, times: 1, afterEffect: true}})
  const h = harness('node-dup')
  const driver = factory.fromFlags(flags(), h.ctx)
  await driver.create()
  const {droplets, keys} = sim.snapshot()
  assert.equal(keys.length, 1)
  assert.equal(droplets.length, 1, 'the duplicate droplet was deleted')
  assert.equal(droplets[0]!.id, h.saved.at(-1)!.dropletId)
  assert.ok(h.progress.some(p => /^Deleting duplicate droplet \d+$/.test(p)))
  await driver.remove()
  assertNothingLeft()
})

test('a 429 during create is waited out', async () => {
  sim.addFaults({rateLimit: {requests: 1, retryAfterSeconds: 1}})
  const h = harness('node-429')
  const driver: Driver = factory.fromFlags(flags(), h.ctx)
  await driver.create()
  assert.ok(h.progress.includes('DigitalOcean API: rate limited (429); retrying in 1.0 s'), h.progress.join('\n'))
  await driver.remove()
  assertNothingLeft()
})
