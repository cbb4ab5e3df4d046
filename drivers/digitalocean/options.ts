/**
 * The digitalocean driver's create flags (Docker Machine's names, env vars and defaults,
 * with a current image) and their validation into typed options. Pure: no API calls.
 */
import {existsSync, readFileSync} from 'node:fs'
import type {DriverFlag, FlagValues} from '../sdk/index.js'
import {InputError, resolveFlagValues} from '../sdk/index.js'
import {DEFAULT_API_URL} from './api.js'

/** Ubuntu 24.04 LTS: the current LTS (Docker Machine's ubuntu-16-04-x64 no longer exists). */
export const DEFAULT_IMAGE = 'ubuntu-24-04-x64'

export const DO_FLAGS: DriverFlag[] = [
  {name: 'digitalocean-access-token', type: 'string', env: 'DIGITALOCEAN_ACCESS_TOKEN', secret: true, description: 'DigitalOcean personal access token (read and write)'},
  {name: 'digitalocean-api-url', type: 'string', env: 'DIGITALOCEAN_API_URL', default: DEFAULT_API_URL, description: 'base URL of the DigitalOcean API'},
  {name: 'digitalocean-image', type: 'string', env: 'DIGITALOCEAN_IMAGE', default: DEFAULT_IMAGE, description: 'image slug of the droplet'},
  {name: 'digitalocean-region', type: 'string', env: 'DIGITALOCEAN_REGION', default: 'nyc3', description: 'region slug'},
  {name: 'digitalocean-size', type: 'string', env: 'DIGITALOCEAN_SIZE', default: 's-1vcpu-1gb', description: 'size slug'},
  {name: 'digitalocean-ipv6', type: 'boolean', env: 'DIGITALOCEAN_IPV6', default: false, description: 'enable IPv6'},
  {name: 'digitalocean-private-networking', type: 'boolean', env: 'DIGITALOCEAN_PRIVATE_NETWORKING', default: false, description: 'ask for private networking (every droplet in a VPC has a private address anyway)'},
  {name: 'digitalocean-vpc-uuid', type: 'string', env: 'DIGITALOCEAN_VPC_UUID', description: 'VPC to place the droplet in (default: the region\'s default VPC)'},
  {name: 'digitalocean-backups', type: 'boolean', env: 'DIGITALOCEAN_BACKUPS', default: false, description: 'enable backups'},
  {name: 'digitalocean-monitoring', type: 'boolean', env: 'DIGITALOCEAN_MONITORING', default: false, description: 'install the monitoring agent'},
  {name: 'digitalocean-userdata', type: 'string', env: 'DIGITALOCEAN_USERDATA', description: 'path of a file passed to the droplet as user data (cloud-init)'},
  {name: 'digitalocean-ssh-user', type: 'string', env: 'DIGITALOCEAN_SSH_USER', default: 'root', description: 'SSH user'},
  {name: 'digitalocean-ssh-port', type: 'integer', env: 'DIGITALOCEAN_SSH_PORT', default: 22, description: 'SSH port'},
  {name: 'digitalocean-ssh-key-fingerprint', type: 'string', env: 'DIGITALOCEAN_SSH_KEY_FINGERPRINT', description: 'reuse this key of the account instead of uploading a new one (needs --digitalocean-ssh-key-path)'},
  {name: 'digitalocean-ssh-key-path', type: 'string', env: 'DIGITALOCEAN_SSH_KEY_PATH', description: 'private key of the reused key (copied into the machine folder)'},
  {name: 'digitalocean-tags', type: 'string', env: 'DIGITALOCEAN_TAGS', description: 'comma-separated tags for the droplet'},
]

export interface DoOptions {
  token: string
  apiUrl: string
  image: string
  region: string
  size: string
  ipv6: boolean
  privateNetworking: boolean
  vpcUuid?: string
  backups: boolean
  monitoring: boolean
  userData?: string
  sshUser: string
  sshPort: number
  /** Reuse an account key instead of uploading one. */
  reuseKey?: {fingerprint: string; privateKeyPath: string}
  tags: string[]
}

const FINGERPRINT = /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TAG = /^[a-zA-Z0-9_:-]{1,255}$/

/** Typed, validated options; every problem is one InputError naming the flag and its env var. */
export function parseOptions(given: FlagValues, env: NodeJS.ProcessEnv = process.env): DoOptions {
  const v = resolveFlagValues(DO_FLAGS, given, env)
  const str = (name: string) => (v[`digitalocean-${name}`] as string | undefined) || undefined
  const bool = (name: string) => v[`digitalocean-${name}`] === true

  const token = str('access-token')
  if (!token) {
    throw new InputError('driver digitalocean needs an access token',
      'pass --digitalocean-access-token or set DIGITALOCEAN_ACCESS_TOKEN (create one at cloud.digitalocean.com/account/api/tokens)')
  }
  const apiUrl = str('api-url')!
  if (!/^https?:\/\/[^/]+/.test(apiUrl)) {
    throw new InputError(`--digitalocean-api-url "${apiUrl}" is not an http(s) URL`, `use e.g. ${DEFAULT_API_URL}`)
  }
  const sshPort = v['digitalocean-ssh-port'] as number
  if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535) {
    throw new InputError(`--digitalocean-ssh-port ${sshPort} is not a port`, 'use 1-65535 (DIGITALOCEAN_SSH_PORT)')
  }
  const vpcUuid = str('vpc-uuid')
  if (vpcUuid && !UUID.test(vpcUuid)) {
    throw new InputError(`--digitalocean-vpc-uuid "${vpcUuid}" is not a UUID`, 'copy the VPC\'s UUID from the control panel or `doctl vpcs list`')
  }
  const tags = (str('tags') ?? '').split(',').map(t => t.trim()).filter(Boolean)
  const badTag = tags.find(t => !TAG.test(t))
  if (badTag) {
    throw new InputError(`--digitalocean-tags: "${badTag}" is not a valid tag`, 'tags hold letters, digits, "_", ":" and "-" (up to 255)')
  }
  return {
    token, apiUrl,
    image: str('image')!, region: str('region')!, size: str('size')!,
    ipv6: bool('ipv6'), privateNetworking: bool('private-networking'), vpcUuid,
    backups: bool('backups'), monitoring: bool('monitoring'),
    userData: readUserData(str('userdata')),
    sshUser: str('ssh-user')!, sshPort,
    reuseKey: reusedKey(str('ssh-key-fingerprint'), str('ssh-key-path')),
    tags,
  }
}

function readUserData(path: string | undefined): string | undefined {
  if (!path) return undefined
  if (!existsSync(path)) throw new InputError(`user data file ${path} does not exist`, 'pass the path of a cloud-init file with --digitalocean-userdata')
  return readFileSync(path, 'utf8')
}

function reusedKey(fingerprint: string | undefined, privateKeyPath: string | undefined): DoOptions['reuseKey'] {
  if (!fingerprint && !privateKeyPath) return undefined
  if (!fingerprint) throw new InputError('--digitalocean-ssh-key-path needs --digitalocean-ssh-key-fingerprint', 'pass the fingerprint of that key in your account too')
  if (!FINGERPRINT.test(fingerprint)) {
    throw new InputError(`--digitalocean-ssh-key-fingerprint "${fingerprint}" is not an MD5 fingerprint`, 'use the form shown in the control panel, e.g. 3b:16:bf:…:2e (16 hex pairs)')
  }
  if (!privateKeyPath) throw new InputError('--digitalocean-ssh-key-fingerprint needs --digitalocean-ssh-key-path', 'pass the private key that belongs to the reused key')
  if (!existsSync(privateKeyPath)) throw new InputError(`SSH key ${privateKeyPath} does not exist`, 'pass the private key with --digitalocean-ssh-key-path')
  return {fingerprint, privateKeyPath}
}
