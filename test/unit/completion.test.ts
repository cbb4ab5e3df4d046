/**
 * Where shell completion offers machine names (src/completion/position.ts), read from the
 * real oclif.manifest.json, and the additions to the plugin's scripts (src/completion/shells.ts).
 * test/integration/completion.test.ts runs them in real shells against a real store.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {REPO_ROOT} from '../lab/lab.js'
import {lineWords, machineArgSpecs, machineNamePrefix, type Manifest} from '../../src/completion/position.js'
import {bashWithMachineNames, posixMachineNames, powershellWithMachineNames, zshWithMachineNames} from '../../src/completion/shells.js'

const manifest = (JSON.parse(readFileSync(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Manifest}).commands
const at = (line: string): string | undefined => machineNamePrefix(lineWords(line, 'cluster'), manifest)

test('the words after the program; the last is the one being typed', () => {
  assert.deepEqual(lineWords('cluster rm ', 'cluster'), ['rm', ''])
  assert.deepEqual(lineWords('sudo /usr/local/bin/cluster  ssh "node-1"', 'cluster'), ['ssh', 'node-1'])
  assert.deepEqual(lineWords('', 'cluster'), [''])
})

test('machine names go in every machine argument, list arguments included, and nowhere else', () => {
  assert.equal(at('cluster rm no'), 'no')
  assert.equal(at('cluster rm -f node-1 '), '')
  assert.equal(at('cluster kv remove a b '), '')
  assert.equal(at('cluster inspect -f {{.Name}} '), '', 'the value of -f (an option) is skipped')
  assert.equal(at('cluster inspect -f'), undefined, 'a flag')
  assert.equal(at('cluster inspect --format='), undefined)
  assert.equal(at('cluster inspect --format={{.Name}} w'), 'w')
  assert.equal(at('cluster status -t 5 '), '')
  assert.equal(at('cluster status -t '), undefined, 'the value of -t')
  assert.equal(at('cluster status node-1 '), undefined, 'status takes one machine')
  assert.equal(at('cluster ssh node-1 -- '), undefined, 'after the name, the words are ssh\'s')
  assert.equal(at('cluster rm -- -odd'), '-odd', 'after --, a dash starts no flag')
  assert.equal(at('cluster create '), undefined)
  assert.equal(at('cluster create -d generic '), undefined)
  assert.equal(at('cluster dns rm '), undefined)
  assert.equal(at('cluster kv snapshot '), undefined, 'a file')
  assert.equal(at('cluster kv '), undefined, 'a topic: its commands come from the plugin')
  assert.equal(at('cluster nosuch '), undefined)
  assert.equal(at('cluster '), undefined)
})

test('the additions to the plugin\'s scripts are made once and keep the plugin\'s completion as the fallback', () => {
  const bash = '_cluster_autocomplete()\n{\n}\ncomplete -F _cluster_autocomplete cluster\n'
  const withNames = bashWithMachineNames(bash, 'cluster', manifest)
  assert.ok(withNames.startsWith(bash))
  assert.match(withNames, /_cluster_autocomplete\n}\ncomplete -F _cluster_complete cluster\n$/)
  assert.equal(bashWithMachineNames(withNames, 'cluster', manifest), withNames)

  const zsh = '#compdef cluster\n_cluster() {\n_arguments -S \\\n"*: :_files"\n}\n_cluster\n'
  const zshNames = zshWithMachineNames(zsh, 'cluster', manifest)
  assert.ok(zshNames.startsWith('#compdef cluster\n'), 'the #compdef line stays first')
  assert.ok(!zshNames.includes('"*: :_files"'))
  assert.match(zshNames, /\|\| \{ _files "\$@"; return \}/)
  assert.equal(zshWithMachineNames(zshNames, 'cluster', manifest), zshNames)

  const ps = '$scriptblock = {\n}\nRegister-ArgumentCompleter -Native -CommandName cluster -ScriptBlock $scriptblock\n'
  const psNames = powershellWithMachineNames(ps, 'cluster')
  assert.match(psNames, /\$pluginCompleter = \$scriptblock[\s\S]*& \$pluginCompleter [\s\S]*-ScriptBlock \$scriptblock\n$/)
  assert.equal(powershellWithMachineNames(psNames, 'cluster'), psNames)
})

test('the shells\' tables: where each command takes machines, and which flags take a value', () => {
  const specs = new Map(machineArgSpecs(manifest).map(s => [s.id, s]))
  assert.equal(specs.get('rm')?.machines, 'list')
  assert.equal(specs.get('ssh')?.machines, 'one')
  assert.equal(specs.get('kv:add')?.machines, 'list')
  for (const id of ['create', 'dns:add', 'ls', 'scp', 'kv:snapshot']) assert.equal(specs.get(id)?.machines, 'none', id)
  assert.ok(specs.get('inspect')?.valueFlags.includes('--format') && specs.get('inspect')?.valueFlags.includes('-f'))
  assert.ok(!specs.get('rm')?.valueFlags.includes('--force'), 'a boolean flag takes no value')
  const later = {x: {args: {file: {}, name: {}}, flags: {}}} satisfies Manifest
  assert.throws(() => machineArgSpecs(later), /x's machine argument 'name' is not its first/)
  const script = posixMachineNames('cluster', machineArgSpecs(manifest))
  assert.match(script, /^ {6}'kv add'\) spec='\* /m)
  assert.match(script, /^ {6}'create'\) spec='- /m)
})
