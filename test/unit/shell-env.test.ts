import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {detectShell, renderEnv, noProxyValue} from '../../src/shell-env.js'

const vars: [string, string][] = [['DOCKER_HOST', 'tcp://198.18.0.11:2376'], ['DOCKER_CERT_PATH', '/tmp/a "b" $c']]

test('detects the shell: flag wins, then $SHELL, then platform', () => {
  assert.equal(detectShell('fish', {SHELL: '/bin/zsh'}), 'fish')
  assert.equal(detectShell(undefined, {SHELL: '/usr/bin/zsh'}), 'zsh')
  assert.equal(detectShell(undefined, {SHELL: '/bin/csh'}), 'tcsh')
  assert.equal(detectShell(undefined, {PSModulePath: 'x'}, 'win32'), 'powershell')
  assert.equal(detectShell(undefined, {}, 'win32'), 'cmd')
  assert.equal(detectShell(undefined, {}, 'linux'), 'sh')
  assert.throws(() => detectShell('nushell', {}), /unknown shell "nushell"/)
})

test('each shell gets its own syntax and the usage hint last', () => {
  const out = (shell: Parameters<typeof renderEnv>[0]['shell'], unset = false) => renderEnv({shell, vars, unset, command: 'cluster env n1'})
  assert.match(out('bash'), /^export DOCKER_HOST="tcp:\/\/198\.18\.0\.11:2376"\n/)
  assert.match(out('bash'), /# eval "\$\(cluster env n1\)"\n$/)
  assert.match(out('fish'), /^set -gx DOCKER_HOST "tcp:\/\/198\.18\.0\.11:2376";/)
  assert.match(out('fish'), /# eval \(cluster env n1\)\n$/)
  assert.match(out('powershell'), /^\$Env:DOCKER_HOST = "tcp:\/\/198\.18\.0\.11:2376"/)
  assert.match(out('powershell'), /Invoke-Expression\n$/)
  assert.match(out('cmd'), /^SET DOCKER_HOST=tcp:\/\/198\.18\.0\.11:2376\n/)
  assert.match(out('tcsh'), /^setenv DOCKER_HOST "tcp/)
  assert.match(out('bash', true), /^unset DOCKER_HOST\nunset DOCKER_CERT_PATH\n/)
  assert.match(out('fish', true), /^set -e DOCKER_HOST;/)
  // Docker Machine's exact lines (env_shell.bats "unset powershell").
  assert.match(out('powershell', true), /^Remove-Item Env:\\\\DOCKER_HOST\n/)
  assert.equal(out('emacs'), '(setenv "DOCKER_HOST" "tcp://198.18.0.11:2376")\n(setenv "DOCKER_CERT_PATH" "/tmp/a \\"b\\" $c")\n'
  + ';; Run this command to configure your shell:\n;; (with-temp-buffer (shell-command "cluster env n1" (current-buffer)) (eval-buffer))\n')
  assert.match(out('emacs', true), /^\(setenv "DOCKER_HOST" nil\)\n/)
  assert.match(out('cmd', true), /^SET DOCKER_HOST=\n/)
})

test('bash and sh evaluate the output to exactly the values, quotes and dollars included', () => {
  for (const sh of ['bash', 'sh']) {
    const script = renderEnv({shell: 'bash', vars, unset: false, command: 'x'}) + 'printf "%s\\n" "$DOCKER_HOST" "$DOCKER_CERT_PATH"'
    assert.equal(execFileSync(sh, ['-c', script], {encoding: 'utf8'}), 'tcp://198.18.0.11:2376\n/tmp/a "b" $c\n')
  }
})

test('NO_PROXY keeps what was there and adds the address once', () => {
  assert.equal(noProxyValue(undefined, '198.18.0.11'), '198.18.0.11')
  assert.equal(noProxyValue('localhost, 198.18.0.11', '198.18.0.11'), 'localhost,198.18.0.11')
  assert.equal(noProxyValue('localhost', '198.18.0.12'), 'localhost,198.18.0.12')
})
