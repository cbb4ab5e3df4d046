// cluster-driver-example: the smallest useful third-party driver. It adopts a machine that
// already runs sshd (like the built-in generic driver) and exists to prove that a driver
// published as an npm package is found and used without touching the CLI's code.
//
// It uses only the driver SDK, imported as every third-party driver does (the CLI is its peer
// dependency). A real package would be written in TypeScript against the same import and
// ship this compiled JavaScript; the JSDoc types below point at the SDK's interfaces.
import {chmodSync, copyFileSync, existsSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'
import {InputError, MACHINE_KEY_FILE, NotSupportedError} from 'machine-cluster/driver-sdk'

/** @type {import('machine-cluster/driver-sdk').DriverFactory} */
const driver = {
  name: 'example',
  description: 'example third-party driver: adopts a machine by IP over SSH',
  adopts: true,
  flags: [
    {name: 'example-ip', type: 'string', env: 'EXAMPLE_IP', description: 'IP address of the machine'},
    {name: 'example-ssh-user', type: 'string', env: 'EXAMPLE_SSH_USER', default: 'root', description: 'SSH user'},
    {name: 'example-ssh-port', type: 'integer', env: 'EXAMPLE_SSH_PORT', default: 22, description: 'SSH port'},
    {name: 'example-ssh-key', type: 'string', env: 'EXAMPLE_SSH_KEY', description: 'SSH private key (copied into the machine folder)'},
  ],
  fromFlags(flags, ctx) {
    const ip = flags['example-ip']
    if (!ip) throw new InputError('driver example needs the machine\'s address', 'pass --example-ip (or set EXAMPLE_IP)')
    const key = flags['example-ssh-key']
    if (key) {
      if (!existsSync(key)) throw new InputError(`--example-ssh-key ${key} does not exist`, 'pass the path of an SSH private key')
      copyFileSync(key, join(ctx.machineDir, MACHINE_KEY_FILE))
      chmodSync(join(ctx.machineDir, MACHINE_KEY_FILE), 0o600)
    }
    return new ExampleDriver({ip, user: flags['example-ssh-user'] ?? 'root', port: Number(flags['example-ssh-port'] ?? 22)}, ctx)
  },
  load(data, ctx) {
    return new ExampleDriver(data, ctx)
  },
}

/** @implements {import('machine-cluster/driver-sdk').Driver} */
class ExampleDriver {
  name = 'example'

  constructor(data, ctx) {
    this.d = data
    this.ctx = ctx
  }

  data() { return {...this.d} }
  async preCreateCheck() {}
  async create() { await this.ctx.save(this.data()) }
  /** The machine was adopted, not made: nothing to destroy. */
  async remove() {}

  /** Running when sshd accepts a connection within 5 s. */
  state() {
    return new Promise(resolve => {
      const sock = connect({host: this.d.ip, port: this.d.port})
      const done = state => { sock.destroy(); resolve(state) }
      sock.setTimeout(5000, () => done('Timeout'))
      sock.once('connect', () => done('Running'))
      sock.once('error', () => done('Stopped'))
    })
  }

  async start() { throw new NotSupportedError('driver example cannot power machines on') }
  async stop() { throw new NotSupportedError('driver example cannot power machines off') }
  async restart() { throw new NotSupportedError('driver example cannot restart machines') }
  async kill() { throw new NotSupportedError('driver example cannot power machines off') }
  async addresses() { return {public: this.d.ip} }

  ssh() {
    const key = join(this.ctx.machineDir, MACHINE_KEY_FILE)
    return {host: this.d.ip, port: this.d.port, user: this.d.user, privateKeyPath: existsSync(key) ? key : undefined}
  }
}

export default driver
