/**
 * Issue 15's install, end to end: the packed tarball installed with `npm i -g --prefix`, and the
 * installed `cluster` (not this tree's) creates a machine on a fresh lab host with no etcd
 * configured: the router bundle inside the package runs there, and `rm` takes it all away.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {LAB_OVERLAY_RANGE, SSH_KEY, execOk, removeHost, type LabHost} from '../lab/lab.js'
import {startLabHost} from '../../bench/overlay/lab-overlay.js'
import {cli, cliOk, newCliEnv} from '../support/cli.js'
import {installPacked, PACKAGE, type Installed} from '../support/package.js'
import {ROUTER_PATH} from '../../src/agent/unit.js'

const HOST = 'pkge2e-1'
const dir = mkdtempSync(join(tmpdir(), 'cluster-pkg-e2e-'))
const env = newCliEnv(`e2e-pkg-${process.pid}`, '')
let host: LabHost
let installed: Installed

before(async () => {
  ;[host, installed] = await Promise.all([startLabHost(HOST), installPacked(dir)])
  if ('bin' in installed) env.bin = installed.bin
})

after(async () => {
  if (env.bin) await cli(env, ['rm', '-f', '-y', HOST])
  await removeHost(HOST)
  rmSync(dir, {recursive: true, force: true})
  rmSync(env.storage, {recursive: true, force: true})
})

test('the installed package creates a machine (its own etcd, the router it carries) and removes it', async t => {
  if ('unreachable' in installed) {
    t.skip(`cannot run: npm reached neither its cache nor the registry for the dependencies (${installed.unreachable})`)
    return
  }
  assert.match(await cliOk(env, ['--version']), new RegExp(`^cluster version ${PACKAGE.version.replaceAll('.', '\\.')} `))
  await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', LAB_OVERLAY_RANGE, 'p1'])
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'state=Running']), 'p1\n')
  assert.equal(await execOk(HOST, ['systemctl', 'is-active', 'cluster-router', 'cluster-etcd']), 'active\nactive\n')
  // The agent on the host is the bundle the package carries.
  const onHost = (await execOk(HOST, ['sha256sum', ROUTER_PATH])).split(' ')[0]
  assert.equal(onHost, createHash('sha256').update(readFileSync(join(installed.root, 'dist/router.cjs'))).digest('hex'))
  await cliOk(env, ['rm', '-f', '-y', 'p1'])
  assert.match((await cli(env, ['ls'])).stderr, /^Error: no etcd endpoint is configured/m, 'the store forgot the etcd of its last machine')
  assert.equal(await execOk(HOST, ['sh', '-c', 'find /etc/cluster /usr/local/lib/cluster /var/lib/cluster-etcd -type f 2>/dev/null | wc -l']), '0\n',
    'rm leaves no file of the cluster on the host')
})
