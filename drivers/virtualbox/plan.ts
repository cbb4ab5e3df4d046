/**
 * The VBoxManage commands that shape a new VM, as data: the driver runs them in order and
 * the tests compare them with what the stand-in recorded. Pure: no I/O.
 */
import {platform, homedir} from 'node:os'
import type {VboxOptions} from './options.js'

/** The host folder shared into the VM, as Docker Machine shared it (/Users on macOS, /home on Linux). */
export function sharedFolder(os: NodeJS.Platform = platform()): {name: string; hostPath: string} {
  if (os === 'darwin') return {name: 'Users', hostPath: '/Users'}
  if (os === 'win32') return {name: 'c/Users', hostPath: `${homedir().slice(0, 2)}\\Users`}
  return {name: 'hosthome', hostPath: '/home'}
}

export interface VmPaths {
  iso: string
  disk: string
}

/** Hardware, the NAT adapter with its SSH port-forward, storage and the shared folder. */
export function vmSetupCommands(name: string, o: VboxOptions, sshPort: number, paths: VmPaths): string[][] {
  const commands: string[][] = [
    ['modifyvm', name, '--firmware', 'bios', '--bioslogofadein', 'off', '--bioslogofadeout', 'off',
      '--bioslogodisplaytime', '0', '--biosbootmenu', 'disabled', '--ostype', 'Linux26_64',
      '--cpus', String(o.cpus), '--memory', String(o.memoryMb), '--acpi', 'on', '--ioapic', 'on',
      '--rtcuseutc', 'on', '--natdnshostresolver1', 'off', '--natdnsproxy1', 'on', '--cpuhotplug', 'off',
      '--pae', 'on', '--hpet', 'on', '--hwvirtex', 'on', '--nestedpaging', 'on', '--largepages', 'on',
      '--vtxvpid', 'on', '--accelerate3d', 'off', '--boot1', 'dvd'],
    ['modifyvm', name, '--nic1', 'nat', '--nictype1', o.natNicType, '--cableconnected1', 'on'],
    // Loopback only: the VM's sshd is never exposed to the host's networks.
    ['modifyvm', name, '--natpf1', `ssh,tcp,127.0.0.1,${sshPort},,22`],
    ['storagectl', name, '--name', 'SATA', '--add', 'sata', '--hostiocache', 'on'],
    ['storageattach', name, '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'dvddrive', '--medium', paths.iso],
    ['storageattach', name, '--storagectl', 'SATA', '--port', '1', '--device', '0', '--type', 'hdd', '--medium', paths.disk],
  ]
  if (o.share) {
    const share = sharedFolder()
    commands.push(
      ['sharedfolder', 'add', name, '--name', share.name, '--hostpath', share.hostPath, '--automount'],
      ['setextradata', name, `VBoxInternal2/SharedFoldersEnableSymlinksCreate/${share.name}`, '1'],
    )
  }
  return commands
}

export function hostOnlyAdapterCommand(name: string, o: VboxOptions, iface: string): string[] {
  return ['modifyvm', name, '--nic2', 'hostonly', '--nictype2', o.hostOnlyNicType, '--nicpromisc2', 'deny',
    '--hostonlyadapter2', iface, '--cableconnected2', 'on']
}
