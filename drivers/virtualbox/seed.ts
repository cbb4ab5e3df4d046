/**
 * The cloud-init NoCloud seed: meta-data, user-data and network-config on an ISO 9660 volume
 * labelled `cidata`, attached as a DVD. cloud-init in Debian's and Ubuntu's cloud images finds
 * it on first boot, puts our key into root's authorized_keys and brings up both adapters.
 * The texts are pure; the ISO is made by genisoimage, xorriso or mkisofs (Linux) or hdiutil
 * (macOS): no npm package writes ISO 9660, and these are the tools cloud-init's docs use.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {DriverError} from '../sdk/index.js'
import {findProgram, runProgram} from './programs.js'
import type {VmMacs} from './plan.js'

export interface SeedInput {
  /** Changes with every VM, so cloud-init runs its first boot for a clone of a used disk too. */
  instanceId: string
  hostname: string
  publicKey: string
  macs: VmMacs
}

/** JSON strings are YAML double-quoted scalars: no value can break the document. */
const q = (s: string) => JSON.stringify(s)

export function seedFiles(s: SeedInput): Record<'meta-data' | 'user-data' | 'network-config', string> {
  return {
    'meta-data': `instance-id: ${q(s.instanceId)}\nlocal-hostname: ${q(s.hostname)}\n`,
    // root with our key only, as on a droplet: the provisioner works as root, so a sudo user
    // would add a step and no safety. No password logins; no default user (debian/ubuntu).
    'user-data': [
      '#cloud-config',
      'disable_root: false',
      'ssh_pwauth: false',
      'users: []',
      'ssh_authorized_keys:',
      `  - ${q(s.publicKey.trim())}`,
      '',
    ].join('\n'),
    // By MAC: cloud-init's fallback would bring up only the first adapter (NAT), not the host-only one.
    'network-config': [
      'version: 2',
      'ethernets:',
      '  nat:',
      `    match: {macaddress: ${q(s.macs.nat)}}`,
      '    dhcp4: true',
      '  hostonly:',
      `    match: {macaddress: ${q(s.macs.hostOnly)}}`,
      '    dhcp4: true',
      '',
    ].join('\n'),
  }
}

const ISO_MAKERS = ['genisoimage', 'xorriso', 'mkisofs', 'hdiutil'] as const

/** Writes the seed ISO at `out` with the first ISO maker on PATH. */
export async function writeSeedIso(out: string, files: Record<string, string>, signal?: AbortSignal): Promise<void> {
  const found = findIsoMaker()
  const dir = mkdtempSync(`${out}.files-`)
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, {mode: 0o600})
    const [name, file] = found
    // Rock Ridge and Joliet keep the names (meta-data, user-data) readable as cloud-init expects.
    const mkisofs = ['-output', out, '-volid', 'cidata', '-joliet', '-rock', '-quiet', dir]
    const args = name === 'hdiutil' ? ['makehybrid', '-o', out, '-iso', '-joliet', '-default-volume-name', 'cidata', dir]
      : name === 'xorriso' ? ['-as', 'mkisofs', ...mkisofs] : mkisofs
    await runProgram(file, args, signal)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

export function findIsoMaker(): [string, string] {
  const found = findProgram(ISO_MAKERS)
  if (!found) {
    throw new DriverError(`no program to make the cloud-init seed ISO: none of ${ISO_MAKERS.join(', ')} is on PATH`,
      {hint: 'install genisoimage or xorriso (apt-get install genisoimage); macOS has hdiutil'})
  }
  return found
}
