/**
 * A hybrid cluster with one store: with no etcd configured, `create -d digitalocean` (the
 * API simulator, whose droplets are real lab hosts) makes the droplet the first member of
 * the cluster's own etcd; a generic lab host then joins the same cluster on that etcd. Both
 * are Running, a container on each reaches the other by name over the overlay, and removing
 * both leaves no droplet, no key and no lab host behind, whether the test passes or not.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {IMAGES, LAB_OVERLAY_RANGE, SSH_KEY, exec, execOk, loadImage, removeHost, run, type LabHost} from '../lab/lab.js'
import {startLabHost} from '../../bench/overlay/lab-overlay.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'
import {waitFor} from '../support/wait.js'
import {DoSimulator} from '../do-sim/server.js'
import {LabBackend} from '../do-sim/lab-backend.js'

const TOKEN = `e2e-hybrid-token-${process.pid}`
const CLUSTER = `e2e-hybrid-${process.pid}`
/** Lab container names of the droplets: `<PREFIX>-<droplet id>`. */
const PREFIX = `hybrid-e2e-${process.pid}`
const GENERIC = `hybride2e-g1-${process.pid}`
/** No etcd anywhere: CLUSTER_KV_ENDPOINTS is empty, the store's config names none. */
const env: CliEnv = newCliEnv(CLUSTER, '')
const backend = new LabBackend({prefix: PREFIX, imageFor: () => 'trixie'})
let sim: DoSimulator
let generic: LabHost
const doEnv = () => ({DIGITALOCEAN_ACCESS_TOKEN: TOKEN, DIGITALOCEAN_API_URL: sim.url})
const config = () => JSON.parse(readFileSync(join(env.storage, 'config.json'), 'utf8')) as {kv?: {endpoints: string[]}}
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`

/** The droplet's lab container and its addresses, as the simulator made them. */
function droplet(): {container: string; publicIp: string; privateIp: string} {
  const [d] = sim.snapshot().droplets
  assert.ok(d, 'the simulator holds a droplet')
  const ip = (type: string) => d.networks.v4.find(n => n.type === type)!.ip_address
  return {container: `${PREFIX}-${d.id}`, publicIp: ip('public'), privateIp: ip('private')}
}

/** A sleeping busybox named `name` on lab container `host`; returns its overlay address. */
async function sleeper(host: string, name: string): Promise<string> {
  await execOk(host, ['docker', 'run', '-d', '--name', name, IMAGES.busybox, 'sleep', '3600'])
  return (await execOk(host, ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim()
}

before(async () => {
  sim = new DoSimulator({token: TOKEN, backend, readyPollMs: 250})
  await sim.listen()
  generic = await startLabHost(GENERIC)
})

after(async () => {
  // The generic machine first: the droplet runs the etcd it needs to leave cleanly.
  await cli(env, ['rm', '-f', '-y', 'g1'], {extraEnv: doEnv()})
  await cli(env, ['rm', '-f', '-y', 'd1'], {extraEnv: doEnv()})
  // Whatever a failed rm left: the droplets' lab hosts go with the simulator's account.
  for (const d of sim.snapshot().droplets) await backend.destroy(d.id)
  await sim.close()
  await removeHost(GENERIC)
  rmSync(env.storage, {recursive: true, force: true})
  console.log(`cleaned up at ${since()}`)
})

test('the first droplet hosts the store; a generic lab host joins the same cluster; containers reach each other by name; rm leaves no droplet', async () => {
  const started = Date.now()
  const d1 = await cli(env, ['create', '-d', 'digitalocean', '--digitalocean-image', 'debian-13-x64', '--overlay-range', LAB_OVERLAY_RANGE, 'd1'], {extraEnv: doEnv()})
  assert.equal(d1.code, 0, d1.stderr)
  console.log(`create -d digitalocean d1 with its own etcd: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.match(d1.stderr, /No etcd is configured: making d1 the first member of the cluster's own etcd \(TLS, RBAC\)/)
  const {container, publicIp, privateIp} = droplet()
  const endpoints = config().kv?.endpoints
  assert.deepEqual(endpoints, [`https://${publicIp}:2379`], `the store's config names the droplet's etcd (private ${privateIp})`)
  assert.equal(await execOk(container, ['systemctl', 'is-active', 'cluster-etcd']), 'active\n')
  const members = () => cliOk(env, ['kv', 'status', '--json']).then(s => (JSON.parse(s) as {members: {name: string; healthy: boolean}[]}).members.map(m => [m.name, m.healthy]))
  assert.deepEqual(await members(), [['d1', true]])

  const joined = Date.now()
  const g1 = await cli(env, ['create', '-d', 'generic', '--generic-ip-address', generic.ip, '--generic-ssh-key', SSH_KEY, 'g1'])
  assert.equal(g1.code, 0, g1.stderr)
  console.log(`create -d generic g1 on the droplet's etcd: ${((Date.now() - joined) / 1000).toFixed(1)} s`)
  assert.doesNotMatch(g1.stderr, /No etcd is configured/)
  assert.deepEqual(config().kv?.endpoints, endpoints, 'one store: the generic host joined the droplet\'s etcd')
  const router = JSON.parse(await execOk(GENERIC, ['cat', '/etc/cluster/router.json'])) as {kv: {endpoints: string[]}}
  assert.deepEqual(router.kv.endpoints, endpoints, 'the generic host\'s router uses the droplet\'s etcd')
  const rows = JSON.parse(await cliOk(env, ['ls', '--json'], {extraEnv: doEnv()})) as {name: string; driver: string; state: string}[]
  assert.deepEqual(rows.map(r => [r.name, r.driver, r.state]), [['d1', 'digitalocean', 'Running'], ['g1', 'generic', 'Running']])
  assert.deepEqual(await members(), [['d1', true]], 'two machines keep one member (kv-members auto)')

  // A container on each host reaches the other by name, across drivers.
  await loadImage(container)
  const ipD = await sleeper(container, 'webd')
  const ipG = await sleeper(GENERIC, 'webg')
  for (const [host, from, to, ip] of [[container, 'webd', 'webg', ipG], [GENERIC, 'webg', 'webd', ipD]] as const) {
    await waitFor(`${to} answers ${from}'s ping by name`, async () => {
      const r = await exec(host, ['docker', 'exec', from, 'ping', '-c', '1', '-W', '2', to])
      return r.code === 0 && r.stdout.includes(ip) ? r : undefined
    }, 60_000, 1000)
  }
  console.log(`containers reach each other by name at ${since()}`)

  await cliOk(env, ['rm', '-y', 'g1'], {extraEnv: doEnv()})
  await cliOk(env, ['rm', '-f', '-y', 'd1'], {extraEnv: doEnv()})
  assert.deepEqual(sim.snapshot(), {droplets: [], keys: []}, 'no droplet and no key left')
  const left = await run('docker', ['ps', '-a', '--filter', 'label=cluster.do-sim=1', '--format', '{{.Names}}'])
  assert.deepEqual(left.stdout.split('\n').filter(n => n.startsWith(PREFIX)), [], 'no droplet lab host left')
  assert.equal(config().kv, undefined, 'the store forgets the etcd that went with its last member')
  for (const path of ['/etc/cluster/router.json', '/etc/cluster/kv']) assert.equal((await exec(GENERIC, ['test', '-e', path])).code, 1, `no ${path} left on the generic host`)
})
