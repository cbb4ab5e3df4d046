/**
 * The driver registry: built-in drivers, third-party packages found through
 * CLUSTER_DRIVER_PATH (the example driver in test/example-driver, a scoped package, broken
 * ones), the error for an unknown name, and flag value resolution.
 */
import {test, after} from 'node:test'
import {noSsh} from '../support/errors.js'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {getDriver, listDrivers} from '../../src/drivers/registry.js'
import {resolveFlagValues} from '../../drivers/sdk/flags.js'
import type {DriverContext, DriverFlag} from '../../drivers/sdk/driver.js'
import {DriverError, InputError} from '../../core/errors.js'
import {REPO_ROOT} from '../lab/lab.js'

const EXAMPLE = join(REPO_ROOT, 'test/example-driver')
const root = mkdtempSync(join(tmpdir(), 'driver-registry-'))
after(() => rmSync(root, {recursive: true, force: true}))

/** Writes a package folder `<dir>/<name>` with the given package.json fields and index.js. */
function writePackage(dir: string, name: string, source: string, manifest: Record<string, unknown> = {}): void {
  const pkg = join(dir, name)
  mkdirSync(pkg, {recursive: true})
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({name, type: 'module', main: 'index.js', ...manifest}))
  writeFileSync(join(pkg, 'index.js'), source)
}

const factorySource = (name: string, flag = `${name}-thing`, exportLine = 'export default factory') => `
const factory = {name: '${name}', description: '${name} driver', flags: [{name: '${flag}', type: 'string', description: 'x'}],
  fromFlags() { return {} }, load() { return {} }}
${exportLine}
`

test('built-in drivers are found by name', async () => {
  for (const name of ['generic', 'digitalocean', 'virtualbox']) {
    const factory = await getDriver(name, {})
    assert.equal(factory.name, name)
    assert.ok(factory.flags.every(f => f.name.startsWith(`${name}-`)), `${name} flags carry the driver prefix`)
  }
  assert.deepEqual((await listDrivers({})).map(d => [d.name, d.source]),
    [['generic', 'built-in'], ['digitalocean', 'built-in'], ['virtualbox', 'built-in']])
})

test('the example package is found through CLUSTER_DRIVER_PATH, loaded and usable', async () => {
  const env = {CLUSTER_DRIVER_PATH: EXAMPLE}
  const listed = await listDrivers(env)
  assert.deepEqual(listed.at(-1), {name: 'example', description: 'example third-party driver: adopts a machine by IP over SSH (test fixture for the driver registry)', source: EXAMPLE})

  const factory = await getDriver('example', env)
  assert.equal(factory.name, 'example')
  assert.deepEqual(factory.flags.map(f => f.name), ['example-ip', 'example-ssh-user', 'example-ssh-port', 'example-ssh-key'])

  // A loopback listener stands in for sshd: state() only checks that the port accepts.
  const server = createServer(s => s.destroy())
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as {port: number}).port
  const ctx: DriverContext = {machineName: 'ex1', machineDir: root, cacheDir: join(root, 'cache'), progress: () => {}, save: async () => {}, signal: new AbortController().signal, sshExec: noSsh}
  const values = resolveFlagValues(factory.flags, {'example-ip': '127.0.0.1', 'example-ssh-port': port}, {})
  const driver = factory.fromFlags(values, ctx)
  await driver.create()
  assert.deepEqual(driver.ssh(), {host: '127.0.0.1', port, user: 'root', privateKeyPath: undefined})
  assert.deepEqual(await driver.addresses(), {public: '127.0.0.1'})
  assert.equal(await driver.state(), 'Running')
  await new Promise(r => server.close(r))
  assert.equal(await factory.load(driver.data(), ctx).state(), 'Stopped')
})

test('scoped packages in a node_modules-like folder are found; built-in names cannot be taken over', async () => {
  const dir = join(root, 'node_modules')
  writePackage(join(dir, '@acme'), 'cluster-driver-scoped', factorySource('scoped', 'scoped-thing', 'export const driver = factory'),
    {name: '@acme/cluster-driver-scoped'})
  writePackage(dir, 'cluster-driver-digitalocean', factorySource('digitalocean'))
  writePackage(dir, 'not-a-driver', factorySource('nope'))
  const env = {CLUSTER_DRIVER_PATH: dir}
  assert.equal((await getDriver('scoped', env)).description, 'scoped driver')
  assert.equal((await getDriver('digitalocean', env)).description, 'create droplets on DigitalOcean (API v2)')
  assert.deepEqual((await listDrivers(env)).map(d => d.name), ['generic', 'digitalocean', 'virtualbox', 'scoped'])
})

test('an unknown driver is one line listing the known ones', async () => {
  const err = await getDriver('nope', {CLUSTER_DRIVER_PATH: EXAMPLE}).catch(e => e)
  assert.ok(err instanceof InputError)
  assert.equal(err.oneLine(), 'unknown driver "nope": use one of: generic, digitalocean, virtualbox, example; or install the npm package cluster-driver-nope (or add its folder to CLUSTER_DRIVER_PATH)')
  assert.ok(await getDriver('../etc', {}).catch(e => e) instanceof InputError)
})

test('broken driver packages are reported, not half-loaded', async () => {
  const dir = join(root, 'broken')
  writePackage(dir, 'cluster-driver-misnamed', factorySource('other'))
  writePackage(dir, 'cluster-driver-stray', factorySource('stray', 'ip-address'))
  writePackage(dir, 'cluster-driver-syntax', 'export default {')
  writePackage(dir, 'cluster-driver-empty', 'export const nothing = 1')
  const env = {CLUSTER_DRIVER_PATH: dir}
  const problem = async (name: string) => {
    const err = await getDriver(name, env).catch(e => e)
    assert.ok(err instanceof DriverError, `${name}: ${String(err)}`)
    return err.oneLine()
  }
  assert.match(await problem('misnamed'), /cluster-driver-misnamed is not a valid cluster driver: its factory is named "other", expected "misnamed"/)
  assert.match(await problem('stray'), /flag --ip-address must start with "stray-"/)
  assert.match(await problem('syntax'), /cluster-driver-syntax could not be loaded: .*: reinstall the package/)
  assert.match(await problem('empty'), /it exports no factory/)
})

test('resolveFlagValues: command line, then env var, then default, converted to the flag type', () => {
  const flags: DriverFlag[] = [
    {name: 'd-count', type: 'integer', env: 'D_COUNT', default: 1, description: ''},
    {name: 'd-on', type: 'boolean', env: 'D_ON', default: false, description: ''},
    {name: 'd-list', type: 'string[]', env: 'D_LIST', description: ''},
    {name: 'd-name', type: 'string', env: 'D_NAME', default: 'x', description: ''},
  ]
  assert.deepEqual(resolveFlagValues(flags, {}, {}), {'d-count': 1, 'd-on': false, 'd-list': undefined, 'd-name': 'x'})
  assert.deepEqual(resolveFlagValues(flags, {}, {D_COUNT: '3', D_ON: 'yes', D_LIST: 'a, b,,c', D_NAME: 'env'}),
    {'d-count': 3, 'd-on': true, 'd-list': ['a', 'b', 'c'], 'd-name': 'env'})
  assert.deepEqual(resolveFlagValues(flags, {'d-count': 5, 'd-name': 'cli'}, {D_COUNT: '3', D_NAME: 'env'}),
    {'d-count': 5, 'd-on': false, 'd-list': undefined, 'd-name': 'cli'})
  assert.throws(() => resolveFlagValues(flags, {}, {D_COUNT: '2.5'}), /^InputError: D_COUNT "2.5" is not a whole number$/)
  assert.throws(() => resolveFlagValues(flags, {}, {D_ON: 'maybe'}), (e: unknown) => e instanceof InputError && e.oneLine() === 'D_ON "maybe" is not a boolean: set D_ON to true or false')
})

test('a driver package gets the CLI\'s own SDK for `machine-cluster/driver-sdk`: its errors are the CLI\'s classes', async () => {
  const factory = await getDriver('example', {CLUSTER_DRIVER_PATH: EXAMPLE})
  const ctx: DriverContext = {machineName: 'ex2', machineDir: root, cacheDir: join(root, 'cache'), progress: () => {}, save: async () => {}, signal: new AbortController().signal, sshExec: noSsh}
  assert.throws(() => factory.fromFlags(resolveFlagValues(factory.flags, {}, {}), ctx),
    (e: unknown) => e instanceof InputError && e.oneLine() === 'driver example needs the machine\'s address: pass --example-ip (or set EXAMPLE_IP)')
})
