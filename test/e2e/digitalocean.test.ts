/**
 * `cluster create -d digitalocean` end to end, through the built CLI, against the API
 * simulator whose droplets are real lab hosts: one machine from a bare Debian 12 host with
 * only the token set, three in parallel, a failure injected at every step (key upload,
 * droplet create, wait, provisioning, Ctrl-C, a killed CLI) leaving zero droplets and zero
 * keys, bad input, and the example third-party driver found through CLUSTER_DRIVER_PATH.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, REPO_ROOT, SSH_KEY, removeHost, run, startHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, CLUSTER_BIN, type CliEnv} from '../support/cli.js'
import {DoSimulator} from '../do-sim/server.js'
import {LabBackend} from '../do-sim/lab-backend.js'

const TOKEN = `e2e-do-token-${process.pid}`
const CLUSTER = `e2e-do-${process.pid}`
const PREFIX = `do-e2e-${process.pid}`
const NET = ['--overlay-range', '198.19.64.0/18']
/** Droplets of this image are trixie lab hosts with Docker preinstalled (quicker to provision); all others bare Debian 12. */
const QUICK = ['--digitalocean-image', 'debian-13-x64']
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
/** User data that breaks OS detection: the droplet comes up fine, then provisioning fails. */
const BREAK_OS_RELEASE = join(mkdtempSync(join(tmpdir(), 'do-e2e-')), 'break-os-release.sh')
let sim: DoSimulator

/** The only DigitalOcean settings a user needs: the token (and, for the simulator, its URL). */
function doEnv(): Record<string, string> {
  return {DIGITALOCEAN_ACCESS_TOKEN: TOKEN, DIGITALOCEAN_API_URL: sim.url}
}

function create(name: string, args: string[] = []) {
  return cli(env, ['create', '-d', 'digitalocean', ...NET, ...args, name], {extraEnv: doEnv()})
}

async function assertNothingLeft(name: string): Promise<void> {
  assert.deepEqual(sim.snapshot(), {droplets: [], keys: []}, `zero droplets and zero keys after ${name}`)
  const containers = await run('docker', ['ps', '-a', '--filter', 'label=cluster.do-sim=1', '--format', '{{.Names}}'])
  assert.deepEqual(containers.stdout.split('\n').filter(n => n.startsWith(PREFIX)), [], 'no lab host left')
  assert.ok(!(await cliOk(env, ['ls', '-q'], {extraEnv: doEnv()})).split('\n').includes(name), `${name} is not listed`)
  assert.equal(existsSync(join(env.storage, 'machines', name)), false, `no local folder for ${name}`)
}

/** Starts `cluster create` as a child process, to interrupt it. */
function spawnCreate(name: string, args: string[]) {
  const child = spawn(process.execPath, [CLUSTER_BIN, 'create', '-d', 'digitalocean', ...NET, ...args, name], {
    env: {...process.env, CLUSTER_STORAGE_PATH: env.storage, CLUSTER_KV_ENDPOINTS: env.endpoints, CLUSTER_NAME: env.clusterName, ...doEnv()},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', d => (stderr += d))
  child.stdout.resume()
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}>(resolve =>
    child.on('close', (code, signal) => resolve({code, signal, stderr})))
  return {child, exited, progress: () => stderr}
}

/** Runs `cluster create NAME` (quick image) and sends it a signal once `ready(progress so far)` holds. */
async function interrupt(name: string, signal: NodeJS.Signals, ready: (progress: string) => boolean) {
  const create = spawnCreate(name, QUICK)
  const deadline = Date.now() + 120_000
  while (!ready(create.progress())) {
    if (Date.now() > deadline) throw new Error(`timed out before sending ${signal}; progress:\n${create.progress()}`)
    await sleep(100)
  }
  create.child.kill(signal)
  return create.exited
}

before(async () => {
  sim = new DoSimulator({
    token: TOKEN,
    backend: new LabBackend({prefix: PREFIX, imageFor: slug => slug === 'debian-13-x64' ? 'trixie' : 'bare'}),
    readyPollMs: 250,
  })
  await sim.listen()
})

after(async () => {
  for (const name of (await cli(env, ['ls', '-q'], {extraEnv: doEnv()})).stdout.split('\n').filter(Boolean)) {
    await cli(env, ['rm', '-f', '-y', name], {extraEnv: doEnv()})
  }
  await sim.close()
  await etcd.delete().prefix(`/cluster/${CLUSTER}/`).exec()
  etcd.close()
})

/** Removes what a failed test left, so the next test starts from an empty account. */
async function cleanUp(...names: string[]): Promise<void> {
  for (const name of names) await cli(env, ['rm', '-f', '-y', name], {extraEnv: doEnv()})
  sim.clearFaults()
}

test('create -d digitalocean node1 with only the token set: ls, env, ssh, ip --private, power, rm', async t => {
  t.after(() => cleanUp('node1'))
  const started = Date.now()
  const r = await create('node1')
  assert.equal(r.code, 0, r.stderr)
  process.stderr.write(`# node1 (bare Debian 12 droplet) ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  assert.match(r.stderr, /Waiting for droplet \d+ to become active/)

  const [droplet] = sim.snapshot().droplets
  const publicIp = droplet!.networks.v4.find(n => n.type === 'public')!.ip_address
  const privateIp = droplet!.networks.v4.find(n => n.type === 'private')!.ip_address
  const rows = JSON.parse(await cliOk(env, ['ls', '--json'], {extraEnv: doEnv()})) as {name: string; state: string; driver: string; url: string}[]
  assert.deepEqual(rows.map(x => [x.name, x.driver, x.state, x.url]), [['node1', 'digitalocean', 'Running', `tcp://${publicIp}:2376`]])
  assert.match(await cliOk(env, ['env', 'node1']), new RegExp(`DOCKER_HOST="tcp://${publicIp.replaceAll('.', '\\.')}:2376"`))
  assert.equal(await cliOk(env, ['ip', 'node1']), `${publicIp}\n`)
  assert.equal(await cliOk(env, ['ip', '--private', 'node1']), `${privateIp}\n`)
  assert.match(await cliOk(env, ['ssh', 'node1', '--', 'ip', '-4', '-o', 'addr']), new RegExp(privateIp.replaceAll('.', '\\.')))

  // The token stays in the local store (0600), never in etcd.
  const record = await cliOk(env, ['inspect', 'node1'])
  assert.ok(!record.includes(TOKEN), 'no token in the etcd record')
  const local = join(env.storage, 'machines/node1/machine.json')
  assert.ok(readFileSync(local, 'utf8').includes(TOKEN))
  assert.equal(statSync(local).mode & 0o777, 0o600)

  for (const [cmd, state] of [['stop', 'Stopped'], ['start', 'Running'], ['restart', 'Running'], ['kill', 'Stopped'], ['start', 'Running']]) {
    await cliOk(env, [cmd!, 'node1'], {extraEnv: doEnv()})
    assert.equal(await cliOk(env, ['status', 'node1'], {extraEnv: doEnv()}), `${state}\n`, `after ${cmd}`)
  }
  await cliOk(env, ['rm', '-y', 'node1'], {extraEnv: doEnv()})
  await assertNothingLeft('node1')
})

test('three droplets in parallel reach each other on their private addresses; rm leaves nothing', async t => {
  const names = ['par1', 'par2', 'par3']
  t.after(() => cleanUp(...names))
  const started = Date.now()
  const results = await Promise.all(names.map(n => create(n, QUICK)))
  results.forEach((r, i) => assert.equal(r.code, 0, `${names[i]}: ${r.stderr}`))
  process.stderr.write(`# three droplets ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  const rows = JSON.parse(await cliOk(env, ['ls', '--json'], {extraEnv: doEnv()})) as {name: string; state: string}[]
  assert.deepEqual(rows.map(x => [x.name, x.state]), names.map(n => [n, 'Running']))
  assert.equal(sim.snapshot().droplets.length, 3)
  assert.equal(new Set(sim.snapshot().keys.map(k => k.fingerprint)).size, 3, 'one key per machine')
  const private2 = (await cliOk(env, ['ip', '--private', 'par2'])).trim()
  assert.match(await cliOk(env, ['ssh', 'par1', '--', 'ping', '-c', '1', '-W', '3', private2]), /1 received/)
  const removed = await Promise.all(names.map(n => cli(env, ['rm', '-y', n], {extraEnv: doEnv()})))
  removed.forEach(r => assert.equal(r.code, 0, r.stderr))
  for (const n of names) await assertNothingLeft(n)
})

const failures: {step: string; setup: () => void; args?: string[]; expect: RegExp}[] = [
  {step: 'key upload', setup: () => sim.addFaults({fault: {step: 'keys.create', status: 500, times: 10}}), expect: /^Error: DigitalOcean API POST \/v2\/account\/keys failed \(500 server_error/m},
  {step: 'droplet create', setup: () => sim.addFaults({fault: {step: 'droplets.create', status: 422, times: 1}}), expect: /^Error: DigitalOcean API POST \/v2\/droplets failed \(422 unprocessable_entity/m},
  {step: 'wait for active', setup: () => sim.addFaults({failActivation: true}), expect: /^Error: DigitalOcean could not create droplet \d+ \(its create action errored\)/m},
  {step: 'provisioning', setup: () => undefined, args: ['--digitalocean-userdata', BREAK_OS_RELEASE], expect: /^Error: .*os-release/im},
]

test('a failure at each step of create leaves zero droplets and zero keys, and the create can be retried', async t => {
  t.after(() => cleanUp('failing'))
  writeFileSync(BREAK_OS_RELEASE, '#!/bin/sh\nrm -f /etc/os-release /usr/lib/os-release\n')
  for (const f of failures) {
    f.setup()
    const r = await create('failing', [...QUICK, ...(f.args ?? [])])
    sim.clearFaults()
    assert.notEqual(r.code, 0, `${f.step}: create must fail`)
    assert.match(r.stderr, f.expect, `${f.step}: ${r.stderr}`)
    await assertNothingLeft(`a failed ${f.step}`)
  }
  const retry = await create('failing', QUICK)
  assert.equal(retry.code, 0, retry.stderr)
  await cliOk(env, ['rm', '-y', 'failing'], {extraEnv: doEnv()})
  await assertNothingLeft('the retried create')
})

test('Ctrl-C while waiting for the droplet, or while provisioning, rolls everything back', async t => {
  t.after(() => cleanUp('interrupted'))
  sim.addFaults({neverActive: true})
  const w = await interrupt('interrupted', 'SIGINT', () => sim.snapshot().droplets.length === 1)
  sim.clearFaults()
  assert.notEqual(w.code, 0)
  assert.match(w.stderr, /Interrupted: rolling back/)
  await assertNothingLeft('Ctrl-C while waiting')

  const p = await interrupt('interrupted', 'SIGINT', progress => /Detecting the operating system/.test(progress))
  assert.notEqual(p.code, 0, p.stderr)
  assert.match(p.stderr, /Interrupted: rolling back/)
  await assertNothingLeft('Ctrl-C while provisioning')
})

test('a CLI killed mid-create (no rollback) is cleaned up by cluster rm', async t => {
  t.after(() => cleanUp('crashed'))
  sim.addFaults({neverActive: true})
  await interrupt('crashed', 'SIGKILL', () => sim.snapshot().droplets.length === 1)
  sim.clearFaults()
  assert.equal(sim.snapshot().droplets.length, 1, 'the droplet outlived the CLI')
  const rm = await cli(env, ['rm', '-y', 'crashed'], {extraEnv: doEnv()})
  assert.equal(rm.code, 0, rm.stderr)
  await assertNothingLeft('rm of a crashed create')
})

test('bad input: missing token, unknown region, unknown size, bad token — one line each, nothing made', async () => {
  const noToken = await cli(env, ['create', '-d', 'digitalocean', ...NET, 'bad1'], {extraEnv: {DIGITALOCEAN_API_URL: sim.url, DIGITALOCEAN_ACCESS_TOKEN: ''}})
  assert.equal(noToken.code, 2)
  assert.match(noToken.stderr, /^Error: driver digitalocean needs an access token: pass --digitalocean-access-token or set DIGITALOCEAN_ACCESS_TOKEN/m)

  const region = await create('bad2', ['--digitalocean-region', 'mars1'])
  assert.equal(region.code, 2)
  assert.match(region.stderr, /^Error: unknown or unavailable DigitalOcean region "mars1": use one of: ams3, fra1, lon1, nyc3, sfo3, sgp1, tor1 \(--digitalocean-region \/ DIGITALOCEAN_REGION\)$/m)

  const size = await create('bad3', ['--digitalocean-size', 'xxl'])
  assert.equal(size.code, 2)
  assert.match(size.stderr, /^Error: unknown DigitalOcean size "xxl" for region nyc3: use one of: s-1vcpu-1gb, /m)

  const token = await cli(env, ['create', '-d', 'digitalocean', ...NET, 'bad4'], {extraEnv: {...doEnv(), DIGITALOCEAN_ACCESS_TOKEN: 'wrong'}})
  assert.notEqual(token.code, 0)
  assert.match(token.stderr, /^Error: DigitalOcean rejected the access token \(401 unauthorized\): check --digitalocean-access-token \/ DIGITALOCEAN_ACCESS_TOKEN$/m)
  for (const n of ['bad1', 'bad2', 'bad3', 'bad4']) await assertNothingLeft(n)
})

test('the example third-party driver is found through CLUSTER_DRIVER_PATH and used by cluster create -d example', async () => {
  const host = await startHost({name: `${PREFIX}-example`, image: 'trixie'})
  const extraEnv = {CLUSTER_DRIVER_PATH: join(REPO_ROOT, 'test/example-driver')}
  try {
    const r = await cli(env, ['create', '-d', 'example', '--example-ip', host.ip, '--example-ssh-key', SSH_KEY, ...NET, 'ex1'], {extraEnv})
    assert.equal(r.code, 0, r.stderr)
    const rows = JSON.parse(await cliOk(env, ['ls', '--json'], {extraEnv})) as {name: string; driver: string; state: string}[]
    assert.deepEqual(rows.map(x => [x.name, x.driver, x.state]), [['ex1', 'example', 'Running']])
    assert.equal(await cliOk(env, ['ip', 'ex1'], {extraEnv}), `${host.ip}\n`)
    await cliOk(env, ['rm', '-y', 'ex1'], {extraEnv})
    const unknown = await cli(env, ['create', '-d', 'example', '--example-ip', host.ip, 'ex2'])
    assert.notEqual(unknown.code, 0, 'without CLUSTER_DRIVER_PATH the driver is unknown')
  } finally {
    await removeHost(host.name)
  }
})
