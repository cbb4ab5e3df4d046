/**
 * The VBoxManage commands that shape a new VM, as data: the driver runs them in order and
 * the tests compare them with what the stand-in recorded. Pure: no I/O.
 */
import type {VboxOptions} from './options.js'

export interface VmPaths {
  /** The cloud-init NoCloud seed (an ISO labelled cidata). */
  seedIso: string
  /** The machine's own copy of the cloud image, as a VDI. */
  disk: string
}

/** MAC addresses of the two adapters, so the guest's network-config can name them. */
export interface VmMacs {
  nat: string
  hostOnly: string
}

/** Hardware, the NAT adapter with its SSH port-forward, and storage: the disk boots, the seed is a DVD. */
export function vmSetupCommands(name: string, o: VboxOptions, sshPort: number, paths: VmPaths, macs: VmMacs): string[][] {
  return [
    ['modifyvm', name, '--firmware', 'bios', '--bioslogofadein', 'off', '--bioslogofadeout', 'off',
      '--bioslogodisplaytime', '0', '--biosbootmenu', 'disabled', '--ostype', 'Linux26_64',
      '--cpus', String(o.cpus), '--memory', String(o.memoryMb), '--acpi', 'on', '--ioapic', 'on',
      '--rtcuseutc', 'on', '--natdnshostresolver1', 'off', '--natdnsproxy1', 'on', '--cpuhotplug', 'off',
      '--pae', 'on', '--hpet', 'on', '--hwvirtex', 'on', '--nestedpaging', 'on', '--largepages', 'on',
      '--vtxvpid', 'on', '--accelerate3d', 'off', '--boot1', 'disk', '--boot2', 'none'],
    ['modifyvm', name, '--nic1', 'nat', '--nictype1', o.natNicType, '--macaddress1', vboxMac(macs.nat), '--cableconnected1', 'on'],
    // Loopback only: the VM's sshd is never exposed to the host's networks.
    ['modifyvm', name, '--natpf1', `ssh,tcp,127.0.0.1,${sshPort},,22`],
    ['storagectl', name, '--name', 'SATA', '--add', 'sata', '--hostiocache', 'on'],
    ['storageattach', name, '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'hdd', '--medium', paths.disk],
    ['storageattach', name, '--storagectl', 'SATA', '--port', '1', '--device', '0', '--type', 'dvddrive', '--medium', paths.seedIso],
  ]
}

export function hostOnlyAdapterCommand(name: string, o: VboxOptions, iface: string, mac: string): string[] {
  return ['modifyvm', name, '--nic2', 'hostonly', '--nictype2', o.hostOnlyNicType, '--nicpromisc2', 'deny',
    '--hostonlyadapter2', iface, '--macaddress2', vboxMac(mac), '--cableconnected2', 'on']
}

/** A random MAC in VirtualBox's own range (08:00:27), written with colons as the guest sees it. */
export function randomMac(bytes: Uint8Array): string {
  return ['08', '00', '27', ...[...bytes.subarray(0, 3)].map(b => b.toString(16).padStart(2, '0'))].join(':')
}

/** VBoxManage spells a MAC as 12 hex digits without separators. */
export function vboxMac(mac: string): string {
  return mac.replaceAll(':', '').toUpperCase()
}
