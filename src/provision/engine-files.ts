/**
 * The Docker engine configuration we write, computed without touching a host: the merged
 * /etc/docker/daemon.json and the systemd drop-in that starts dockerd with it.
 *
 * We own only our keys in daemon.json. The user's keys (the lab image sets bip and
 * default-address-pools, a cloud image may set log options) stay, and `state.json`
 * remembers what the file held before our first change, so `unconfigure` gives it back.
 */
import {isIP} from 'node:net'
import {InputError} from '../../core/errors.js'
import type {EngineOptions} from '../../core/model.js'

export const ENGINE_DIR = '/etc/docker/cluster'
export const DAEMON_JSON = '/etc/docker/daemon.json'
export const DROP_IN_DIR = '/etc/systemd/system/docker.service.d'
export const DROP_IN = `${DROP_IN_DIR}/10-cluster.conf`
export const STATE_JSON = `${ENGINE_DIR}/state.json`
/** ca.pem: the CA dockerd trusts for clients (--tlscacert), the Docker client CA. */
export const ENGINE_CERTS = {ca: `${ENGINE_DIR}/ca.pem`, cert: `${ENGINE_DIR}/server.pem`, key: `${ENGINE_DIR}/server-key.pem`}
export const DOCKER_TLS_PORT = 2376
export const DOCKER_SOCKET = 'unix:///var/run/docker.sock'

export type DaemonConfig = Record<string, unknown>

/** What we remember on the host between configure and unconfigure. */
export interface EngineState {
  /** daemon.json as it was before our first change; null when there was none. */
  original: DaemonConfig | null
  /** daemon.json keys we set or removed. */
  managedKeys: string[]
}

export interface EngineFilesInput {
  engine: EngineOptions
  /** The user's own daemon.json (see userDaemonConfig); null when there is none. */
  user: DaemonConfig | null
  /** Keys the router work adds (bip, mtu, dns, dns-search…); they win over the user's. */
  extraDaemon?: DaemonConfig
  /** The unit's own ExecStart (see baseExecStart). */
  execStart: string
}

export interface EngineFiles {
  daemonJson: DaemonConfig
  dropIn: string
  /** The dockerd command line of the drop-in, as words (for `dockerd --validate`). */
  dockerdArgs: string[]
  managedKeys: string[]
}

/** Engine opts whose value we set ourselves: the user would break TLS or fight our keys. */
const RESERVED_OPTS: Record<string, string> = {
  host: 'the Docker hosts are set by cluster',
  H: 'the Docker hosts are set by cluster',
  tls: 'TLS is always on',
  tlsverify: 'TLS is always on',
  tlscacert: 'the TLS files are set by cluster',
  tlscert: 'the TLS files are set by cluster',
  tlskey: 'the TLS files are set by cluster',
  'config-file': 'cluster writes /etc/docker/daemon.json',
  label: 'use --engine-label',
  'insecure-registry': 'use --engine-insecure-registry',
  'registry-mirror': 'use --engine-registry-mirror',
}

/** dockerd flags whose daemon.json key is not the flag's own name (dockerd refuses a setting given both ways). */
const FLAG_CONFIG_KEYS: Record<string, string> = {
  'add-runtime': 'runtimes',
  'authorization-plugin': 'authorization-plugins',
  'default-ulimit': 'default-ulimits',
  'dns-opt': 'dns-opts',
  'exec-opt': 'exec-opts',
  feature: 'features',
  'log-opt': 'log-opts',
  'node-generic-resource': 'node-generic-resources',
  'storage-opt': 'storage-opts',
}

export function engineFiles(input: EngineFilesInput): EngineFiles {
  checkEngineOptions(input.engine)
  const opts = input.engine.opts.map(parseEngineOpt)
  const env = input.engine.env.map(parseEngineEnv)
  const labels = input.engine.labels.map(parseLabel)
  const user: DaemonConfig = {...input.user}
  const extra = input.extraDaemon ?? {}

  // A flag wins over the user's daemon.json key of the same setting (the key goes, and comes
  // back on unconfigure); a clash with our own or the router's keys is the user's to fix.
  const flagKeys = opts.map(o => FLAG_CONFIG_KEYS[o.name] ?? o.name)
  for (const [i, key] of flagKeys.entries()) {
    if (key in extra) {
      throw new InputError(`--engine-opt ${opts[i].name} conflicts with the cluster's own "${key}" setting`, 'remove that --engine-opt')
    }
    delete user[key]
  }

  const ours: DaemonConfig = {
    tls: true,
    tlsverify: true,
    tlscacert: ENGINE_CERTS.ca,
    tlscert: ENGINE_CERTS.cert,
    tlskey: ENGINE_CERTS.key,
    // fd:// needs systemd socket activation, which our ExecStart no longer asks for.
    hosts: union([DOCKER_SOCKET, `tcp://0.0.0.0:${DOCKER_TLS_PORT}`], asStrings(user.hosts).filter(h => !h.startsWith('fd://'))),
  }
  const mergedLabels = mergeLabels(asStrings(user.labels), labels)
  if (mergedLabels.length > 0) ours.labels = mergedLabels
  const registries = union(asStrings(user['insecure-registries']), input.engine.insecureRegistries)
  if (registries.length > 0) ours['insecure-registries'] = registries
  const mirrors = union(asStrings(user['registry-mirrors']), input.engine.registryMirrors)
  if (mirrors.length > 0) ours['registry-mirrors'] = mirrors

  const daemonJson = {...user, ...ours, ...extra}
  const managedKeys = [...new Set([...Object.keys(ours), ...Object.keys(extra), ...flagKeys])].sort()

  const dockerdArgs = [...stripFdHost(splitWords(input.execStart)), ...opts.map(o => o.value === undefined ? `--${o.name}` : `--${o.name}=${o.value}`)]
  const dropIn = [
    '# Written by cluster: dockerd serves the API over mutual TLS, as set in /etc/docker/daemon.json.',
    '# `cluster rm` removes this file. -H fd:// is gone: it conflicts with "hosts" in daemon.json.',
    '[Service]',
    ...env.map(e => `Environment=${systemdQuote(e)}`),
    'ExecStart=',
    `ExecStart=${dockerdArgs.map(a => a.startsWith('$') ? a : systemdQuote(a, true)).join(' ')}`,
    '',
  ].join('\n')
  return {daemonJson, dropIn, dockerdArgs, managedKeys}
}

/** C0 controls and DEL: a newline ends a unit file line, the others have no place in one. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/g

/** Longest value any engine flag takes: far above any real one, far below systemd's line limit (1 MiB). */
export const MAX_ENGINE_VALUE = 4096

/**
 * Every engine flag's values, checked before anything is made: a value lands in the
 * docker.service drop-in, in daemon.json or in the server certificate, so it must be
 * one line of printable text, and of the shape its file expects. Throws InputError.
 */
export function checkEngineOptions(engine: EngineOptions): void {
  const flags: Array<[string, string[], (v: string) => void]> = [
    ['engine-opt', engine.opts, parseEngineOpt],
    ['engine-env', engine.env, parseEngineEnv],
    ['engine-label', engine.labels, parseLabel],
    ['engine-insecure-registry', engine.insecureRegistries, checkInsecureRegistry],
    ['engine-registry-mirror', engine.registryMirrors, checkMirror],
    ['tls-san', engine.tlsSans, checkSan],
  ]
  for (const [flag, values, check] of flags) {
    for (const value of values) {
      if (value.length > MAX_ENGINE_VALUE) {
        throw new InputError(`--${flag} value of ${value.length} characters is too long`, `keep each value under ${MAX_ENGINE_VALUE} characters`)
      }
      const control = new RegExp(`${CONTROL.source}|[\\x80-\\x9f]`).exec(value)
      if (control) {
        throw new InputError(`--${flag} ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)} contains a control character (U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()})`,
          'give each value as one line of printable text')
      }
      check(value)
    }
  }
}

/** host[:port], or a CIDR, as dockerd's --insecure-registry takes them. */
function checkInsecureRegistry(value: string): void {
  const [addr, len, extra] = value.split('/')
  const cidr = extra === undefined && len !== undefined && isIP(addr) !== 0 && /^\d{1,3}$/.test(len)
  if (!cidr && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/.test(value)) {
    throw new InputError(`--engine-insecure-registry "${value}" is not host[:port] or a CIDR`, 'e.g. --engine-insecure-registry 198.18.0.5:5000')
  }
}

/** An http(s) URL with no credentials, query or fragment (dockerd refuses those too). */
function checkMirror(value: string): void {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || /\s/.test(value) || url.username || url.password || url.search || url.hash) {
    throw new InputError(`--engine-registry-mirror "${value}" is not an http(s) URL without credentials, query or fragment`,
      'e.g. --engine-registry-mirror https://mirror.example.com')
  }
}

/** An IP address or a DNS name (a leading `*.` allowed), as a certificate's SAN holds them. */
function checkSan(value: string): void {
  const label = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
  const name = new RegExp(`^(\\*\\.)?${label}(\\.${label})*$`)
  if (isIP(value) === 0 && (value.length > 253 || !name.test(value))) {
    throw new InputError(`--tls-san "${value}" is not an IP address or a DNS name`, 'e.g. --tls-san docker.example.com or --tls-san 198.18.0.20')
  }
}

/**
 * The user's daemon.json: the current file without our keys, with the values those keys
 * had before we came. Null when there was no file and nothing of the user's remains.
 */
export function userDaemonConfig(current: DaemonConfig | null, state: EngineState | null): DaemonConfig | null {
  if (state === null) return current
  const user: DaemonConfig = {...current}
  for (const key of state.managedKeys) {
    delete user[key]
    if (state.original !== null && key in state.original) user[key] = state.original[key]
  }
  return state.original === null && Object.keys(user).length === 0 ? null : user
}

/**
 * The ExecStart the docker unit would run without our drop-in, from `systemctl cat
 * docker.service` (the unit, then its drop-ins, each after a `# /path` line). An empty
 * `ExecStart=` resets the list, as systemd does.
 */
export function baseExecStart(systemctlCat: string): string {
  let execStart: string | undefined
  let ours = false
  for (const raw of systemctlCat.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('# /')) ours = line.slice(2) === DROP_IN
    if (ours) continue
    const m = /^ExecStart\s*=\s*(.*)$/.exec(line)
    if (m) execStart = m[1] === '' ? undefined : m[1]
  }
  if (execStart === undefined) throw new InputError('docker.service has no ExecStart', 'reinstall the docker package on the host')
  // Prefixes such as "-" or "@" change how systemd runs the command, not which command.
  return execStart.replace(/^[-@:+!]+/, '')
}

/**
 * Drop-ins (from `systemctl cat docker.service`) that set ExecStart and are read after ours:
 * systemd applies drop-ins by file name across all their folders, so these would replace
 * our command line.
 */
export function laterExecStartDropIns(systemctlCat: string): string[] {
  const ourName = DROP_IN.slice(DROP_IN.lastIndexOf('/') + 1)
  const found = new Set<string>()
  let path = ''
  for (const raw of systemctlCat.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('# /')) path = line.slice(2)
    const name = path.slice(path.lastIndexOf('/') + 1)
    if (path.includes('.service.d/') && name > ourName && /^ExecStart\s*=/.test(line)) found.add(path)
  }
  return [...found]
}

/** The dockerd program path, first word of the command line. */
export function dockerdPath(execStart: string): string {
  return splitWords(execStart)[0]
}

interface EngineOpt {
  name: string
  value?: string
}

export function parseEngineOpt(opt: string): EngineOpt {
  const eq = opt.indexOf('=')
  const name = (eq < 0 ? opt : opt.slice(0, eq)).replace(/^--?/, '')
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(name)) {
    throw new InputError(`--engine-opt "${opt}" is not a dockerd flag`, 'write it as name=value, e.g. --engine-opt log-level=debug')
  }
  if (name in RESERVED_OPTS) throw new InputError(`--engine-opt ${name} cannot be set`, RESERVED_OPTS[name])
  return eq < 0 ? {name} : {name, value: opt.slice(eq + 1)}
}

function parseEngineEnv(env: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(env)) {
    throw new InputError(`--engine-env "${env}" is not NAME=value`, 'e.g. --engine-env HTTP_PROXY=http://proxy:3128')
  }
  return env
}

function parseLabel(label: string): string {
  if (!/^[^=\s]+=/.test(label)) throw new InputError(`--engine-label "${label}" is not key=value`, 'e.g. --engine-label zone=a')
  return label
}

/** Labels by key: ours replace the user's label of the same key. */
function mergeLabels(user: string[], ours: string[]): string[] {
  const byKey = new Map<string, string>()
  for (const label of [...user, ...ours]) byKey.set(label.split('=')[0], label)
  return [...byKey.values()]
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])]
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

function splitWords(commandLine: string): string[] {
  return commandLine.trim().split(/\s+/).filter(Boolean)
}

/** Drops `-H fd://` in any of its spellings. */
function stripFdHost(words: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    if ((w === '-H' || w === '--host') && words[i + 1]?.startsWith('fd://')) {
      i++
      continue
    }
    if (/^(-H|--host)=?fd:\/\//.test(w)) continue
    out.push(w)
  }
  return out
}

/**
 * One word for a systemd command line (`inExec`: `$` expands there) or an Environment=
 * value: quoted when needed, `%` specifiers and `$` expansion disarmed, and control
 * characters written as C escapes (systemd unescapes them), so no value can end the line.
 */
export function systemdQuote(word: string, inExec = false): string {
  let escaped = word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')
    .replace(CONTROL, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
  if (inExec) escaped = escaped.replace(/\$/g, '$$$$')
  return /^[\w@+=:,./-]+$/.test(word) ? escaped : `"${escaped}"`
}
