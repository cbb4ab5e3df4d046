/**
 * What `npm pack` would publish (from the dist/ built for the tests, so dist/test and
 * dist/bench are there to be left out): no tests, no benchmarks, and everything the CLI and
 * third-party drivers need: the router bundle, the commands, the driver SDK its exports name.
 */
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {REPO_ROOT} from '../lab/lab.js'

// --ignore-scripts: prepack would rebuild dist/ without the tests, and this checks the file list as it is.
// --offline, no update check, a cache of its own: no network, and nothing written to ~/.npm.
const cache = mkdtempSync(join(tmpdir(), 'npm-pack-'))
after(() => rmSync(cache, {recursive: true, force: true}))
const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--offline', '--no-update-notifier', '--cache', cache],
  {cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})) as Array<{files: Array<{path: string}>}>
const files = packed[0].files.map(f => f.path)

test('the package holds no tests and no benchmarks', () => {
  assert.ok(files.length > 0)
  const stray = files.filter(path => /(^|\/)(test|bench)\//.test(path) || /\.test\.js$/.test(path))
  assert.deepEqual(stray, [])
})

test('the package holds the CLI, the router bundle and the driver SDK its exports name', () => {
  for (const path of ['bin/run.js', 'oclif.manifest.json', 'dist/router.cjs', 'dist/commands/create.js', 'dist/drivers/sdk/index.js']) {
    assert.ok(files.includes(path), `${path} is in the package`)
  }
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {exports: Record<string, string | Record<string, string>>}
  assert.ok(manifest.exports['./driver-sdk'], 'the driver SDK is exported')
  for (const [name, conditions] of Object.entries(manifest.exports)) {
    for (const target of typeof conditions === 'string' ? [conditions] : Object.values(conditions)) {
      assert.ok(files.includes(target.replace(/^\.\//, '')), `exports["${name}"] → ${target} is in the package`)
    }
  }
})
