/**
 * The virtualbox driver: a boot2docker VM on this computer, driven through VBoxManage.
 * SSH goes through a NAT port-forward on 127.0.0.1; Docker is reached on the VM's
 * host-only address. Tested only against the VBoxManage stand-in in test/vbox-stub.
 */
import {copyFileSync, createWriteStream, existsSync, readFileSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import type {Addresses, Driver, DriverContext, DriverData, MachineState, SshTarget} from '../sdk/index.js'
import {AlreadyExistsError, DriverError, InputError, ensureKeyPair} from '../sdk/index.js'
import {dhcpNetworkName, findInterface, hasDhcpServer, type HostOnlyNetwork} from './hostonly.js'
import type {VboxOptions} from './options.js'
import {hostOnlyAdapterCommand, vmSetupCommands} from './plan.js'
import {writeUserdataDisk} from './userdata-disk.js'
import {VBoxManage} from './vboxmanage.js'

export interface VboxData extends DriverData {
  vboxmanage: string
  vmName: string
  uiType: string
  /** Host port on 127.0.0.1 forwarded to the VM's sshd. */
  sshPort?: number
  /** The VM's host-only address (what Docker is reached on). */
  ip?: string
  hostOnlyInterface?: string
}

export interface VboxTuning {
  pollIntervalMs: number
  /** How long the guest may take to report its address, or to power off on ACPI. */
  waitTimeoutMs: number
  /** Where the VT-x/AMD-V flags are read from. */
  cpuinfoPath: string
}

export const DEFAULT_TUNING: VboxTuning = {pollIntervalMs: 1000, waitTimeoutMs: 3 * 60_000, cpuinfoPath: '/proc/cpuinfo'}

/** boot2docker's login user. */
const SSH_USER = 'docker'
const IP_PROPERTY = '/VirtualBox/GuestInfo/Net/1/V4/IP'

const STATES: Record<string, MachineState> = {
  running: 'Running', paused: 'Paused', saved: 'Stopped', poweroff: 'Stopped', aborted: 'Stopped',
  starting: 'Starting', restoring: 'Starting', stopping: 'Stopping', saving: 'Stopping',
}

export class VirtualBoxDriver implements Driver {
  readonly name = 'virtualbox'
  private readonly vbox: VBoxManage

  constructor(
    private readonly d: VboxData,
    private readonly ctx: DriverContext,
    private readonly tuning: VboxTuning,
    private readonly options?: VboxOptions,
  ) {
    this.vbox = new VBoxManage(d.vboxmanage)
  }

  data(): DriverData {
    return {...this.d}
  }

  async preCreateCheck(): Promise<void> {
    const o = this.createOptions()
    const version = (await this.vbox.run(['--version'])).trim()
    const major = Number(/^(\d+)\./.exec(version)?.[1])
    if (!(major >= 6)) throw new DriverError(`VirtualBox ${version} is too old`, {hint: 'install VirtualBox 6.1 or later'})
    if (o.vtxCheck && !hasHardwareVirtualization(readFileSync(this.tuning.cpuinfoPath, 'utf8'))) {
      throw new DriverError('this computer does not offer hardware virtualization (VT-x/AMD-V)',
        {hint: 'enable it in the firmware settings, or pass --virtualbox-no-vtx-check to try anyway'})
    }
    if (await this.vbox.vmInfo(this.d.vmName)) {
      throw new AlreadyExistsError(`a VirtualBox VM named "${this.d.vmName}" already exists`,
        {hint: `choose another machine name, or delete that VM (VBoxManage unregistervm ${this.d.vmName} --delete)`})
    }
  }

  async create(): Promise<void> {
    const o = this.createOptions()
    const {machineDir: dir, signal} = this.ctx
    const name = this.d.vmName
    const iso = join(dir, 'boot2docker.iso')
    this.ctx.progress(`Getting the boot2docker ISO from ${o.isoUrl}`)
    await fetchIso(o.isoUrl, iso, signal)
    const pair = await ensureKeyPair(dir, `cluster-${name}`)

    this.ctx.progress(`Creating a ${o.diskMb} MB disk`)
    const raw = join(dir, 'disk.raw')
    const disk = join(dir, 'disk.vmdk')
    writeUserdataDisk(raw, o.diskMb, pair.publicKey)
    await this.vbox.run(['convertfromraw', raw, disk, '--format', 'VMDK'])
    rmSync(raw)

    this.d.sshPort = await freeLoopbackPort()
    await this.ctx.save(this.data())
    this.ctx.progress(`Creating VM ${name}`)
    await this.vbox.run(['createvm', '--basefolder', dir, '--name', name, '--register'])
    for (const args of vmSetupCommands(name, o, this.d.sshPort, {iso, disk})) await this.vbox.run(args)
    this.d.hostOnlyInterface = await this.hostOnlyInterface(o.hostOnly)
    await this.vbox.run(hostOnlyAdapterCommand(name, o, this.d.hostOnlyInterface))
    await this.ctx.save(this.data())
    signal.throwIfAborted()
    await this.boot()
    await this.ctx.save(this.data())
  }

  /** Powers the VM off and deletes it with its disks; a VM that is gone, or not ours, is left alone. */
  async remove(): Promise<void> {
    // No VM name saved: create never started (bad flags, failed checks), so nothing can exist.
    if (!this.d.vmName) return
    const info = await this.vbox.vmInfo(this.d.vmName)
    if (!info) return
    if (!info.CfgFile?.startsWith(this.ctx.machineDir)) {
      this.ctx.progress(`VM ${this.d.vmName} lives in ${info.CfgFile}, not in this machine's folder: left alone`)
      return
    }
    if (['running', 'paused', 'stuck', 'starting'].includes(info.VMState ?? '')) {
      this.ctx.progress(`Powering off VM ${this.d.vmName}`)
      await this.vbox.run(['controlvm', this.d.vmName, 'poweroff'])
    }
    this.ctx.progress(`Deleting VM ${this.d.vmName}`)
    await this.vbox.run(['unregistervm', this.d.vmName, '--delete'])
  }

  async state(): Promise<MachineState> {
    const info = await this.vbox.vmInfo(this.d.vmName)
    return info ? STATES[info.VMState ?? ''] ?? 'Unknown' : 'NotFound'
  }

  async start(): Promise<void> {
    if ((await this.state()) === 'Running') return
    await this.boot()
  }

  /** ACPI shutdown, then wait until the VM is off (Docker Machine's Stop). */
  async stop(): Promise<void> {
    if ((await this.state()) !== 'Running') return
    await this.vbox.run(['controlvm', this.d.vmName, 'acpipowerbutton'])
    const started = Date.now()
    while ((await this.state()) !== 'Stopped') {
      if (Date.now() - started > this.tuning.waitTimeoutMs) {
        throw new DriverError(`VM ${this.d.vmName} did not power off within ${this.tuning.waitTimeoutMs / 1000} s`,
          {hint: `force it with \`cluster kill ${this.ctx.machineName}\``})
      }
      await sleep(this.tuning.pollIntervalMs, undefined, {signal: this.ctx.signal})
    }
  }

  async kill(): Promise<void> {
    if (['Running', 'Paused', 'Starting'].includes(await this.state())) await this.vbox.run(['controlvm', this.d.vmName, 'poweroff'])
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.boot()
  }

  async addresses(): Promise<Addresses> {
    if (!this.d.ip) throw new DriverError(`VM ${this.d.vmName} has not reported its address`, {hint: `start it with \`cluster start ${this.ctx.machineName}\``})
    return {public: this.d.ip}
  }

  ssh(): SshTarget {
    return {host: '127.0.0.1', port: this.d.sshPort ?? 0, user: SSH_USER, privateKeyPath: join(this.ctx.machineDir, 'id_ed25519')}
  }

  /** Starts the VM and waits until the guest reports its host-only address. */
  private async boot(): Promise<void> {
    this.ctx.progress(`Starting VM ${this.d.vmName} (${this.d.uiType})`)
    await this.vbox.run(['startvm', this.d.vmName, '--type', this.d.uiType])
    const started = Date.now()
    for (;;) {
      const ip = await this.vbox.guestProperty(this.d.vmName, IP_PROPERTY)
      if (ip) {
        this.d.ip = ip
        return
      }
      if (Date.now() - started > this.tuning.waitTimeoutMs) {
        throw new DriverError(`VM ${this.d.vmName} did not report an address on its host-only network within ${this.tuning.waitTimeoutMs / 1000} s`,
          {hint: 'open the VM in the VirtualBox window to see whether it booted'})
      }
      this.ctx.progress(`Waiting for VM ${this.d.vmName} to report its address`)
      await sleep(this.tuning.pollIntervalMs, undefined, {signal: this.ctx.signal})
    }
  }

  /** The host-only interface with our address, made (with its DHCP server) if there is none. */
  private async hostOnlyInterface(net: HostOnlyNetwork): Promise<string> {
    let iface = findInterface(await this.vbox.run(['list', 'hostonlyifs']), net)
    if (!iface) {
      const out = await this.vbox.run(['hostonlyif', 'create'])
      iface = /Interface '([^']+)' was successfully created/.exec(out)?.[1]
      if (!iface) throw new DriverError(`VBoxManage hostonlyif create did not name the new interface: ${out.trim()}`)
      await this.vbox.run(['hostonlyif', 'ipconfig', iface, '--ip', net.hostIp, '--netmask', net.netmask])
    }
    if (!hasDhcpServer(await this.vbox.run(['list', 'dhcpservers']), iface)) {
      await this.vbox.run(['dhcpserver', 'add', '--netname', dhcpNetworkName(iface), '--ip', net.dhcpIp,
        '--netmask', net.netmask, '--lowerip', net.lowerIp, '--upperip', net.upperIp, '--enable'])
    }
    return iface
  }

  private createOptions(): VboxOptions {
    if (!this.options) throw new DriverError('this virtualbox machine was loaded from its record and cannot be created again')
    return this.options
  }
}

/** vmx (Intel) or svm (AMD) among the CPU flags. */
export function hasHardwareVirtualization(cpuinfo: string): boolean {
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)
}

/** Copies a local ISO (path or file:// URL) or downloads an http(s) one. */
async function fetchIso(source: string, dest: string, signal: AbortSignal): Promise<void> {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source, {signal})
    if (!response.ok || !response.body) {
      throw new DriverError(`downloading ${source} failed (${response.status} ${response.statusText})`,
        {hint: 'check --virtualbox-boot2docker-url, or download the ISO and pass its path'})
    }
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(dest), {signal})
    return
  }
  const path = source.startsWith('file://') ? fileURLToPath(source) : source
  if (!existsSync(path)) throw new InputError(`boot2docker ISO ${path} does not exist`, 'pass an existing file or an http(s) URL with --virtualbox-boot2docker-url')
  copyFileSync(path, dest)
}

/** A port on 127.0.0.1 nobody listens on now, for the SSH forward. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}
