/**
 * The virtualbox driver's create flags (Docker Machine's names, env vars and defaults) and
 * their validation into typed options. Pure: no VBoxManage calls.
 */
import type {DriverFlag, FlagValues} from '../sdk/index.js'
import {InputError, resolveFlagValues} from '../sdk/index.js'
import {hostOnlyNetwork, type HostOnlyNetwork} from './hostonly.js'

/**
 * Debian 13's generic cloud image (cloud-init, no cloud-specific agents). "latest" rather than a
 * dated build: Debian keeps only recent builds, and a pinned one would vanish. Cached by URL.
 */
export const DEFAULT_IMAGE_URL = 'https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2'

const NIC_TYPES = ['Am79C970A', 'Am79C973', '82540EM', '82543GC', '82545EM', 'virtio']

export const VBOX_FLAGS: DriverFlag[] = [
  {name: 'virtualbox-vboxmanage', type: 'string', env: 'VBOXMANAGE_PATH', description: 'path of VBoxManage (default: found on PATH)'},
  {name: 'virtualbox-memory', type: 'integer', env: 'VIRTUALBOX_MEMORY_SIZE', default: 1024, description: 'memory of the VM in MB'},
  {name: 'virtualbox-cpu-count', type: 'integer', env: 'VIRTUALBOX_CPU_COUNT', default: 1, description: 'number of CPUs'},
  {name: 'virtualbox-disk-size', type: 'integer', env: 'VIRTUALBOX_DISK_SIZE', default: 20000, description: 'disk size in MB'},
  {name: 'virtualbox-image-url', type: 'string', env: 'VIRTUALBOX_IMAGE_URL', default: DEFAULT_IMAGE_URL, description: 'URL or path of a Debian 12/13 or Ubuntu 22.04/24.04 cloud image (qcow2, raw, VDI, VMDK or VHD)'},
  // Docker Machine's name, so its scripts keep working; it takes the same cloud images.
  {name: 'virtualbox-boot2docker-url', type: 'string', env: 'VIRTUALBOX_BOOT2DOCKER_URL', description: "Docker Machine's name for --virtualbox-image-url (a cloud image; a boot2docker ISO is refused)"},
  {name: 'virtualbox-hostonly-cidr', type: 'string', env: 'VIRTUALBOX_HOSTONLY_CIDR', default: '192.168.59.1/24', description: 'host address and prefix of the host-only network'},
  {name: 'virtualbox-hostonly-nictype', type: 'string', env: 'VIRTUALBOX_HOSTONLY_NIC_TYPE', default: '82540EM', options: NIC_TYPES, description: 'NIC type of the host-only adapter'},
  {name: 'virtualbox-nat-nictype', type: 'string', env: 'VIRTUALBOX_NAT_NICTYPE', default: '82540EM', options: NIC_TYPES, description: 'NIC type of the NAT adapter'},
  {name: 'virtualbox-no-vtx-check', type: 'boolean', env: 'VIRTUALBOX_NO_VTX_CHECK', default: false, description: 'skip the check that hardware virtualization is available'},
  {name: 'virtualbox-ui-type', type: 'string', env: 'VIRTUALBOX_UI_TYPE', default: 'headless', options: ['gui', 'sdl', 'headless', 'separate'], description: 'how the VM is started'},
]

export interface VboxOptions {
  vboxmanage: string
  memoryMb: number
  cpus: number
  diskMb: number
  imageUrl: string
  hostOnly: HostOnlyNetwork
  hostOnlyNicType: string
  natNicType: string
  vtxCheck: boolean
  uiType: string
}

export function parseOptions(given: FlagValues, env: NodeJS.ProcessEnv = process.env): VboxOptions {
  const v = resolveFlagValues(VBOX_FLAGS, given, env)
  const int = (name: string, min: number, max: number, envName: string): number => {
    const n = v[`virtualbox-${name}`] as number
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InputError(`--virtualbox-${name} ${n} is out of range`, `use ${min}-${max} (${envName})`)
    }
    return n
  }
  const choice = (name: string): string => {
    const flag = VBOX_FLAGS.find(f => f.name === `virtualbox-${name}`)!
    const value = String(v[flag.name])
    if (!flag.options!.includes(value)) throw new InputError(`--${flag.name} "${value}" is not known`, `use one of: ${flag.options!.join(', ')}`)
    return value
  }
  return {
    vboxmanage: (v['virtualbox-vboxmanage'] as string | undefined) || 'VBoxManage',
    memoryMb: int('memory', 256, 1_048_576, 'VIRTUALBOX_MEMORY_SIZE'),
    cpus: int('cpu-count', 1, 64, 'VIRTUALBOX_CPU_COUNT'),
    diskMb: int('disk-size', 1024, 2_000_000, 'VIRTUALBOX_DISK_SIZE'),
    imageUrl: imageUrl(v),
    hostOnly: hostOnlyNetwork(String(v['virtualbox-hostonly-cidr'])),
    hostOnlyNicType: choice('hostonly-nictype'),
    natNicType: choice('nat-nictype'),
    vtxCheck: v['virtualbox-no-vtx-check'] !== true,
    uiType: choice('ui-type'),
  }
}

/** --virtualbox-image-url, or Docker Machine's --virtualbox-boot2docker-url; two different images are refused. */
function imageUrl(v: FlagValues): string {
  const image = String(v['virtualbox-image-url'])
  const b2d = v['virtualbox-boot2docker-url'] as string | undefined
  if (!b2d) return image
  if (image !== DEFAULT_IMAGE_URL && image !== b2d) {
    throw new InputError('--virtualbox-image-url and --virtualbox-boot2docker-url name different images',
      'give one of them (VIRTUALBOX_IMAGE_URL and VIRTUALBOX_BOOT2DOCKER_URL count as these flags)')
  }
  return b2d
}
