/**
 * Shell completion (README "Shell completion"): `cluster autocomplete` (oclif's plugin) writes
 * bash, zsh and PowerShell scripts with machine names added (src/completion/shells.ts), and
 * `cluster __complete` lists the machines of a real store in a temp folder. Real bash and zsh
 * complete through the written scripts; PowerShell's is checked as text (no pwsh on Debian).
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {REPO_ROOT, run, type RunResult} from '../lab/lab.js'
import {CLUSTER_BIN} from '../support/cli.js'
import {needs} from '../support/needs.js'
import {lineWords, machineNamePrefix, type Manifest} from '../../src/completion/position.js'

needs('zsh')

const MACHINES = ['node-1', 'node-2', 'web.eu']
let dir: string
let env: string[]

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cluster-complete-'))
  for (const name of MACHINES) {
    mkdirSync(join(dir, 'store/machines', name), {recursive: true})
    writeFileSync(join(dir, 'store/machines', name, 'machine.json'), '{}\n')
  }
  // A folder without machine.json (a create that stopped early) is no machine.
  mkdirSync(join(dir, 'store/machines/half-made'), {recursive: true})
  mkdirSync(join(dir, 'bin'))
  symlinkSync(CLUSTER_BIN, join(dir, 'bin/cluster'))
  env = [`CLUSTER_STORAGE_PATH=${join(dir, 'store')}`, `XDG_CACHE_HOME=${join(dir, 'cache')}`, `PATH=${join(dir, 'bin')}:${process.env.PATH}`, 'HOME=' + dir]
})
after(() => rmSync(dir, {recursive: true, force: true}))

function withEnv(program: string, args: string[], input?: string): Promise<RunResult> {
  return run('env', [...env, program, ...args], {input, timeoutMs: 60_000})
}

const complete = (line: string): Promise<RunResult> => withEnv('cluster', ['__complete', line])

test('cluster autocomplete writes the bash, zsh and PowerShell scripts, each with machine names', async () => {
  const r = await withEnv('cluster', ['autocomplete', '--refresh-cache'])
  assert.equal(r.code, 0, r.stderr)
  const functions = join(dir, 'cache/cluster/autocomplete/functions')
  const scripts = {
    // bash and zsh list the machines in shell; PowerShell asks node.
    bash: {file: join(functions, 'bash/cluster.bash'), plugin: '_cluster_autocomplete()', ours: 'complete -F _cluster_complete cluster', names: '$(_cluster_machine_names "${COMP_LINE:0:COMP_POINT}")'},
    zsh: {file: join(functions, 'zsh/_cluster'), plugin: '#compdef cluster', ours: '"*: :_cluster_machine_args"', names: '$(_cluster_machine_names "$LBUFFER")'},
    powershell: {file: join(functions, 'powershell/cluster.ps1'), plugin: '"create" = @{', ours: 'Register-ArgumentCompleter -Native -CommandName cluster -ScriptBlock $scriptblock\n', names: '& cluster __complete $Line'},
  }
  for (const [shell, {file, plugin, ours, names}] of Object.entries(scripts)) {
    const text = readFileSync(file, 'utf8')
    assert.ok(text.includes(plugin), `${shell}: the plugin's completion of commands is there`)
    assert.ok(text.includes(names), `${shell}: machine names come from ${names}`)
    assert.ok(text.includes(ours), `${shell}: the machine-name completion is registered`)
    // What the user adds to the shell's startup file loads the file written.
    const setup = await withEnv('cluster', ['autocomplete', 'script', shell])
    assert.equal(setup.code, 0, setup.stderr)
    const sourced = /(?:_SETUP_PATH=|^\. )(\S+?)(?: &&|$)/.exec(setup.stdout.trim())?.[1]
    assert.ok(sourced && existsSync(sourced), `${shell}: the setup line sources a file that exists: ${setup.stdout.trim()}`)
  }
  assert.equal(readFileSync(scripts.zsh.file, 'utf8').match(/"\*: :_files"/g), null, 'zsh: every argument goes through the machine-name function')
})

test('cluster __complete lists the store\'s machines where a machine name goes, and exits 1 elsewhere', async () => {
  const cases: Array<[string, string[] | undefined]> = [
    ['cluster rm ', MACHINES],
    ['cluster rm n', ['node-1', 'node-2']],
    ['cluster rm node-1 w', ['web.eu']],
    ['cluster ssh ', MACHINES],
    ['cluster ssh node-1 ', undefined], // the words after the name are ssh's
    ['cluster env --shell ', undefined], // a flag's value
    ['cluster env --shell fish ', MACHINES],
    ['cluster env -u', undefined],
    ['cluster kv add node-2 ', MACHINES],
    ['cluster net status ', MACHINES],
    ['cluster create ', undefined], // a new machine's name
    ['cluster dns add ', undefined], // a DNS label
    ['cluster ls ', undefined],
    ['cluster r', undefined],
    ['cluster rm x', []],
  ]
  for (const [line, want] of cases) {
    const r = await complete(line)
    if (want === undefined) {
      assert.deepEqual([r.code, r.stdout], [1, ''], `"${line}": no machine name goes here`)
    } else {
      assert.equal(r.code, 0, `"${line}": ${r.stderr}`)
      assert.deepEqual(r.stdout.split('\n').filter(Boolean), want, `"${line}"`)
    }
  }
})

test('cluster __complete loads no npm package (so not etcd3) and no network module', async () => {
  // A resolve hook that refuses bare specifiers and node's network modules.
  const hook = 'export async function resolve(s, c, next) {'
    + ' if (!/^(node:|\\.|\\/|file:)/.test(s) || /^node:(net|tls|https?|http2|dns|dgram)$/.test(s)) throw new Error("loaded " + s);'
    + ' return next(s, c) }'
  const register = `import {register} from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}))`
  const guarded = (args: string[]): Promise<RunResult> =>
    withEnv(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, CLUSTER_BIN, ...args])
  const r = await guarded(['__complete', 'cluster rm '])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.split('\n').filter(Boolean), MACHINES)
  // The hook does refuse: any oclif command loads @oclif/core.
  const control = await guarded(['ls', '--help'])
  assert.notEqual(control.code, 0)
  assert.match(control.stderr, /loaded @oclif\/core/)
})

test('bash completes machine names, commands and flags through the written script', async () => {
  const script = `
eval "$(cluster autocomplete script bash)"
fn=$(complete -p cluster | sed -E 's/.*-F ([^ ]+).*/\\1/')
comp() {
  COMP_LINE="$1"; COMP_POINT=\${#1}; read -ra COMP_WORDS <<< "$1"
  [[ $1 == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=()
  "$fn" cluster "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  echo "$1|\${COMPREPLY[*]}"
}
comp 'cluster rm '
comp 'cluster stop n'
comp 'cluster kv add node-1 w'
comp 'cluster cre'
comp 'cluster rm --fo'
`
  const r = await withEnv('bash', ['--norc', '-c', script])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'cluster rm |node-1 node-2 web.eu',
    'cluster stop n|node-1 node-2',
    'cluster kv add node-1 w|web.eu',
    'cluster cre|create',
    'cluster rm --fo|--force',
  ])
})

test('zsh completes machine names through the written script', async () => {
  // An interactive zsh on a pseudo-terminal (zsh/zpty) gets the keys, <TAB> included.
  const script = `
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "PS1='> '; fpath=(\\$XDG_CACHE_HOME/cluster/autocomplete/functions/zsh \\$fpath); autoload -Uz compinit; compinit -u; echo RE''ADY"
zpty -r z line '*READY*'
type() {
  zpty -w -n z $'\\C-u'"$1"$'\\t'
  local all='' chunk
  for i in {1..50}; do
    zpty -r -t z chunk && all+=$chunk
    [[ $all == *"$2"* ]] && { print -r -- "found: $2"; return }
    sleep 0.1
  done
  print -r -- "missing: $2 in: $all"
}
type 'cluster rm w' 'cluster rm web.eu'
type 'cluster kv add node-1 node-' 'node-1  node-2'
zpty -d z
`
  const r = await withEnv('zsh', ['-f', '-c', script])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), ['found: cluster rm web.eu', 'found: node-1  node-2'])
})

test('bash and zsh decide in shell exactly as cluster __complete decides in node, on every command', async () => {
  const r0 = await withEnv('cluster', ['autocomplete', '--refresh-cache'])
  assert.equal(r0.code, 0, r0.stderr)
  const manifest = (JSON.parse(readFileSync(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Manifest}).commands
  const lines: string[] = ['', 'cluster', 'cluster ', 'clus', 'cluster nosuch ', '/usr/local/bin/cluster rm ', 'cluster kv ']
  for (const [id, command] of Object.entries(manifest)) {
    const head = `cluster ${id.replaceAll(':', ' ')}`
    const flags = Object.entries(command.flags).flatMap(([name, f]) => [`--${name}`, ...(f.char ? [`-${f.char}`] : [])])
    for (const rest of ['', ' ', ' n', ' node-1 ', ' node-1 w', ' -', ' - ', ' --', ' -- ', ' -- -x', ' --x=y ', ' node-1 -- ', ' a b ']) lines.push(head + rest)
    for (const flag of flags) lines.push(`${head} ${flag} `, `${head} ${flag} v `, `${head} ${flag}=v `, `${head} ${flag} v w`)
  }
  const want = lines.map(line => {
    const prefix = machineNamePrefix(lineWords(line, 'cluster'), manifest)
    return prefix === undefined ? '1|' : '0|' + MACHINES.filter(m => m.startsWith(prefix)).join(',')
  })
  const loop = 'while IFS= read -r line; do out=$(_cluster_machine_names "$line"); c=$?; printf \'%s|%s\\n\' "$c" "$(printf %s "$out" | tr \'\\n\' ,)"; done'
  const functions = join(dir, 'cache/cluster/autocomplete/functions')
  const input = lines.join('\n') + '\n'
  const bash = await withEnv('bash', ['--norc', '-c', `source ${functions}/bash/cluster.bash; ${loop}`], input)
  // zsh: the completion file defines its functions and runs _cluster; compinit's functions are stubbed.
  const zsh = await withEnv('zsh', ['-f', '-c', `compdef() { :; }; _arguments() { :; }; source ${functions}/zsh/_cluster; ${loop}`], input)
  for (const [shell, r] of [['bash', bash], ['zsh', zsh]] as const) {
    assert.equal(r.code, 0, `${shell}: ${r.stderr}`)
    const got = r.stdout.split('\n').slice(0, -1)
    assert.equal(got.length, lines.length, `${shell}: one answer per line`)
    const wrong = lines.flatMap((line, i) => got[i] === want[i] ? [] : [`"${line}": ${got[i]} (node: ${want[i]})`])
    assert.deepEqual(wrong, [], `${shell}: ${lines.length} lines`)
  }
})
