/**
 * `cluster use`: docker contexts made from the store, judged with the real docker CLI
 * (its own config folder, never this computer's) against a swarm master on a lab host of
 * this test's own.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, SSH_KEY, removeHost, run, startHost, type LabHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'

const CLUSTER = `e2e-context-${process.pid}`
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const DOCKER_CONFIG = mkdtempSync(join(tmpdir(), 'cluster-docker-config-'))
const extraEnv = {DOCKER_CONFIG}
let host: LabHost

/** The stock docker client with no DOCKER_HOST: whatever the current context says. */
const docker = (args: string[]) => run('env', ['-u', 'DOCKER_HOST', '-u', 'DOCKER_CONTEXT', `DOCKER_CONFIG=${DOCKER_CONFIG}`, 'docker', ...args], {timeoutMs: 60_000})
const clusterNoHost = (args: string[]) => run('env', ['-u', 'DOCKER_HOST', `DOCKER_CONFIG=${DOCKER_CONFIG}`, `CLUSTER_STORAGE_PATH=${env.storage}`,
  `CLUSTER_KV_ENDPOINTS=${env.endpoints}`, `CLUSTER_NAME=${env.clusterName}`, process.execPath, 'bin/run.js', ...args], {timeoutMs: 120_000})

before(async () => {
  host = await startHost({name: 'e2e-ctx', image: 'trixie'})
  await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', '198.19.0.0/16',
    '--swarm', '--swarm-master', '--swarm-opt', 'default-addr-pool=198.18.224.0/20', 'ctx1'])
})

after(async () => {
  await cli(env, ['rm', '-f', '-y', 'ctx1'], {extraEnv})
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  await etcd.delete().prefix(`/cluster/${CLUSTER}/`).exec()
  etcd.close()
  await removeHost(host.name)
})

test('use NAME: a context named after the machine, current, reaching its engine over TLS; ls and active see it', async () => {
  assert.equal((await clusterNoHost(['use', 'ctx1'])).code, 0)
  assert.equal((await docker(['context', 'show'])).stdout.trim(), 'ctx1')
  const info = await docker(['info', '--format', '{{.Name}}'])
  assert.equal(info.code, 0, info.stderr)
  assert.equal(info.stdout.trim(), (await run('docker', ['exec', host.name, 'hostname'])).stdout.trim())
  const ls = await clusterNoHost(['ls', '--filter', 'name=ctx1'])
  assert.match(ls.stdout.split('\n')[1], /^ctx1\s+\*\s+generic\s+Running/)
  assert.doesNotMatch(ls.stdout, /\(swarm\)/)
  assert.equal((await clusterNoHost(['active'])).stdout, 'ctx1\n')
  // DOCKER_CONTEXT names the context the same way for this one shell.
  assert.equal((await docker(['--context', 'ctx1', 'context', 'inspect', '--format', '{{.Endpoints.docker.Host}}'])).stdout.trim(), `tcp://${host.ip}:2376`)
})

test('use --swarm: the context points at the manager and ls marks it `* (swarm)`; use again updates it', async () => {
  assert.equal((await clusterNoHost(['use', '--swarm', 'ctx1'])).code, 0)
  assert.equal((await docker(['info', '--format', '{{.Swarm.ControlAvailable}}'])).stdout.trim(), 'true')
  assert.match((await clusterNoHost(['ls', '--filter', 'name=ctx1'])).stdout.split('\n')[1], /^ctx1\s+\* \(swarm\)\s+generic/)
  assert.equal((await clusterNoHost(['use', 'ctx1'])).code, 0)
  assert.match((await clusterNoHost(['ls', '--filter', 'name=ctx1'])).stdout.split('\n')[1], /^ctx1\s+\*\s+generic/)
})

test('use --unset goes back to the default context; rm removes the machine\'s context', async () => {
  assert.equal((await clusterNoHost(['use', '--unset'])).code, 0)
  assert.equal((await docker(['context', 'show'])).stdout.trim(), 'default')
  assert.match((await clusterNoHost(['ls', '--filter', 'name=ctx1'])).stdout.split('\n')[1], /^ctx1\s+-\s+generic/)
  const bad = await clusterNoHost(['use', '--unset', 'ctx1'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /^Error: expected no machine name with --unset/)
  assert.equal((await clusterNoHost(['use', 'ctx1'])).code, 0)
  await cliOk(env, ['rm', '-y', 'ctx1'], {extraEnv})
  const contexts = (await docker(['context', 'ls', '--format', '{{.Name}}'])).stdout.trim().split('\n')
  assert.deepEqual(contexts, ['default'])
  assert.equal((await docker(['context', 'show'])).stdout.trim(), 'default')
  assert.doesNotMatch(readFileSync(join(DOCKER_CONFIG, 'config.json'), 'utf8'), /ctx1/)
})
