/**
 * The package as a user gets it: `npm pack` of this tree, then `npm i -g --prefix TMP TARBALL`
 * (the README's install), then the installed `cluster` runs: --version, `create --help`,
 * completion, and the router bundle `cluster create` deploys is inside the installed package.
 * npm takes the dependencies' tarballs from its cache (--prefer-offline) and their metadata
 * from the registry; with neither reachable the test says so in one line and skips.
 */
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {run, REPO_ROOT} from '../lab/lab.js'

const dir = mkdtempSync(join(tmpdir(), 'cluster-install-'))
after(() => rmSync(dir, {recursive: true, force: true}))

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {name: string; version: string; bin: Record<string, string>}
/** npm's codes for "neither its cache nor the registry had it". */
const UNREACHABLE = /\b(ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH)\b/

test('npm i -g of the packed tarball installs a `cluster` that runs and carries the router bundle', async t => {
  assert.notEqual(pkg.name, 'cluster', 'the registry name `cluster` is another project\'s')
  assert.deepEqual(Object.keys(pkg.bin), ['cluster'], 'the command stays `cluster`')

  // --ignore-scripts: prepack would rebuild dist/ (without the tests this run uses); the
  // package's file list leaves dist/test and dist/bench out (test/unit/package.test.ts).
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--no-update-notifier', '--pack-destination', dir], {timeoutMs: 120_000})
  assert.equal(packed.code, 0, packed.stderr)
  const tarball = join(dir, packed.stdout.trim().split('\n').at(-1)!)

  const prefix = join(dir, 'prefix')
  // One retry, soon: npm's default (2 retries, backing off to a minute) spends minutes on a
  // registry that cannot be reached before saying so.
  const install = await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier',
    '--fetch-retries', '1', '--fetch-retry-mintimeout', '2000', '--fetch-retry-maxtimeout', '10000', tarball], {timeoutMs: 600_000})
  if (install.code !== 0 && UNREACHABLE.test(install.stderr)) {
    t.skip(`cannot run: npm reached neither its cache nor the registry for the dependencies (${UNREACHABLE.exec(install.stderr)![1]})`)
    return
  }
  assert.equal(install.code, 0, install.stderr)

  const cluster = join(prefix, 'bin/cluster')
  const store = join(dir, 'store')
  const inEnv = (args: string[]) => run('env', [`CLUSTER_STORAGE_PATH=${store}`, `XDG_CACHE_HOME=${join(dir, 'cache')}`, cluster, ...args], {timeoutMs: 60_000})

  const version = await inEnv(['--version'])
  assert.equal(version.code, 0, version.stderr)
  assert.match(version.stdout, new RegExp(`^${pkg.name}/${pkg.version.replaceAll('.', '\\.')} `))

  const help = await inEnv(['create', '--help'])
  assert.equal(help.code, 0, help.stderr)
  assert.match(help.stdout, /USAGE\n {2}\$ cluster create NAME/)
  assert.match(help.stdout, /--generic-ip-address/, 'the built-in drivers\' flags are listed')

  // The agent `cluster create` copies to each machine (src/agent/deploy.ts: dist/router.cjs).
  const installed = join(prefix, 'lib/node_modules', pkg.name)
  assert.deepEqual(readFileSync(join(installed, 'dist/router.cjs')), readFileSync(join(REPO_ROOT, 'dist/router.cjs')))

  // Completion works from where npm put the package: the plugin and the store's names.
  mkdirSync(join(store, 'machines/node-1'), {recursive: true})
  writeFileSync(join(store, 'machines/node-1/machine.json'), '{}\n')
  const names = await inEnv(['__complete', 'cluster rm '])
  assert.deepEqual([names.code, names.stdout], [0, 'node-1\n'], names.stderr)
  const script = await inEnv(['autocomplete', 'script', 'bash'])
  assert.equal(script.code, 0, script.stderr)
  assert.match(script.stdout, /CLUSTER_AC_BASH_SETUP_PATH=/)
})
