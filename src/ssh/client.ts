/**
 * One SSH connection to a machine (ssh2): pinned host key, translated errors, and the few
 * operations provisioning needs (run a command, write and read a file).
 *
 * Non-root logins: when the login user is not root, every command runs through
 * `sudo -n sh -c …` (passwordless sudo is required; `-n` makes a sudo that wants a
 * password fail at once instead of hanging). Pass `{sudo: false}` to an operation to run
 * it as the login user (e.g. to edit that user's own ~/.ssh).
 */
import {readFileSync} from 'node:fs'
import ssh2 from 'ssh2'
import type {SshTarget} from '../../drivers/sdk/driver.js'
import {HostKeyMismatchError, InputError, ProvisionError, SshError} from '../../core/errors.js'
import {formatHostKey, hostKeyFingerprint, sameHostKey} from './host-key.js'
import {asRoot, shq} from './shell.js'

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

export interface SshConnectOptions extends SshTarget {
  /** The host key recorded at first contact (`<algo> <base64>`); absent on first contact. */
  pinnedHostKey?: string
  /** Budget for TCP connect plus SSH handshake and login. Default 10 s. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Machine name, for the way out named in a host-key mismatch. */
  machineName?: string
  /** Run commands as root through sudo when the login user is not root. Default true. */
  sudo?: boolean
  /** What to tell the user to check; the defaults name the generic driver's flags. */
  hints?: {unreachable?: string; auth?: string}
}

export interface ExecOptions {
  stdin?: string | Buffer
  timeoutMs?: number
  /** Overrides the connection's sudo choice for this command. */
  sudo?: boolean
}

export interface ExecResult {
  /** Exit status; -1 when the command was killed by a signal. */
  code: number
  stdout: string
  stderr: string
}

const DEFAULT_HINTS = {
  unreachable: 'check --generic-ip-address and that sshd runs',
  auth: 'check --generic-ssh-key / --generic-ssh-password',
}

/** Exit status our readFile script uses for "no such file" (sysexits' EX_NOINPUT). */
const EXIT_NO_FILE = 66

/** How long past a remote timeout (TERM, then KILL 2 s later) the local timer waits. */
const REMOTE_TIMEOUT_GRACE_MS = 5000

export class SshConnection {
  /** `<user>@<host>:<port>`, for messages. */
  readonly where: string
  private readonly sudoByDefault: boolean
  private lostWith?: Error

  constructor(private readonly client: ssh2.Client, readonly target: SshConnectOptions,
    /** The host key the server presented, `<algo> <base64>`: record it at first contact. */
    readonly hostKey: string) {
    this.where = `${target.user}@${target.host}:${target.port}`
    this.sudoByDefault = target.user !== 'root' && target.sudo !== false
    // After login a dropped connection surfaces through the channels; keep the reason.
    client.on('error', err => { this.lostWith = err })
  }

  /**
   * Runs a command. With `timeoutMs`, the remote side enforces it (coreutils `timeout`, so
   * the process really dies: sshd ignores signal requests from clients), and a local timer
   * backs it up in case the connection itself hangs.
   */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const seconds = opts.timeoutMs === undefined ? undefined : opts.timeoutMs / 1000
    const limited = seconds === undefined ? command : `timeout -k 2 ${seconds} sh -c ${shq(command)}`
    const line = (opts.sudo ?? this.sudoByDefault) ? asRoot(limited) : limited
    const timedOut = () => new SshError(`command timed out after ${seconds} s on ${this.where}: ${brief(command)}`)
    const started = Date.now()
    return new Promise((resolve, reject) => {
      this.client.exec(line, (err, channel) => {
        if (err) {
          reject(new SshError(`cannot start a command on ${this.where}: ${err.message}`,
            {cause: this.lostWith ?? err}))
          return
        }
        const stdout: Buffer[] = []
        const stderr: Buffer[] = []
        let code: number | null = null
        let signal: string | undefined
        const backstop = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
          channel.close()
          reject(timedOut())
        }, opts.timeoutMs + REMOTE_TIMEOUT_GRACE_MS)
        channel.on('data', (d: Buffer) => stdout.push(d))
        channel.stderr.on('data', (d: Buffer) => stderr.push(d))
        channel.on('exit', (exitCode: number | null, signalName?: string) => {
          code = exitCode
          signal = signalName
        })
        channel.on('close', () => {
          clearTimeout(backstop)
          if (code === null && signal === undefined) {
            reject(new SshError(`connection to ${this.where} was lost while running: ${brief(command)}`,
              {cause: this.lostWith}))
          } else if (seconds !== undefined && (code === 124 || code === 137) && Date.now() - started >= opts.timeoutMs!) {
            reject(timedOut())
          } else {
            resolve({code: code ?? -1, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString()})
          }
        })
        channel.end(opts.stdin)
      })
    })
  }

  /** Runs a command that must succeed; a failure names `what` and the end of its stderr. */
  async run(command: string, what: string, opts: ExecOptions = {}): Promise<string> {
    const result = await this.exec(command, opts)
    if (result.code !== 0 && /^sudo: (a password is required|.*not in the sudoers)/m.test(result.stderr)) {
      throw new SshError(`${what} failed on ${this.target.host}: ${this.target.user} may not use sudo without a password`,
        {hint: `give ${this.target.user} passwordless sudo (NOPASSWD in /etc/sudoers.d) or log in as root`})
    }
    if (result.code !== 0) {
      const detail = lastLines(result.stderr) || lastLines(result.stdout) || 'no output'
      throw new ProvisionError(`${what} failed on ${this.target.host} (exit ${result.code}): ${detail}`)
    }
    return result.stdout
  }

  /**
   * Writes a file atomically (temp file in the same folder, then rename) with `mode`, so a
   * reader never sees half a file and a key is never readable by others, even briefly.
   * Creates the parent folder when missing.
   */
  async writeFile(path: string, content: string | Buffer, mode: number, opts: {sudo?: boolean} = {}): Promise<void> {
    const octal = mode.toString(8).padStart(4, '0')
    const script = [
      `mkdir -p "$(dirname ${shq(path)})"`,
      `t=${shq(path)}.cluster-tmp.$$`,
      `trap 'rm -f "$t"' EXIT`,
      'umask 077',
      'cat > "$t"',
      `chmod ${octal} "$t"`,
      `mv -f "$t" ${shq(path)}`,
    ].join(' && ')
    await this.run(script, `writing ${path}`, {stdin: content, sudo: opts.sudo})
  }

  /** The file's content, or undefined when it does not exist. */
  async readFile(path: string, opts: {sudo?: boolean} = {}): Promise<string | undefined> {
    const result = await this.exec(`if [ -e ${shq(path)} ]; then cat -- ${shq(path)}; else exit ${EXIT_NO_FILE}; fi`, opts)
    if (result.code === EXIT_NO_FILE) return undefined
    if (result.code !== 0) {
      throw new ProvisionError(`reading ${path} failed on ${this.target.host}: ${lastLines(result.stderr) || `exit ${result.code}`}`)
    }
    return result.stdout
  }

  /**
   * A TCP connection opened by the machine's sshd to `host`:`port` as seen from the machine
   * (`ssh -W`): reaches services bound to its loopback with nothing installed there.
   */
  forward(host: string, port: number): Promise<ssh2.ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (err) reject(new SshError(`cannot reach ${host}:${port} through ${this.where}: ${err.message}`, {cause: this.lostWith ?? err}))
        else resolve(channel)
      })
    })
  }

  close(): void {
    this.client.end()
  }
}

/** Connects and logs in; every failure comes back as an SshError that says what to check. */
export async function connectSsh(opts: SshConnectOptions): Promise<SshConnection> {
  const privateKey = opts.privateKeyPath === undefined ? undefined : readPrivateKey(opts.privateKeyPath)
  if (privateKey === undefined && opts.password === undefined) {
    throw new InputError(`no SSH key or password for ${opts.user}@${opts.host}`, DEFAULT_HINTS.auth)
  }
  const client = new ssh2.Client()
  let presented: string | undefined
  return new Promise((resolve, reject) => {
    const {signal} = opts
    const onAbort = () => {
      client.end()
      reject(signal!.reason)
    }
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, {once: true})
    let settled = false
    client.once('ready', () => {
      settled = true
      signal?.removeEventListener('abort', onAbort)
      resolve(new SshConnection(client, opts, presented!))
    })
    client.on('error', err => {
      // ssh2 may report a second error ("Connection lost before handshake") after the first;
      // after login, the connection's own listener takes over.
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', onAbort)
      client.end()
      reject(translateConnectError(err, opts, presented))
    })
    client.connect({
      host: opts.host,
      port: opts.port,
      username: opts.user,
      privateKey,
      password: opts.password,
      readyTimeout: opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      keepaliveInterval: 15_000,
      hostVerifier: (key: Buffer) => {
        presented = formatHostKey(key)
        return opts.pinnedHostKey === undefined || sameHostKey(opts.pinnedHostKey, presented)
      },
    })
  })
}

/**
 * Connects, retrying while the host is unreachable (a machine that is still booting),
 * until `totalMs` has passed. A refused login or a changed host key fails at once.
 */
export async function waitForSsh(opts: SshConnectOptions, totalMs: number, intervalMs = 1000): Promise<SshConnection> {
  const deadline = Date.now() + totalMs
  for (;;) {
    try {
      return await connectSsh({...opts, timeoutMs: Math.max(1000, Math.min(opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, deadline - Date.now()))})
    } catch (error) {
      if (!(error instanceof UnreachableError) || Date.now() + intervalMs >= deadline) throw error
      await new Promise(r => setTimeout(r, intervalMs))
      opts.signal?.throwIfAborted()
    }
  }
}

/** The host did not answer SSH (refused, unreachable, timed out): worth retrying while it boots. */
export class UnreachableError extends SshError {}

function translateConnectError(err: Error & {level?: string; code?: string}, opts: SshConnectOptions, presented?: string): SshError {
  const address = `${opts.host}:${opts.port}`
  const hints = {...DEFAULT_HINTS, ...opts.hints}
  if (opts.pinnedHostKey !== undefined && presented !== undefined && !sameHostKey(opts.pinnedHostKey, presented)) {
    const name = opts.machineName ?? 'NAME'
    return new HostKeyMismatchError(
      `host key of ${address} changed (was ${hostKeyFingerprint(opts.pinnedHostKey)}, now ${hostKeyFingerprint(presented)})`,
      {hint: `if the host was rebuilt run \`cluster regenerate-certs --accept-host-key ${name}\`, otherwise \`cluster rm ${name}\``, cause: err})
  }
  if (err.level === 'client-authentication') {
    return new SshError(`SSH login ${opts.user}@${address} failed: the password or key was refused`, {hint: hints.auth, cause: err})
  }
  const reason = unreachableReason(err)
  if (reason) return new UnreachableError(`cannot reach ${address} over SSH (${reason})`, {hint: hints.unreachable, cause: err})
  return new SshError(`SSH handshake with ${address} failed: ${err.message}`, {hint: hints.unreachable, cause: err})
}

function unreachableReason(err: Error & {level?: string; code?: string}): string | undefined {
  if (err.level === 'client-timeout') return 'connect timed out'
  if (err.level === 'client-dns') return 'host name not found'
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused'
    case 'EHOSTUNREACH': return 'no route to host'
    case 'ENETUNREACH': return 'network unreachable'
    case 'ETIMEDOUT': return 'connect timed out'
    case 'ECONNRESET': return 'connection reset'
    default:
      // sshd accepted the connection and closed it: still starting, or MaxStartups.
      return /Connection lost before handshake/.test(err.message) ? 'closed before the SSH handshake' : undefined
  }
}

function readPrivateKey(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new SshError(`cannot read SSH key ${path}`, {hint: 'check the file exists and is readable', cause: error})
  }
}

/** The last two non-empty lines, on one line: where tools put the reason they failed. */
export function lastLines(text: string, count = 2): string {
  return text.split('\n').map(l => l.trim()).filter(Boolean).slice(-count).join(' | ')
}

function brief(command: string): string {
  const oneLine = command.replace(/\s+/g, ' ').trim()
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine
}
