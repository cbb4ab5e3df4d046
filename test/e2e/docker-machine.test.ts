/**
 * Docker Machine's own integration tests (docker/machine test/integration/core/*.bats and
 * its/cli/*_test.go), ported to the generic driver on lab hosts. Each test names the
 * original; the assertions about behaviour (exit codes, outputs, what ends up on the host)
 * are kept. Where our wording or exit code differs on purpose it is said: bad input exits 2
 * (Docker Machine: 1), errors name the fix. Tests that cannot apply are listed in the README.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {HOSTS, ETCD_ENDPOINT, IMAGES, SSH_KEY, loadImage, inspectHost, removeHost, run, startHost, startStoppedHost, type LabHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, CLUSTER_BIN, type CliEnv} from '../support/cli.js'
import {waitFor} from '../support/wait.js'

const CLUSTER = `e2e-dm-${process.pid}`
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const NET = ['--overlay-range', '198.19.0.0/16']
/** The shared machine of the .bats files: a name with dots, on a lab host of this file's own. */
const NAME = 'bats.generic'
const SECOND = `${NAME}-2`
let host: LabHost
const generic = (ip: string) => ['-d', 'generic', '--generic-ip-address', ip, '--generic-ssh-key', SSH_KEY, ...NET]
const lines = (s: string) => s.split('\n')
const m = (args: string[], input?: string) => cli(env, args, {timeoutMs: 300_000, input})
/** `docker $(cluster config NAME) ARGS`, as the .bats files run it. */
const dockerVia = (name: string, args: string) =>
  run('bash', ['-c', `docker $(CLUSTER_STORAGE_PATH=${env.storage} ${process.execPath} ${CLUSTER_BIN} config ${name} | tr -d '"') ${args}`], {timeoutMs: 120_000})

before(async () => {
  host = await startHost({name: 'e2e-dm', image: 'trixie'})
  await cliOk(env, ['create', ...generic(host.ip), NAME])
})

after(async () => {
  for (const n of [NAME, SECOND, 'bats-eo', 'bats-san']) await m(['rm', '-f', n])
  const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
  await etcd.delete().prefix(`/cluster/${CLUSTER}/`).exec()
  etcd.close()
  await removeHost(host.name)
})

test('core-commands.bats: inspect UNKNOWN, ls, create again, config, url, ip, ssh, version', async () => {
  const unknown = await m(['inspect', 'UNKNOWN'])
  assert.equal(unknown.code, 1)
  assert.match(lines(unknown.stderr)[0], /machine "UNKNOWN"/)
  assert.equal(lines(await cliOk(env, ['ls', '-q']))[0], NAME)
  assert.equal(lines(await cliOk(env, ['ls', '-q', '--filter', 'state=Running']))[0], NAME)
  const again = await m(['create', ...generic(host.ip), NAME])
  assert.notEqual(again.code, 0)
  assert.match(again.stderr, new RegExp(`machine "${NAME.replace('.', '\\.')}" already exists`))
  await loadImage(host.name, IMAGES.busybox)
  const hello = await dockerVia(NAME, `run --rm ${IMAGES.busybox} echo hello world`)
  assert.equal(hello.code, 0, hello.stderr)
  assert.equal((await m(['url', NAME])).code, 0)
  assert.equal((await m(['ip', NAME])).code, 0)
  assert.match(lines(await cliOk(env, ['ssh', NAME, '--', 'ls', '-lah', '/']))[0], /^total/)
  assert.match(await cliOk(env, ['version', NAME]), /^\d+\.\d+\.\d+/)
  // "docker commands with the socket should work" (the original asserts nothing; the lab logs in as root, without sudo).
  assert.equal((await m(['ssh', NAME, '--', 'docker', 'version'])).code, 0)
})

test('env_shell.bats: bash, powershell, cmd, fish, emacs notations; NO_PROXY; unset forms; -u NAME fails', async () => {
  const url = (await cliOk(env, ['url', NAME])).trim()
  const ip = (await cliOk(env, ['ip', NAME])).trim()
  const certs = join(env.storage, 'certs')
  assert.deepEqual(lines(await cliOk(env, ['env', NAME])).slice(0, 4),
    ['export DOCKER_TLS_VERIFY="1"', `export DOCKER_HOST="${url}"`, `export DOCKER_CERT_PATH="${certs}"`, `export DOCKER_MACHINE_NAME="${NAME}"`])
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'powershell', '--no-proxy', NAME])).slice(0, 5),
    ['$Env:DOCKER_TLS_VERIFY = "1"', `$Env:DOCKER_HOST = "${url}"`, `$Env:DOCKER_CERT_PATH = "${certs}"`, `$Env:DOCKER_MACHINE_NAME = "${NAME}"`, `$Env:NO_PROXY = "${ip}"`])
  assert.equal(lines(await cliOk(env, ['env', '--no-proxy', NAME]))[4], `export NO_PROXY="${ip}"`)
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'cmd', '--no-proxy', NAME])).slice(0, 5),
    ['SET DOCKER_TLS_VERIFY=1', `SET DOCKER_HOST=${url}`, `SET DOCKER_CERT_PATH=${certs}`, `SET DOCKER_MACHINE_NAME=${NAME}`, `SET NO_PROXY=${ip}`])
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'fish', '--no-proxy', NAME])).slice(0, 5),
    ['set -gx DOCKER_TLS_VERIFY "1";', `set -gx DOCKER_HOST "${url}";`, `set -gx DOCKER_CERT_PATH "${certs}";`, `set -gx DOCKER_MACHINE_NAME "${NAME}";`, `set -gx NO_PROXY "${ip}";`])
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'emacs', '--no-proxy', NAME])).slice(0, 5),
    ['(setenv "DOCKER_TLS_VERIFY" "1")', `(setenv "DOCKER_HOST" "${url}")`, `(setenv "DOCKER_CERT_PATH" "${certs}")`, `(setenv "DOCKER_MACHINE_NAME" "${NAME}")`, `(setenv "NO_PROXY" "${ip}")`])
  assert.equal(lines(await cliOk(env, ['env', '--no-proxy', NAME], {extraEnv: {NO_PROXY: 'localhost'}}))[4], `export NO_PROXY="localhost,${ip}"`)
  const withName = await m(['env', '-u', NAME])
  assert.notEqual(withName.code, 0)
  assert.equal(withName.stderr.trim(), 'Error: expected no machine name when the -u flag is present: run `cluster env --unset`')
  const vars = ['DOCKER_TLS_VERIFY', 'DOCKER_HOST', 'DOCKER_CERT_PATH', 'DOCKER_MACHINE_NAME']
  assert.deepEqual(lines(await cliOk(env, ['env', '-u'])).slice(0, 4), vars.map(v => `unset ${v}`))
  assert.deepEqual(lines(await cliOk(env, ['env', '--no-proxy', '-u'])).slice(0, 5), [...vars, 'NO_PROXY'].map(v => `unset ${v}`))
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'powershell', '-u'])).slice(0, 4), vars.map(v => `Remove-Item Env:\\\\${v}`))
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'fish', '-u'])).slice(0, 4), vars.map(v => `set -e ${v};`))
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'cmd', '-u'])).slice(0, 4), vars.map(v => `SET ${v}=`))
  assert.deepEqual(lines(await cliOk(env, ['env', '--shell', 'emacs', '-u'])).slice(0, 4), vars.map(v => `(setenv "${v}" nil)`))
})

test('inspect_format.bats: {{.DriverName}}, json, prettyjson, .Driver fields; an unknown field is an error', async () => {
  assert.equal(await cliOk(env, ['inspect', '-f', '{{.DriverName}}', NAME]), 'generic\n')
  assert.equal(await cliOk(env, ['inspect', '-f', '{{json .DriverName}}', NAME]), '"generic"\n')
  assert.ok(lines((await cliOk(env, ['inspect', '-f', '{{prettyjson .Driver}}', NAME])).trim()).length > 1)
  assert.equal(await cliOk(env, ['inspect', '-f', '{{.Driver.SSHUser}} {{.Driver.IPAddress}}', NAME]), `root ${host.ip}\n`)
  const bad = await m(['inspect', '-f', '{{.NoSuchField}}', NAME])
  assert.equal(bad.code, 2)
  assert.equal(bad.stdout, '')
})

test('ssh-backends.bats: df -h, echo foo, extra ssh arguments (-C)', async () => {
  assert.equal((await m(['ssh', NAME, 'df', '-h'])).code, 0)
  assert.equal(await cliOk(env, ['ssh', NAME, 'echo', 'foo']), 'foo\n')
  assert.equal(await cliOk(env, ['ssh', NAME, '-C', 'echo', 'foo']), 'foo\n')
})

test('scp.bats: remote to local, local to remote, and from one machine to another', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-scp-'))
  await cliOk(env, ['ssh', NAME, 'echo A file created remotely! >/tmp/foo.txt'])
  await cliOk(env, ['scp', `${NAME}:/tmp/foo.txt`, `${dir}/`])
  assert.equal(readFileSync(join(dir, 'foo.txt'), 'utf8'), 'A file created remotely!\n')
  writeFileSync(join(dir, 'foo.txt'), 'A file created locally!\n')
  await cliOk(env, ['scp', join(dir, 'foo.txt'), `${NAME}:/tmp/foo.txt`])
  assert.equal(await cliOk(env, ['ssh', NAME, 'cat', '/tmp/foo.txt']), 'A file created locally!\n')
  assert.equal((await m(['create', ...generic(HOSTS.host2), SECOND])).code, 0)
  await cliOk(env, ['ssh', NAME, 'echo A file hopping around! >/tmp/foo.txt'])
  await cliOk(env, ['scp', `${NAME}:/tmp/foo.txt`, `${SECOND}:/tmp/foo.txt`])
  assert.equal(await cliOk(env, ['ssh', SECOND, 'cat', '/tmp/foo.txt']), 'A file hopping around!\n')
  await cliOk(env, ['ssh', SECOND, 'rm', '-f', '/tmp/foo.txt'])
})

test('its/cli ls_test: filters on label, driver, state, name as a regular expression; --format', async () => {
  assert.deepEqual(lines((await cliOk(env, ['ls', '--filter', 'driver=generic'])).trim()).length, 3)
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'driver=generic']), `${NAME}\n${SECOND}\n`)
  for (const state of ['None', 'Paused', 'Saved', 'Stopped', 'Stopping', 'Starting', 'Error']) {
    assert.deepEqual(lines((await cliOk(env, ['ls', '--filter', `state=${state}`])).trim()), [lines(await cliOk(env, ['ls', '--filter', 'state=Error']))[0]])
  }
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'name=^b.*c$']), `${NAME}\n`)
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'name=-[0-9]$']), `${SECOND}\n`)
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', 'label=invalid=filter']), '')
  assert.equal(await cliOk(env, ['ls', '--format', '{{.DriverName}}']), 'generic\ngeneric\n')
  assert.deepEqual(lines(await cliOk(env, ['ls', '--format', 'table {{.Name}}: {{.DriverName}}'])).slice(1, 3), [`${NAME}: generic`, `${SECOND}: generic`])
  assert.equal(await cliOk(env, ['rm', '-y', SECOND]), `Removed ${SECOND}\n`)
})

test('regenerate-certs.bats and certs-extra-san.bats: -f, docker still works, extra SANs kept', async () => {
  assert.equal((await m(['regenerate-certs', '-f', NAME])).code, 0)
  assert.equal((await dockerVia(NAME, 'version')).code, 0)
  await cliOk(env, ['create', ...generic(HOSTS.host1), '--tls-san', 'foo.bar.tld', '--tls-san', '10.42.42.42', 'bats-san'])
  // The server certificate as dockerd serves it (Docker Machine read it from the host's file).
  const sans = async () => (await run('sh', ['-c', `openssl s_client -connect ${HOSTS.host1}:2376 </dev/null 2>/dev/null | openssl x509 -noout -text`])).stdout
  for (const round of ['create', 'regenerate-certs']) {
    if (round === 'regenerate-certs') await cliOk(env, ['regenerate-certs', '-f', 'bats-san'])
    const text = await sans()
    assert.match(text, /DNS:foo\.bar\.tld/, round)
    assert.match(text, /IP Address:10\.42\.42\.42/, round)
  }
  await cliOk(env, ['rm', '-y', 'bats-san'])
})

test('engine-options.bats: label, storage driver, insecure registry, env, log driver reach dockerd', async () => {
  const r = await m(['create', ...generic(HOSTS.host1), '--engine-label', 'spam=eggs', '--engine-storage-driver', 'overlay2',
    '--engine-insecure-registry', 'registry.myco.com', '--engine-env=TEST=VALUE', '--engine-opt', 'log-driver=none', 'bats-eo'])
  assert.equal(r.code, 0, r.stderr)
  const info = await dockerVia('bats-eo', 'info')
  assert.match(info.stdout, /spam=eggs/)
  assert.match(info.stdout, /Storage Driver: overlay2?/)
  assert.match(info.stdout, /registry\.myco\.com/)
  // The original runs `sudo cat`; the lab logs in as root, without sudo.
  assert.match(await cliOk(env, ['ssh', 'bats-eo', 'cat /proc/$(pgrep -xo dockerd)/environ | tr "\\0" "\\n"']), /^TEST=VALUE$/m)
  await loadImage('host1', IMAGES.busybox)
  assert.equal((await dockerVia('bats-eo', `run --name nolog ${IMAGES.busybox} echo this should not be logged`)).code, 0)
  assert.equal((await dockerVia('bats-eo', "inspect -f '{{.HostConfig.LogConfig.Type}}' nolog")).stdout.trim(), 'none')
  await dockerVia('bats-eo', 'rm -f nolog')
  assert.equal(await cliOk(env, ['inspect', '-f', '{{.HostOptions.EngineOptions.StorageDriver}} {{json .HostOptions.EngineOptions.Labels}}', 'bats-eo']), 'overlay2 ["spam=eggs"]\n')
  await cliOk(env, ['rm', '-f', 'bats-eo'])
})

test('its/cli create_rm_test: bad driver, no name, invalid names, extra argument, rm confirmation from stdin, rm -f', async () => {
  const bogus = await m(['create', '-d', 'bogus', 'bogus'])
  assert.notEqual(bogus.code, 0)
  assert.match(bogus.stderr, /bogus/)
  assert.notEqual((await m(['create', '-d', 'generic'])).code, 0)
  for (const bad of ['∞', '-', '.', '..']) {
    const r = await m(['create', ...generic(host.ip), '--', bad])
    assert.notEqual(r.code, 0, bad)
  }
  assert.match((await m(['create', ...generic(host.ip), 'a', 'extra'])).stderr, /Unexpected argument: extra/)
  const noName = await m(['rm', '-y'])
  assert.notEqual(noName.code, 0)
  const missing = await m(['rm', '∞', '-y'])
  assert.notEqual(missing.code, 0)
  assert.match(missing.stderr, /∞/)
  // "rm deny user confirmation": n keeps the machine, and is no failure.
  const deny = await m(['rm', NAME], 'n\n')
  assert.equal(deny.code, 0, deny.stderr)
  assert.equal(await cliOk(env, ['ls', '-q', '--filter', `name=^${NAME.replace('.', '\\.')}$`]), `${NAME}\n`)
})

test('its/cli inspect, status, url: no name and no "default" machine', async () => {
  for (const cmd of ['inspect', 'status', 'url']) {
    const r = await m([cmd])
    assert.notEqual(r.code, 0, cmd)
    assert.match(r.stderr, /^Error: no machine name given and no "default" machine exists/, cmd)
  }
})

test('core-commands.bats: stop shows Stopped; url, env and version say the host is not running; kill; restart shows Running', async () => {
  assert.equal((await m(['stop', NAME])).code, 0)
  await waitFor('Stopped in ls', async () => {
    const row = lines((await m(['ls'])).stdout)[1] ?? ''
    if (!row.includes('Stopped')) throw new Error(`ls row: ${row}`)
    return true
  }, 60_000, 1000)
  for (const args of [['url', NAME], ['env', NAME], ['version', NAME]]) {
    const r = await m(args)
    assert.equal(r.code, 1, args.join(' '))
    assert.match(r.stderr, /Host is not running/, args.join(' '))
  }
  // Generic hosts cannot be powered on by the driver ("start should show an error").
  assert.equal((await m(['start', NAME])).code, 1)
  await startStoppedHost(host.name)
  await waitFor('Running again', async () => (await m(['status', NAME])).stdout === 'Running\n' || undefined, 60_000, 1000)
  assert.equal((await m(['restart', NAME])).code, 0)
  // The reboot takes the machine down first: wait to see it gone. A lab host is a container,
  // which a reboot stops for good (systemd as PID 1 exits); starting it again stands in for
  // the firmware bringing a real machine back.
  await waitFor('down after restart', async () => (await m(['status', NAME])).stdout !== 'Running\n' || undefined, 120_000, 1000)
  await waitFor('the lab host stopped', async () => !(await inspectHost(host.name))?.running || undefined, 60_000, 1000)
  await startStoppedHost(host.name)
  await waitFor('Running after restart', async () => lines((await m(['ls', '--timeout', '20'])).stdout)[1]?.includes('Running') || undefined, 120_000, 1000)
  assert.match(await cliOk(env, ['status', NAME]), /Running/)
  // "rm ask user confirmation": the answer comes from standard input.
  assert.equal((await m(['rm', NAME], 'y\n')).code, 0)
  assert.equal(await cliOk(env, ['ls', '-q']), '')
})
