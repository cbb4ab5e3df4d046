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
import {lineWords, machineNamePrefix, type Manifest} from '../../src/completion/position.js'
import {bashWithMachineNames, powershellWithMachineNames, zshWithMachineNames} from '../../src/completion/shells.js'

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
  const withNames = bashWithMachineNames(bash, 'cluster')
  assert.ok(withNames.startsWith(bash))
  assert.match(withNames, /_cluster_autocomplete\n}\ncomplete -F _cluster_complete cluster\n$/)
  assert.equal(bashWithMachineNames(withNames, 'cluster'), withNames)

  const zsh = '#compdef cluster\n_cluster() {\n_arguments -S \\\n"*: :_files"\n}\n_cluster\n'
  const zshNames = zshWithMachineNames(zsh, 'cluster')
  assert.ok(zshNames.startsWith('#compdef cluster\n'), 'the #compdef line stays first')
  assert.ok(!zshNames.includes('"*: :_files"'))
  assert.match(zshNames, /\|\| \{ _files "\$@"; return \}/)
  assert.equal(zshWithMachineNames(zshNames, 'cluster'), zshNames)

  const ps = '$scriptblock = {\n}\nRegister-ArgumentCompleter -Native -CommandName cluster -ScriptBlock $scriptblock\n'
  const psNames = powershellWithMachineNames(ps, 'cluster')
  assert.match(psNames, /\$pluginCompleter = \$scriptblock[\s\S]*& \$pluginCompleter [\s\S]*-ScriptBlock \$scriptblock\n$/)
  assert.equal(powershellWithMachineNames(psNames, 'cluster'), psNames)
})
