/**
 * generic: adopts a machine that already exists and that we can only reach over SSH.
 * Nothing is created or destroyed; power actions are whatever can be done over SSH.
 */
import {chmodSync, copyFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {connect as tcpConnect, isIP} from 'node:net'
import type {Driver, DriverContext, DriverData, DriverFactory, FlagValues, MachineState, SshTarget} from '../sdk/index.js'
import {InputError, NotSupportedError, MACHINE_KEY_FILE} from '../sdk/index.js'

interface GenericData extends DriverData {
  ip: string
  sshUser: string
  sshPort: number
  /** Set for password-only hosts during create, never persisted. */
  sshPassword?: string
}

class GenericDriver implements Driver {
  readonly name = 'generic'

  constructor(private d: GenericData, private ctx: DriverContext) {}

  data(): DriverData {
    const {sshPassword: _secret, ...rest} = this.d
    return rest
  }

  async preCreateCheck(): Promise<void> {}

  /** Nothing to make: the machine exists. Its key (if given) was copied by fromFlags. */
  async create(): Promise<void> {
    await this.ctx.save(this.data())
  }

  /** Adopted machines are never destroyed; `rm` only undoes what provisioning set up. */
  async remove(): Promise<void> {}

  state(): Promise<MachineState> {
    return probeTcp(this.d.ip, this.d.sshPort, 5000)
  }

  async start(): Promise<void> {
    throw new NotSupportedError('start is not supported by driver generic',
      {hint: 'power the host on by other means (its console or provider); `cluster ls` shows it Running again when SSH answers'})
  }

  stop(): Promise<void> { return this.overSsh('systemctl poweroff', 'stop') }
  kill(): Promise<void> { return this.overSsh('systemctl poweroff --force --force', 'kill') }
  restart(): Promise<void> { return this.overSsh('systemctl reboot', 'restart') }

  async addresses() {
    return {public: this.d.ip}
  }

  ssh(): SshTarget {
    const keyPath = join(this.ctx.machineDir, MACHINE_KEY_FILE)
    return {
      host: this.d.ip,
      port: this.d.sshPort,
      user: this.d.sshUser,
      privateKeyPath: existsSync(keyPath) ? keyPath : undefined,
      password: this.d.sshPassword,
    }
  }

  /** Power commands end the SSH session abruptly; a dropped connection is the expected outcome. */
  private async overSsh(cmd: string, what: string): Promise<void> {
    const sudo = this.d.sshUser === 'root' ? '' : 'sudo -n '
    await this.ctx.sshExec(this.ssh(), `(sleep 1; ${sudo}${cmd}) >/dev/null 2>&1 &`)
    this.ctx.progress(`${what}: sent "${cmd}"`)
  }
}

/** Running when the port accepts a connection; Stopped when refused or unreachable; Timeout otherwise. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<MachineState> {
  return new Promise(resolve => {
    const sock = tcpConnect({host, port})
    const done = (s: MachineState) => { sock.destroy(); resolve(s) }
    sock.setTimeout(timeoutMs, () => done('Timeout'))
    sock.once('connect', () => done('Running'))
    sock.once('error', () => done('Stopped'))
  })
}

export const genericDriver: DriverFactory = {
  name: 'generic',
  description: 'adopt an existing machine reachable over SSH',
  adopts: true,
  // The machine exists already: no boot to wait for, only a moment for a busy sshd.
  sshWaitSeconds: 15,
  flags: [
    {name: 'generic-ip-address', type: 'string', description: 'IP address of the machine', env: 'GENERIC_IP_ADDRESS'},
    {name: 'generic-ssh-user', type: 'string', description: 'SSH user', env: 'GENERIC_SSH_USER', default: 'root'},
    {name: 'generic-ssh-key', type: 'string', description: 'SSH private key path (copied into the store)', env: 'GENERIC_SSH_KEY'},
    {name: 'generic-ssh-password', type: 'string', description: 'SSH password, used once to install a fresh key', env: 'GENERIC_SSH_PASSWORD', secret: true},
    {name: 'generic-ssh-port', type: 'integer', description: 'SSH port', env: 'GENERIC_SSH_PORT', default: 22},
  ],
  fromFlags(flags: FlagValues, ctx: DriverContext): Driver {
    const ip = flags['generic-ip-address'] as string | undefined
    if (!ip) throw new InputError('driver generic needs the machine\'s address', 'pass --generic-ip-address IP')
    if (!isIP(ip) && !/^[A-Za-z0-9.-]+$/.test(ip)) throw new InputError(`--generic-ip-address "${ip}" is not an IP address or host name`, 'pass --generic-ip-address IP')
    const key = flags['generic-ssh-key'] as string | undefined
    const password = flags['generic-ssh-password'] as string | undefined
    if (key && password) throw new InputError('--generic-ssh-key and --generic-ssh-password exclude each other', 'pass only one of them')
    if (key) {
      if (!existsSync(key)) throw new InputError(`SSH key ${key} does not exist`, 'pass the path of a private key with --generic-ssh-key')
      const dest = join(ctx.machineDir, MACHINE_KEY_FILE)
      copyFileSync(key, dest)
      chmodSync(dest, 0o600)
    }
    const port = Number(flags['generic-ssh-port'] ?? 22)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError(`--generic-ssh-port ${port} is not a port`, 'use 1-65535')
    return new GenericDriver({ip, sshUser: String(flags['generic-ssh-user'] ?? 'root'), sshPort: port, sshPassword: password}, ctx)
  },
  load(data: DriverData, ctx: DriverContext): Driver {
    return new GenericDriver(data as GenericData, ctx)
  },
}
