/**
 * Docker Machine's its/cli/help_test.go, ported: help and version as its users type them.
 * `-h` after any verb prints that verb's help and exits 0; `cluster` alone prints the usage;
 * `-v`/`--version` print the version line. Our help's wording is oclif's (USAGE, not Usage:).
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {cli, newCliEnv} from '../support/cli.js'

// A store of its own and an etcd nobody answers at: help must need neither.
const env = newCliEnv('help', 'http://127.0.0.1:9')
const VERBS = ['active', 'config', 'create', 'env', 'inspect', 'ip', 'kill', 'ls', 'regenerate-certs', 'restart', 'rm', 'scp', 'ssh', 'start', 'status', 'stop', 'upgrade', 'url']

test('help_test.go: `cluster VERB -h` shows that verb\'s help and exits 0 for every verb Docker Machine has', async () => {
  const results = await Promise.all(VERBS.map(verb => cli(env, [verb, '-h'], {timeoutMs: 60_000})))
  VERBS.forEach((verb, i) => {
    assert.equal(results[i]!.code, 0, `${verb} -h: ${results[i]!.stderr}`)
    assert.match(results[i]!.stdout, new RegExp(`^USAGE\\n\\s+\\$ cluster ${verb}\\b`, 'm'), verb)
  })
})

test('help_test.go: `cluster` and `cluster --help` show the usage; `-v` and `--version` the version', async () => {
  for (const args of [[], ['--help']]) {
    const r = await cli(env, args, {timeoutMs: 60_000})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^USAGE\n\s+\$ cluster \[COMMAND\]/m)
    assert.match(r.stdout, /one Docker cluster/)
  }
  for (const flag of ['-v', '--version']) {
    const r = await cli(env, [flag], {timeoutMs: 60_000})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^cluster version \d+\.\d+\.\d+ \(node v\d+/)
  }
})

test('driver_help_test.go: `create -d DRIVER` without a name fails naming it; with -h or --help it shows the driver\'s flags', async () => {
  for (const driver of ['generic', 'digitalocean', 'virtualbox']) {
    const bare = await cli(env, ['create', '-d', driver], {timeoutMs: 60_000})
    assert.equal(bare.code, 2, bare.stderr)
    assert.equal(bare.stderr, 'Error: Missing 1 required arg: name: see `cluster create --help`\n')
    for (const help of ['-h', '--help']) {
      const r = await cli(env, ['create', '-d', driver, help], {timeoutMs: 60_000})
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`--${driver}-\\S+`), `${driver} ${help}`)
    }
  }
})
