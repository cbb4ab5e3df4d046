import {test} from 'node:test'
import assert from 'node:assert/strict'
import {
  baseExecStart, dockerdPath, engineFiles, laterExecStartDropIns, systemdQuote, userDaemonConfig, DROP_IN, type EngineState,
} from '../../src/provision/engine-files.js'
import {restoreScript, snapshotScript} from '../../src/provision/file-snapshot.js'
import {dockerdComplaint} from '../../src/provision/engine.js'
import {InputError} from '../../core/errors.js'
import type {EngineOptions} from '../../core/model.js'

const DEBIAN_EXEC = '/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS'
const NO_ENGINE: EngineOptions = {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []}
const engine = (o: Partial<EngineOptions>): EngineOptions => ({...NO_ENGINE, ...o})

test('engineFiles: TLS, hosts and a drop-in that runs the unit\'s dockerd without -H fd://', () => {
  const files = engineFiles({engine: NO_ENGINE, user: null, execStart: DEBIAN_EXEC})
  assert.deepEqual(files.daemonJson, {
    tls: true, tlsverify: true,
    tlscacert: '/etc/docker/cluster/ca.pem', tlscert: '/etc/docker/cluster/server.pem', tlskey: '/etc/docker/cluster/server-key.pem',
    hosts: ['unix:///var/run/docker.sock', 'tcp://0.0.0.0:2376'],
  })
  assert.equal(files.dropIn.split('\n').filter(l => !l.startsWith('#')).join('\n'),
    '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS\n')
  assert.deepEqual(files.managedKeys, ['hosts', 'tls', 'tlscacert', 'tlscert', 'tlskey', 'tlsverify'])
})

test('engineFiles: labels, registries, mirrors, opts as flags and env as Environment=', () => {
  const files = engineFiles({
    engine: engine({
      labels: ['zone=a', 'disk=ssd'], opts: ['log-level=debug', 'max-concurrent-downloads=5', 'debug'],
      env: ['HTTP_PROXY=http://198.18.0.1:3128', 'NO_PROXY=a b,%c'],
      insecureRegistries: ['198.18.0.5:5000'], registryMirrors: ['https://mirror.example'],
    }),
    user: null, execStart: DEBIAN_EXEC,
  })
  assert.deepEqual(files.daemonJson.labels, ['zone=a', 'disk=ssd'])
  assert.deepEqual(files.daemonJson['insecure-registries'], ['198.18.0.5:5000'])
  assert.deepEqual(files.daemonJson['registry-mirrors'], ['https://mirror.example'])
  assert.deepEqual(files.dockerdArgs, ['/usr/sbin/dockerd', '--containerd=/run/containerd/containerd.sock', '$DOCKER_OPTS',
    '--log-level=debug', '--max-concurrent-downloads=5', '--debug'])
  assert.match(files.dropIn, /^Environment=HTTP_PROXY=http:\/\/198\.18\.0\.1:3128$/m)
  assert.match(files.dropIn, /^Environment="NO_PROXY=a b,%%c"$/m)
  assert.match(files.dropIn, /^ExecStart=\/usr\/sbin\/dockerd --containerd=\/run\/containerd\/containerd\.sock \$DOCKER_OPTS --log-level=debug --max-concurrent-downloads=5 --debug$/m)
  assert.deepEqual(files.managedKeys, ['debug', 'hosts', 'insecure-registries', 'labels', 'log-level', 'max-concurrent-downloads', 'registry-mirrors', 'tls', 'tlscacert', 'tlscert', 'tlskey', 'tlsverify'])
})

test('engineFiles keeps the user\'s daemon.json keys, merges lists, lets extraDaemon override and flags displace keys', () => {
  const user = {
    bip: '198.19.255.1/24', 'default-address-pools': [{base: '198.19.128.0/17', size: 24}],
    labels: ['zone=old', 'rack=7'], 'insecure-registries': ['198.18.0.9:5000'],
    hosts: ['fd://', 'unix:///run/other.sock'], 'log-level': 'warn', 'log-opts': {'max-size': '10m'},
  }
  const files = engineFiles({
    engine: engine({labels: ['zone=a'], insecureRegistries: ['198.18.0.5:5000'], opts: ['log-level=info', 'log-opt=max-file=3']}),
    user, extraDaemon: {bip: '198.19.4.1/24', mtu: 1420}, execStart: DEBIAN_EXEC,
  })
  assert.equal(files.daemonJson.bip, '198.19.4.1/24')
  assert.equal(files.daemonJson.mtu, 1420)
  assert.deepEqual(files.daemonJson['default-address-pools'], user['default-address-pools'])
  assert.deepEqual(files.daemonJson.labels, ['zone=a', 'rack=7'])
  assert.deepEqual(files.daemonJson['insecure-registries'], ['198.18.0.9:5000', '198.18.0.5:5000'])
  assert.deepEqual(files.daemonJson.hosts, ['unix:///var/run/docker.sock', 'tcp://0.0.0.0:2376', 'unix:///run/other.sock'])
  // dockerd refuses a setting given both as flag and in the file: the flag wins.
  assert.equal('log-level' in files.daemonJson, false)
  assert.equal('log-opts' in files.daemonJson, false)
  assert.ok(files.managedKeys.includes('bip') && files.managedKeys.includes('log-opts') && files.managedKeys.includes('mtu'))
})

test('userDaemonConfig gives back exactly the user\'s file, and null when there was none', () => {
  const original = {bip: '198.19.255.1/24', labels: ['rack=7'], 'log-level': 'warn'}
  const files = engineFiles({engine: engine({labels: ['zone=a'], opts: ['log-level=info']}), user: original, extraDaemon: {mtu: 1420}, execStart: DEBIAN_EXEC})
  const state: EngineState = {original, managedKeys: files.managedKeys}
  // The user added a key by hand meanwhile: it stays.
  assert.deepEqual(userDaemonConfig({...files.daemonJson, debug: true}, state), {...original, debug: true})
  const fresh = engineFiles({engine: NO_ENGINE, user: null, execStart: DEBIAN_EXEC})
  assert.equal(userDaemonConfig(fresh.daemonJson, {original: null, managedKeys: fresh.managedKeys}), null)
  assert.deepEqual(userDaemonConfig({a: 1}, null), {a: 1})
  assert.equal(userDaemonConfig(null, null), null)
})

test('engine options are validated with a one-line fix', () => {
  const refused = (o: Partial<EngineOptions>, line: RegExp, extra?: Record<string, unknown>) =>
    assert.throws(() => engineFiles({engine: engine(o), user: null, extraDaemon: extra, execStart: DEBIAN_EXEC}),
      (e: unknown) => e instanceof InputError && e.exitCode === 2 && line.test(e.oneLine()))
  refused({opts: ['bad opt=1']}, /^--engine-opt "bad opt=1" is not a dockerd flag: write it as name=value, e\.g\. --engine-opt log-level=debug$/)
  refused({opts: ['$(reboot)=1']}, /is not a dockerd flag/)
  refused({opts: ['tlsverify=false']}, /^--engine-opt tlsverify cannot be set: TLS is always on$/)
  refused({opts: ['label=x=y']}, /^--engine-opt label cannot be set: use --engine-label$/)
  refused({opts: ['bip=198.19.9.1/24']}, /^--engine-opt bip conflicts with the cluster's own "bip" setting: remove that --engine-opt$/, {bip: '198.19.4.1/24'})
  refused({env: ['1X=y']}, /^--engine-env "1X=y" is not NAME=value/)
  refused({labels: ['novalue']}, /^--engine-label "novalue" is not key=value/)
  assert.equal(engineFiles({engine: engine({opts: ['--log-level=debug']}), user: null, execStart: DEBIAN_EXEC}).dockerdArgs.at(-1), '--log-level=debug')
})

test('values with spaces, quotes, % and $ reach dockerd unchanged through systemd quoting', () => {
  assert.equal(systemdQuote('plain-1.2/x=y'), 'plain-1.2/x=y')
  assert.equal(systemdQuote('a b"c\\d%e$f', true), '"a b\\"c\\\\d%%e$$f"')
  assert.equal(systemdQuote('a b$f'), '"a b$f"')
})

test('baseExecStart takes the unit\'s ExecStart, honours drop-in resets and ignores our own drop-in', () => {
  const cat = `# /usr/lib/systemd/system/docker.service
[Service]
Type=notify
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID

# ${DROP_IN}
[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS --debug
`
  assert.equal(baseExecStart(cat), DEBIAN_EXEC)
  const withUserDropIn = cat + '\n# /etc/systemd/system/docker.service.d/override.conf\n[Service]\nExecStart=\nExecStart=-/usr/bin/dockerd -H fd:// --mtu=1400\n'
  assert.equal(baseExecStart(withUserDropIn), '/usr/bin/dockerd -H fd:// --mtu=1400')
  assert.equal(dockerdPath(baseExecStart(withUserDropIn)), '/usr/bin/dockerd')
  assert.throws(() => baseExecStart('# /x\n[Service]\nType=notify\n'), /docker.service has no ExecStart/)
  // override.conf sorts after 10-cluster.conf: its ExecStart would replace ours.
  assert.deepEqual(laterExecStartDropIns(withUserDropIn), ['/etc/systemd/system/docker.service.d/override.conf'])
  assert.deepEqual(laterExecStartDropIns(cat + '\n# /etc/systemd/system/docker.service.d/05-mine.conf\n[Service]\nExecStart=\nExecStart=/usr/bin/dockerd\n'), [])
  assert.deepEqual(laterExecStartDropIns(cat + '\n# /run/systemd/system/docker.service.d/zz.conf\n[Service]\nEnvironment=A=1\n'), [])
  const files = engineFiles({engine: NO_ENGINE, user: null, execStart: '/usr/bin/dockerd -H=fd:// --host fd:// --host=fd:// --containerd=/run/c.sock'})
  assert.deepEqual(files.dockerdArgs, ['/usr/bin/dockerd', '--containerd=/run/c.sock'])
})

test('snapshot and restore scripts remember absent files and quote paths', () => {
  const s = snapshotScript(['/etc/docker/daemon.json', "/tmp/it's"])
  assert.match(s, /^for p in \/etc\/docker\/daemon\.json '\/tmp\/it'\\''s'; do /)
  assert.match(s, /: > "\$p\.cluster-absent"/)
  assert.match(restoreScript(['/a']), /mv -f "\$p\.cluster-bak" "\$p"; elif \[ -e "\$p\.cluster-absent" \]; then rm -f "\$p" "\$p\.cluster-absent"/)
})

test('dockerdComplaint keeps dockerd\'s reason and drops its decoration', () => {
  const journal = [
    'time="2026-11-23T15:46:35.52Z" level=warning msg="Your kernel does not support cgroup blkio weight"',
    'time="2026-11-23T15:46:35.60Z" level=info msg="API listen on /run/docker.sock"',
    'Status: unknown flag: --no-such-flag',
    "See 'dockerd --help'., Code: 125",
    'docker.service: Referenced but unset environment variable evaluates to an empty string: DOCKER_OPTS',
  ].join('\n')
  assert.equal(dockerdComplaint(journal), 'unknown flag: --no-such-flag')
  assert.equal(dockerdComplaint('time="x" level=info msg="Starting up"\ntime="y" level=fatal msg="failed to start daemon: pid file found, ensure docker is not running or delete \\"/var/run/docker.pid\\""\n'),
    'failed to start daemon: pid file found, ensure docker is not running or delete "/var/run/docker.pid"')
  assert.equal(dockerdComplaint('time="x" level=info msg="Starting up"\n'), '')
  assert.equal(dockerdComplaint(`Status: invalid argument "lots" for "--mtu" flag: strconv.ParseInt: parsing "lots": invalid syntax\nSee 'dockerd --help'., Code: 125\n`),
    'invalid argument "lots" for "--mtu" flag: strconv.ParseInt: parsing "lots": invalid syntax')
  assert.equal(dockerdComplaint('unable to configure the Docker daemon with file /etc/docker/daemon.json.cluster-new: the following directives are specified both as a flag and in the configuration file: mtu: (from flag: 1400, from file: 1500)\n'),
    'unable to configure the Docker daemon with file /etc/docker/daemon.json.cluster-new: the following directives are specified both as a flag and in the configuration file: mtu: (from flag: 1400, from file: 1500)')
})
