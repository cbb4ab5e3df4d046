/**
 * `cluster ssh` and `cluster scp` run the system's OpenSSH client with the machine's own key
 * and pinned host key, so the user gets a real terminal, agent-free port forwarding and
 * scp's progress bar. The argument lists are built by pure functions.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {constants} from 'node:os'
import {join} from 'node:path'
import {ClusterError, InputError} from '../../core/errors.js'
import type {MachineRecord} from '../../core/model.js'
import type {SshTarget} from '../../drivers/sdk/driver.js'

/** What ssh needs to know of one machine. */
export interface SshMachine {
  name: string
  host: string
  port: number
  user: string
  /** The machine's folder in the local store (holds id_ed25519 and known_hosts). */
  dir: string
}

/**
 * Where the driver says SSH is, not the public address: they differ for a VirtualBox VM (a
 * NAT port-forward on 127.0.0.1), and the pinned host key is filed under the driver's host.
 */
export function sshMachine(record: MachineRecord, dir: string, target: SshTarget): SshMachine {
  return {name: record.name, host: target.host, port: target.port, user: target.user, dir}
}

/** A known_hosts line (no newline) pinning `hostKey` (`<algo> <base64>`): `[host]:port` unless the port is 22. */
export function knownHostsLine(host: string, port: number, hostKey: string): string {
  const [algo, key] = hostKey.trim().split(/\s+/)
  const name = port === 22 ? host : `[${host}]:${port}`
  return `${name} ${algo} ${key}`
}

/**
 * Options every ssh/scp run gets: only this machine's key, only its pinned host key. ssh
 * keeps the first value of each option, so these, placed first, win over any later -o and
 * over ~/.ssh/config; the last four shut the other ways a host key could be accepted.
 */
function commonOptions(m: SshMachine | SshMachine[], batch: boolean): string[] {
  const ms = Array.isArray(m) ? m : [m]
  // ssh_config quoting: a path with a space is one word in double quotes.
  const word = (path: string) => /\s/.test(path) ? `"${path}"` : path
  return [
    ...ms.flatMap(x => ['-i', join(x.dir, 'id_ed25519')]),
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${ms.map(x => word(join(x.dir, 'known_hosts'))).join(' ')}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'KnownHostsCommand=none',
    '-o', 'VerifyHostKeyDNS=no',
    '-o', 'UpdateHostKeys=no',
    '-o', 'ConnectTimeout=10',
    ...(batch ? ['-o', 'BatchMode=yes'] : []),
  ]
}

/** ssh's options that take an argument (OpenSSH 9's getopt string). */
const SSH_ARG_OPTIONS = new Set('bceilmopBDEFIJLOPQRSWw')
/** -o settings that decide which host keys are trusted: the store's pins decide that, never the command line. */
const PINNING_OPTIONS = ['stricthostkeychecking', 'userknownhostsfile', 'globalknownhostsfile', 'knownhostscommand', 'verifyhostkeydns', 'updatehostkeys', 'hostkeyalias']

/** The user's words after the machine name, read as ssh reads words after its destination. */
export interface SshWords {
  /** -o settings given, as written (`Key=value` or `Key value`). */
  settings: string[]
  /** The remote command's words; none means an interactive shell (unless -N). */
  command: string[]
}

/**
 * Reads words after the destination as OpenSSH does: options (clustered `-fN`, attached or
 * separate arguments) until `--` or the first other word, which starts the remote command.
 */
export function readSshWords(words: string[]): SshWords {
  const settings: string[] = []
  let i = 0
  for (; i < words.length; i++) {
    const w = words[i]
    if (w === '--') return {settings, command: words.slice(i + 1)}
    if (!w.startsWith('-') || w === '-') break
    for (let j = 1; j < w.length; j++) {
      if (!SSH_ARG_OPTIONS.has(w[j])) continue
      const arg = j + 1 < w.length ? w.slice(j + 1) : words[++i]
      if (arg === undefined) throw new InputError(`ssh option -${w[j]} needs a value`, `write -${w[j]} VALUE, as for ssh`)
      if (w[j] === 'o') settings.push(arg)
      break
    }
  }
  return {settings, command: words.slice(i)}
}

/** The words after the machine name go to ssh as they are (Docker Machine's way), after our pinning options. */
export function sshArgv(m: SshMachine, words: string[]): string[] {
  const {settings, command} = readSshWords(words)
  for (const setting of settings) {
    const key = setting.trim().split(/[\s=]/)[0].toLowerCase()
    if (PINNING_OPTIONS.includes(key)) {
      throw new InputError(`-o ${setting} would change which host keys ssh trusts for ${m.name}`, `drop it: the host key pinned in the store decides (after a rebuild: \`cluster regenerate-certs --accept-host-key ${m.name}\`)`)
    }
  }
  // No `--` before the destination: ssh reads options after it only without one.
  // So a destination that ssh could take for an option is refused.
  const destination = `${m.user}@${m.host}`
  if (destination.startsWith('-')) throw new InputError(`ssh user "${m.user}" of ${m.name} starts with "-"`, 'fix the machine record\'s sshUser')
  return [...commonOptions(m, command.length > 0), '-p', String(m.port), destination, ...words]
}

/** One side of an scp: a local path, or a path on a named machine (`NAME:PATH`). */
export interface ScpPath {
  machine?: string
  path: string
}

/**
 * Reads `[NAME:]PATH` the way scp does: a colon before any slash makes it remote.
 * `./a:b` and `/x:y` are local files.
 */
export function parseScpPath(arg: string): ScpPath {
  const colon = arg.indexOf(':')
  const slash = arg.indexOf('/')
  if (colon <= 0 || (slash >= 0 && slash < colon)) return {path: arg}
  const machine = arg.slice(0, colon)
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(machine)) {
    throw new InputError(`"${machine}" in "${arg}" is not a machine name`, 'write NAME:PATH, or ./PATH for a local file whose name has a colon')
  }
  return {machine, path: arg.slice(colon + 1)}
}

export interface ScpOptions {
  recursive: boolean
  source: ScpPath
  destination: ScpPath
}

/**
 * scp arguments for the machines named in source and destination (one, or two different
 * ones). Between two machines, scp relays through this computer (-3), each side written as
 * an scp:// URI to carry its own user and port, and each machine's key and pin offered.
 */
export function scpArgv(machines: SshMachine[], opts: ScpOptions): string[] {
  if (machines.length === 2) {
    const uri = (p: ScpPath) => {
      const m = machines.find(x => x.name === p.machine)!
      return `scp://${m.user}@${bracketIPv6(m.host)}:${m.port}/${p.path}`
    }
    return [...commonOptions(machines, true), ...(opts.recursive ? ['-r'] : []), '-3', '--', uri(opts.source), uri(opts.destination)]
  }
  const m = machines[0]
  const side = (p: ScpPath) => p.machine === undefined ? p.path : `${m.user}@${bracketIPv6(m.host)}:${p.path}`
  return [
    ...commonOptions(m, true),
    '-P', String(m.port),
    ...(opts.recursive ? ['-r'] : []),
    // Both ends on one machine: let scp relay through here instead of the host logging into itself.
    ...(opts.source.machine !== undefined && opts.destination.machine !== undefined ? ['-3'] : []),
    '--', side(opts.source), side(opts.destination),
  ]
}

/** The machines an scp names (one or two), source first. */
export function scpMachineNames(opts: ScpOptions): string[] {
  const names = [...new Set([opts.source.machine, opts.destination.machine].filter((n): n is string => n !== undefined))]
  if (names.length === 0) throw new InputError('neither path names a machine', 'write NAME:PATH for the remote side, e.g. `cluster scp ./app.tar web1:/tmp/`')
  return names
}

function bracketIPv6(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** Fails early, with the fix, when the machine's key or pinned host key is missing. */
export function checkMachineFiles(m: SshMachine): void {
  for (const file of ['id_ed25519', 'known_hosts']) {
    if (!existsSync(join(m.dir, file))) {
      throw new ClusterError(`${join(m.dir, file)} is missing, so ssh cannot log in to ${m.name} safely`,
        {hint: `run \`cluster regenerate-certs ${m.name}\` on the computer that created it, or copy the machine folder from there`})
    }
  }
}

/** Runs ssh or scp on this terminal; resolves with its exit code (the remote command's, for ssh). */
export function runOpenSsh(program: 'ssh' | 'scp', argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, argv, {stdio: 'inherit'})
    child.on('error', err => reject((err as NodeJS.ErrnoException).code === 'ENOENT'
      ? new ClusterError(`${program} is not installed on this computer`, {hint: 'install the OpenSSH client (Debian: apt-get install openssh-client)', cause: err})
      : err))
    // Killed by a signal: report it as a shell would, 128 + the signal's number.
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)))
  })
}
