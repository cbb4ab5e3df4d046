/**
 * The shapes of DigitalOcean API v2 requests and responses this project uses (a subset of
 * the public OpenAPI description). Shared by the client and by the test simulator, so both
 * speak exactly the same JSON.
 */

/** Every error response body. */
export interface ApiErrorBody {
  id: string
  message: string
  request_id?: string
}

export interface Links {
  pages?: {first?: string; prev?: string; next?: string; last?: string}
  actions?: {id: number; rel: string; href: string}[]
}

export interface Meta {
  total: number
}

export interface Account {
  uuid: string
  email: string
  status: 'active' | 'warning' | 'locked'
  droplet_limit: number
}

export interface SshKey {
  id: number
  fingerprint: string
  public_key: string
  name: string
}

export interface Region {
  slug: string
  name: string
  sizes: string[]
  available: boolean
  features: string[]
}

export interface Size {
  slug: string
  memory: number
  vcpus: number
  disk: number
  price_monthly: number
  regions: string[]
  available: boolean
}

export type DropletStatus = 'new' | 'active' | 'off' | 'archive'

export interface NetworkV4 {
  ip_address: string
  netmask: string
  gateway: string
  type: 'public' | 'private'
}

export interface NetworkV6 {
  ip_address: string
  netmask: number
  gateway: string
  type: 'public'
}

export interface Droplet {
  id: number
  name: string
  memory: number
  vcpus: number
  disk: number
  locked: boolean
  status: DropletStatus
  created_at: string
  features: string[]
  image: {slug?: string; id?: number; name?: string}
  size_slug: string
  region: {slug: string; name: string}
  networks: {v4: NetworkV4[]; v6: NetworkV6[]}
  tags: string[]
  vpc_uuid?: string
}

export interface CreateDropletRequest {
  name: string
  region: string
  size: string
  image: string
  ssh_keys?: (number | string)[]
  backups?: boolean
  ipv6?: boolean
  monitoring?: boolean
  tags?: string[]
  user_data?: string
  vpc_uuid?: string
  /** Deprecated by DigitalOcean (every droplet in a VPC has a private address) but still accepted. */
  private_networking?: boolean
}

export type DropletActionType = 'power_on' | 'shutdown' | 'reboot' | 'power_off'

export interface Action {
  id: number
  status: 'in-progress' | 'completed' | 'errored'
  type: string
  started_at: string
  completed_at: string | null
  resource_id: number
  resource_type: 'droplet'
  region_slug: string
}
