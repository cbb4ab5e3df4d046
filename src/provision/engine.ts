/**
 * Configuring the host's Docker engine for the cluster: mutual TLS on :2376, labels,
 * registries and dockerd flags; and taking it all back off when a generic host leaves.
 * The files themselves are computed in engine-files.ts.
 */
import Docker from 'dockerode'
import type {SshConnection} from '../ssh/client.js'
import {lastLines} from '../ssh/client.js'
import {shq} from '../ssh/shell.js'
import {ProvisionError} from '../../core/errors.js'
import type {EngineOptions} from '../../core/model.js'
import {
  baseExecStart, dockerdPath, engineFiles, laterExecStartDropIns, userDaemonConfig,
  DAEMON_JSON, DROP_IN, DROP_IN_DIR, ENGINE_CERTS, ENGINE_DIR, STATE_JSON,
  type DaemonConfig, type EngineState,
} from './engine-files.js'
import {discardSnapshotScript, restoreScript, snapshotScript} from './file-snapshot.js'
import {parseDockerUrl} from '../docker.js'

export interface ConfigureEngineOptions {
  /** The CA dockerd trusts for clients (the Docker client CA). */
  clientCaPem: string
  serverCertPem: string
  /** Absent when the host made its own key at ENGINE_CERTS.key (it then never leaves the host). */
  serverKeyPem?: string
  engine: EngineOptions
  /** daemon.json keys of the router work (bip, mtu, dns, dns-search…). */
  extraDaemon?: DaemonConfig
}

const TOUCHED = [DAEMON_JSON, DROP_IN, STATE_JSON, ENGINE_CERTS.ca, ENGINE_CERTS.cert, ENGINE_CERTS.key]
// docker.socket is restarted too: our dockerd binds /var/run/docker.sock itself and removes
// it on exit, so a later `-H fd://` start would get systemd's socket with no file to reach
// it by. reset-failed: docker.service allows 3 starts a minute, and configure, a failed
// configure and its restore within one minute would otherwise leave docker down.
const RESTART = 'systemctl daemon-reload && systemctl stop docker.service && (systemctl restart docker.socket 2>/dev/null || true)'
  + ' && (systemctl reset-failed docker.service || true) && systemctl start docker.service'
const RESTART_TIMEOUT_MS = 120_000

/**
 * Writes certificates, daemon.json and the drop-in, then restarts docker. The new config is
 * checked with `dockerd --validate` first where dockerd has it (23+); if it is refused or
 * docker does not come back, every file is put back as it was and docker restarted on the
 * old config before the error is thrown.
 */
export async function configureEngine(conn: SshConnection, opts: ConfigureEngineOptions): Promise<void> {
  const current = await readJson(conn, DAEMON_JSON)
  const state = await readJson(conn, STATE_JSON) as EngineState | null
  const unit = await conn.run('systemctl cat docker.service', 'reading docker.service')
  const overriding = laterExecStartDropIns(unit)
  if (overriding.length > 0) {
    throw new ProvisionError(`${overriding.join(', ')} on ${conn.target.host} sets ExecStart and is read after ${DROP_IN}, so it would undo the TLS setup`,
      {hint: 'pass its dockerd flags with --engine-opt and remove it, or rename it to sort before 10-cluster.conf'})
  }
  const execStart = baseExecStart(unit)
  const files = engineFiles({engine: opts.engine, user: userDaemonConfig(current, state), extraDaemon: opts.extraDaemon, execStart})
  const newState: EngineState = {
    original: state ? state.original : current,
    managedKeys: [...new Set([...state?.managedKeys ?? [], ...files.managedKeys])].sort(),
  }
  const daemonJson = JSON.stringify(files.daemonJson, null, 2) + '\n'

  if (opts.serverKeyPem === undefined) {
    await conn.run(`test -s ${ENGINE_CERTS.key}`, `looking for the host's TLS key ${ENGINE_CERTS.key}`)
  }
  await conn.run(snapshotScript(TOUCHED), 'saving the current docker configuration')
  let restarted = false
  try {
    // The certificates first: dockerd --validate loads the TLS files the config names.
    await conn.writeFile(ENGINE_CERTS.ca, opts.clientCaPem, 0o644)
    await conn.writeFile(ENGINE_CERTS.cert, opts.serverCertPem, 0o644)
    if (opts.serverKeyPem !== undefined) await conn.writeFile(ENGINE_CERTS.key, opts.serverKeyPem, 0o600)
    await validateDaemonConfig(conn, dockerdPath(execStart), daemonJson, files.dockerdArgs.slice(1))
    await conn.writeFile(STATE_JSON, JSON.stringify(newState, null, 2) + '\n', 0o600)
    await conn.writeFile(DAEMON_JSON, daemonJson, 0o644)
    await conn.writeFile(DROP_IN, files.dropIn, 0o644)
    restarted = true
    await restartDocker(conn, 'restarting docker with the cluster configuration')
  } catch (error) {
    // Folders we made for files that did not exist go too; a running docker never read
    // the new files, so it is restarted only if we restarted it.
    const restore = `${restoreScript(TOUCHED)}; rmdir ${ENGINE_DIR} ${DROP_IN_DIR} 2>/dev/null; ${restarted ? RESTART : 'true'}`
    await conn.run(restore, 'restoring the previous docker configuration', {timeoutMs: RESTART_TIMEOUT_MS})
    throw error
  }
  await conn.run(discardSnapshotScript(TOUCHED), 'cleaning up the configuration backup')
}

/**
 * Removes our drop-in, certificates and daemon.json keys (the user's own keys and values
 * come back) and restarts docker. Docker stays installed. A host we never configured is
 * left alone.
 */
export async function unconfigureEngine(conn: SshConnection): Promise<{changed: boolean}> {
  const state = await readJson(conn, STATE_JSON) as EngineState | null
  if (state === null) return {changed: false}
  const user = userDaemonConfig(await readJson(conn, DAEMON_JSON), state)
  if (user === null) {
    await conn.run(`rm -f ${DAEMON_JSON}`, `removing ${DAEMON_JSON}`)
  } else {
    await conn.writeFile(DAEMON_JSON, JSON.stringify(user, null, 2) + '\n', 0o644)
  }
  await conn.run(`rm -f ${DROP_IN} && rm -rf ${ENGINE_DIR} && (rmdir ${DROP_IN_DIR} 2>/dev/null || true)`, 'removing the cluster docker files')
  await restartDocker(conn, 'restarting docker without the cluster configuration')
  return {changed: true}
}

export interface EngineTls {
  ca: string | Buffer
  cert: string | Buffer
  key: string | Buffer
}

/** Polls `docker version` over TLS until the engine answers; returns what it says. */
export async function waitForEngine(url: string, tls: EngineTls, timeoutMs = 60_000): Promise<Docker.DockerVersion> {
  const {host, port} = parseDockerUrl(url)
  const docker = new Docker({host, port, protocol: 'https', ...tls, timeout: 5000})
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await docker.version()
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new ProvisionError(`Docker at ${url} did not answer over TLS within ${Math.round(timeoutMs / 1000)} s: ${(error as Error).message}`,
          {hint: 'check that port 2376 is open and the host address is in the certificate', cause: error})
      }
      await new Promise(r => setTimeout(r, 500))
    }
  }
}

/** Runs `dockerd --validate` on the new config and flags, when this dockerd has it (Docker 23+). */
async function validateDaemonConfig(conn: SshConnection, dockerd: string, daemonJson: string, flags: string[]): Promise<void> {
  const help = await conn.exec(`${shq(dockerd)} --help`)
  if (!help.stdout.includes('--validate')) return
  const staged = `${DAEMON_JSON}.cluster-new`
  await conn.writeFile(staged, daemonJson, 0o600)
  const words = flags.filter(f => !f.startsWith('$')).map(shq).join(' ')
  const result = await conn.exec(`${shq(dockerd)} --validate --config-file ${staged} ${words}; rc=$?; rm -f ${staged}; exit $rc`)
  if (result.code !== 0) {
    throw new ProvisionError(`dockerd on ${conn.target.host} refused the engine configuration: ${dockerdComplaint(result.stderr || result.stdout)}`,
      {hint: 'fix the --engine-opt / --engine-* values'})
  }
}

/**
 * dockerd's own reason for refusing to start, from its output or the service's journal:
 * the last error it printed, without decoration ("Status: …, Code: 125", "See 'dockerd
 * --help'.", logrus' `time=… level=error msg="…"`). Info and warning lines are not reasons.
 */
export function dockerdComplaint(output: string): string {
  const reasons: string[] = []
  for (const raw of output.split('\n')) {
    const line = raw.trim()
    // systemd's own notes about the unit ("docker.service: Referenced but unset …") are not dockerd's.
    if (line === '' || /^See 'dockerd --help'/.test(line) || /^docker\.service: /.test(line)) continue
    const logrus = /level=(\w+) msg="((?:[^"\\]|\\.)*)"/.exec(line)
    if (logrus) {
      if (logrus[1] === 'error' || logrus[1] === 'fatal') reasons.push(logrus[2].replace(/\\(.)/g, '$1'))
      continue
    }
    reasons.push(line.replace(/^Status: /, '').replace(/,? Code: \d+$/, ''))
  }
  return reasons.at(-1) ?? ''
}

async function restartDocker(conn: SshConnection, what: string): Promise<void> {
  const result = await conn.exec(RESTART, {timeoutMs: RESTART_TIMEOUT_MS})
  if (result.code === 0) return
  // Only the service's processes (dockerd), not systemd's "Failed to start" lines.
  const journal = await conn.exec('journalctl _SYSTEMD_UNIT=docker.service -n 30 --no-pager -o cat')
  throw new ProvisionError(`${what} failed on ${conn.target.host}: ${dockerdComplaint(journal.stdout) || lastLines(result.stderr)}`,
    {hint: 'fix the --engine-opt / --engine-* values'})
}

async function readJson(conn: SshConnection, path: string): Promise<DaemonConfig | null> {
  const text = await conn.readFile(path)
  if (text === undefined || text.trim() === '') return null
  try {
    const value = JSON.parse(text) as unknown
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object')
    return value as DaemonConfig
  } catch (error) {
    throw new ProvisionError(`${path} on ${conn.target.host} is not valid JSON`, {hint: 'fix or remove the file, then try again', cause: error})
  }
}
