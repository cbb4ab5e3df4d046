/**
 * The package as a user gets it (test/support/package.ts), then the installed `cluster` runs:
 * --version, `create --help`, completion, and the router bundle `cluster create` deploys is
 * inside the installed package; test/e2e/package-create.test.ts creates a machine with it.
 * With neither npm's cache nor the registry reachable the test says so in one line and skips.
 */
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {run, REPO_ROOT} from '../lab/lab.js'
import {installPacked, PACKAGE as pkg} from '../support/package.js'

const dir = mkdtempSync(join(tmpdir(), 'cluster-install-'))
after(() => rmSync(dir, {recursive: true, force: true}))

test('npm i -g of the packed tarball installs a `cluster` that runs and carries the router bundle', async t => {
  assert.notEqual(pkg.name, 'cluster', 'the registry name `cluster` is another project\'s')
  assert.deepEqual(Object.keys(pkg.bin), ['cluster'], 'the command stays `cluster`')
  const installed = await installPacked(dir)
  if ('unreachable' in installed) {
    t.skip(`cannot run: npm reached neither its cache nor the registry for the dependencies (${installed.unreachable})`)
    return
  }
  const cluster = installed.bin
  const store = join(dir, 'store')
  const inEnv = (args: string[]) => run('env', [`CLUSTER_STORAGE_PATH=${store}`, `XDG_CACHE_HOME=${join(dir, 'cache')}`, cluster, ...args], {timeoutMs: 60_000})

  const version = await inEnv(['--version'])
  assert.equal(version.code, 0, version.stderr)
  assert.match(version.stdout, new RegExp(`^cluster version ${pkg.version.replaceAll('.', '\\.')} \\(node `))

  const help = await inEnv(['create', '--help'])
  assert.equal(help.code, 0, help.stderr)
  assert.match(help.stdout, /USAGE\n {2}\$ cluster create NAME/)
  assert.match(help.stdout, /--generic-ip-address/, 'the built-in drivers\' flags are listed')

  // The agent `cluster create` copies to each machine (src/agent/deploy.ts: dist/router.cjs).
  assert.deepEqual(readFileSync(join(installed.root, 'dist/router.cjs')), readFileSync(join(REPO_ROOT, 'dist/router.cjs')))

  // Completion works from where npm put the package: the plugin and the store's names.
  mkdirSync(join(store, 'machines/node-1'), {recursive: true})
  writeFileSync(join(store, 'machines/node-1/machine.json'), '{}\n')
  const names = await inEnv(['__complete', 'cluster rm '])
  assert.deepEqual([names.code, names.stdout], [0, 'node-1\n'], names.stderr)
  const script = await inEnv(['autocomplete', 'script', 'bash'])
  assert.equal(script.code, 0, script.stderr)
  assert.match(script.stdout, /CLUSTER_AC_BASH_SETUP_PATH=/)
})
