/**
 * The digitalocean driver itself against the simulator with real lab hosts as droplets (no
 * CLI, no provisioning): the uploaded key is the only one that logs in, private addresses
 * reach each other, user data runs, power actions really stop and start the host, and
 * remove leaves no droplet, key or container.
 */
import {test, before, after} from 'node:test'
import {noSsh} from '../support/errors.js'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Driver, DriverContext, FlagValues} from '../../drivers/sdk/driver.js'
import {createDigitalOceanFactory} from '../../drivers/digitalocean/index.js'
import {DoSimulator} from '../do-sim/server.js'
import {LabBackend} from '../do-sim/lab-backend.js'
import {inspectHost, run, SSH_KEY, type RunResult} from '../lab/lab.js'

const TOKEN = 'e2e-do-driver-token'
const PREFIX = `do-drv-${process.pid}`
const factory = createDigitalOceanFactory({pollIntervalMs: 500, waitTimeoutMs: 120_000})
const root = mkdtempSync(join(tmpdir(), 'do-driver-e2e-'))
let sim: DoSimulator

function ctx(name: string): DriverContext {
  return {machineName: name, machineDir: mkdtempSync(join(root, `${name}-`)), cacheDir: join(root, 'cache'), progress: () => {}, save: async () => {}, signal: new AbortController().signal, sshExec: noSsh}
}

function flags(extra: FlagValues = {}): FlagValues {
  return {'digitalocean-access-token': TOKEN, 'digitalocean-api-url': sim.url, 'digitalocean-image': 'debian-12-x64', ...extra}
}

/** ssh(1) with only the given key, no agent, no known_hosts (lab hosts get fresh host keys). */
function sshWith(key: string, driver: Driver, command: string): Promise<RunResult> {
  const t = driver.ssh()
  return run('ssh', ['-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5', '-p', String(t.port),
    `${t.user}@${t.host}`, command], {timeoutMs: 30_000})
}

async function labContainers(): Promise<string[]> {
  const r = await run('docker', ['ps', '-a', '--filter', 'label=cluster.do-sim=1', '--format', '{{.Names}}'])
  return r.stdout.split('\n').filter(n => n.startsWith(PREFIX))
}

before(async () => {
  sim = new DoSimulator({token: TOKEN, backend: new LabBackend({prefix: PREFIX}), readyPollMs: 250})
  await sim.listen()
})

after(async () => {
  await sim.close()
  rmSync(root, {recursive: true, force: true})
})

test('two droplets: SSH with the uploaded key only, private network, user data, stop/start, remove leaves nothing', async () => {
  const userData = join(root, 'user-data.sh')
  writeFileSync(userData, '#!/bin/sh\necho "made by user data" > /root/user-data-ran\n')
  const ca = ctx('drv-a')
  const cb = ctx('drv-b')
  const a = factory.fromFlags(flags({'digitalocean-userdata': userData}), ca)
  const b = factory.fromFlags(flags(), cb)
  await Promise.all([a.preCreateCheck(), b.preCreateCheck()])
  const started = Date.now()
  await Promise.all([a.create(), b.create()])
  const createSeconds = (Date.now() - started) / 1000
  process.stderr.write(`# two droplets active in ${createSeconds.toFixed(1)} s\n`)
  try {
    const [addrA, addrB] = await Promise.all([a.addresses(), b.addresses()])
    assert.match(addrA.public, /^198\.18\.0\.\d+$/)
    assert.match(addrA.private!, /^198\.18\.100\.\d+$/)

    const keyA = a.ssh().privateKeyPath!
    const hello = await sshWith(keyA, a, 'hostname && cat /root/user-data-ran')
    assert.equal(hello.code, 0, hello.stderr)
    assert.match(hello.stdout, /made by user data/)
    const labKey = await sshWith(SSH_KEY, a, 'true')
    assert.notEqual(labKey.code, 0, 'only the uploaded key is authorized')
    const crossKey = await sshWith(keyA, b, 'true')
    assert.notEqual(crossKey.code, 0, 'each droplet trusts only its own key')

    const ping = await sshWith(keyA, a, `ping -c 1 -W 3 ${addrB.private}`)
    assert.equal(ping.code, 0, `private address of b reachable from a: ${ping.stdout}${ping.stderr}`)

    const hostB = `${PREFIX}-${b.data().dropletId}`
    await b.stop()
    assert.equal(await b.state(), 'Stopped')
    assert.equal((await inspectHost(hostB))!.running, false, 'shutdown stops the lab host')
    await b.start()
    assert.equal(await b.state(), 'Running')
    const again = await sshWith(b.ssh().privateKeyPath!, b, 'true')
    assert.equal(again.code, 0, `SSH after power_on: ${again.stderr}`)
    await b.kill()
    assert.equal((await inspectHost(hostB))!.running, false, 'power_off stops the lab host')
  } finally {
    await Promise.all([a.remove(), b.remove()])
  }
  assert.deepEqual(sim.snapshot(), {droplets: [], keys: []})
  assert.deepEqual(await labContainers(), [])
})
