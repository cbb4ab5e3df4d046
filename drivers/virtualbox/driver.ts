/**
 * The virtualbox driver: a VM on this computer booting a Debian or Ubuntu cloud image, driven
 * through VBoxManage. cloud-init reads the seed ISO the driver makes (our key for root, both
 * adapters up); then the CLI provisions it like any other host. SSH goes through a NAT
 * port-forward on 127.0.0.1; Docker is reached on the VM's host-only address, which VirtualBox's
 * DHCP server leased to the adapter's MAC (cloud images have no guest additions to report it).
 * Tested only against the VBoxManage stand-in in test/vbox-stub.
 */
import {randomBytes, randomUUID} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type {Addresses, Driver, DriverContext, DriverData, MachineState, SshTarget} from '../sdk/index.js'
import {AlreadyExistsError, DriverError, ensureKeyPair} from '../sdk/index.js'
import {dhcpNetworkName, findInterface, hasDhcpServer, type HostOnlyNetwork} from './hostonly.js'
import {baseDisk, checkImage} from './image.js'
import type {VboxOptions} from './options.js'
import {hostOnlyAdapterCommand, randomMac, vmSetupCommands, type VmMacs} from './plan.js'
import {findIsoMaker, seedFiles, writeSeedIso} from './seed.js'
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
  /** The adapters' MACs: the host-only one is how the DHCP lease is found. */
  macs?: VmMacs
}

export interface VboxTuning {
  pollIntervalMs: number
  /** How long the guest may take to get its address, or to power off on ACPI. */
  waitTimeoutMs: number
  /** Where the VT-x/AMD-V flags are read from. */
  cpuinfoPath: string
}

export const DEFAULT_TUNING: VboxTuning = {pollIntervalMs: 1000, waitTimeoutMs: 3 * 60_000, cpuinfoPath: '/proc/cpuinfo'}

/** The seed gives root our key (as on a droplet); the image's default user is not made. */
const SSH_USER = 'root'

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
    // 6.1 brought `dhcpserver findlease`, how the VM's address is learnt.
    const [major, minor] = (/^(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number)
    if (!(major! > 6 || (major === 6 && minor! >= 1))) throw new DriverError(`VirtualBox ${version} is too old`, {hint: 'install VirtualBox 6.1 or later'})
    checkImage(o.imageUrl)
    findIsoMaker()
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
    const pair = await ensureKeyPair(dir, `cluster-${name}`)
    const base = await baseDisk({source: o.imageUrl, cacheDir: join(this.ctx.cacheDir, 'virtualbox'), vbox: this.vbox, progress: this.ctx.progress, signal})
    const macs: VmMacs = {nat: randomMac(randomBytes(3)), hostOnly: randomMac(randomBytes(3))}
    const seedIso = join(dir, 'seed.iso')
    await writeSeedIso(seedIso, seedFiles({instanceId: randomUUID(), hostname: name, publicKey: pair.publicKey, macs}), signal)

    this.d.sshPort = await freeLoopbackPort()
    this.d.macs = macs
    await this.ctx.save(this.data())
    this.ctx.progress(`Creating VM ${name}`)
    await this.vbox.run(['createvm', '--basefolder', dir, '--name', name, '--register'])
    // Cloned right after createvm, so that from here a failed create's rm deletes the disk with the VM.
    const disk = join(dir, 'disk.vdi')
    this.ctx.progress(`Making a ${o.diskMb} MB disk from the image`)
    await this.vbox.run(['clonemedium', 'disk', base, disk, '--format', 'VDI'])
    // The cache stays out of VirtualBox's media list: it is no VM's disk.
    await this.vbox.run(['closemedium', 'disk', base])
    await this.vbox.run(['modifymedium', 'disk', disk, '--resize', String(o.diskMb)])
    for (const args of vmSetupCommands(name, o, this.d.sshPort, {seedIso, disk}, macs)) await this.vbox.run(args)
    this.d.hostOnlyInterface = await this.hostOnlyInterface(o.hostOnly)
    await this.vbox.run(hostOnlyAdapterCommand(name, o, this.d.hostOnlyInterface, macs.hostOnly))
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

  /** Starts the VM and waits until VirtualBox's DHCP server has leased the host-only adapter an address. */
  private async boot(): Promise<void> {
    this.ctx.progress(`Starting VM ${this.d.vmName} (${this.d.uiType})`)
    await this.vbox.run(['startvm', this.d.vmName, '--type', this.d.uiType])
    const {hostOnlyInterface: iface, macs} = this.d
    if (!iface || !macs) throw new DriverError(`VM ${this.d.vmName} has no host-only adapter on record`, {hint: `remove it with \`cluster rm ${this.ctx.machineName}\` and create it again`})
    const started = Date.now()
    for (;;) {
      const ip = await this.vbox.dhcpLease(iface, macs.hostOnly)
      if (ip) {
        this.d.ip = ip
        return
      }
      if (Date.now() - started > this.tuning.waitTimeoutMs) {
        throw new DriverError(`VM ${this.d.vmName} got no address on host-only network ${iface} within ${this.tuning.waitTimeoutMs / 1000} s`,
          {hint: 'open the VM in the VirtualBox window to see whether it booted and cloud-init ran'})
      }
      this.ctx.progress(`Waiting for VM ${this.d.vmName} to get its address`)
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
