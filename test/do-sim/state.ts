/**
 * The simulator's account: keys, droplets and actions, validated like the public API
 * validates them, with each droplet backed by a machine from a HostBackend.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {randomUUID} from 'node:crypto'
import type {Account, Action, Droplet, DropletActionType, NetworkV4, Region, Size, SshKey} from '../../drivers/digitalocean/types.js'
import {md5Fingerprint} from '../../drivers/digitalocean/ssh-key.js'
import * as catalog from './catalog.js'
import type {HostAddresses, HostBackend, HostSpec} from './backend.js'

export type Step =
  | 'account.get' | 'regions.list' | 'sizes.list'
  | 'keys.list' | 'keys.get' | 'keys.create' | 'keys.delete'
  | 'droplets.list' | 'droplets.get' | 'droplets.create' | 'droplets.delete' | 'droplets.action'
  | 'actions.get'

/** A request the API refuses: becomes an error body with this status and id. */
export class SimInputError extends Error {
  constructor(readonly status: number, readonly id: string, message: string) {
    super(message)
  }
}

const DROPLET_LIMIT = 25
const POWER_ACTIONS: DropletActionType[] = ['power_on', 'shutdown', 'reboot', 'power_off']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$/
const TAG = /^[a-zA-Z0-9_:-]{1,255}$/

interface Entry {
  droplet: Droplet
  spec: HostSpec
  ipv6: boolean
  activation: Promise<void>
  /** The power action being carried out, at most one at a time like the real API. */
  busy?: Promise<void>
  deletion?: Promise<void>
}

export interface StateTiming {
  readyPollMs: number
  readyTimeoutMs: number
}

export class SimState {
  /** Behaviour of droplets created while set: never turn active, or fail once their machine exists. */
  faults = {neverActive: false, failActivation: false}
  private ids = {key: 41000, droplet: 3_000_000, action: 9_000_000}
  private readonly keyMap = new Map<number, SshKey>()
  private readonly entries = new Map<number, Entry>()
  private readonly actionMap = new Map<number, Action>()
  private readonly accountUuid = randomUUID()

  constructor(private readonly backend: HostBackend, private readonly timing: StateTiming) {}

  account(): Account {
    return {uuid: this.accountUuid, email: 'sim@example.com', status: 'active', droplet_limit: DROPLET_LIMIT}
  }

  regions(): Region[] {
    return catalog.regions()
  }

  sizes(): Size[] {
    return catalog.sizes()
  }

  keys(): SshKey[] {
    return [...this.keyMap.values()]
  }

  key(idOrFingerprint: string): SshKey | undefined {
    return /^\d+$/.test(idOrFingerprint)
      ? this.keyMap.get(Number(idOrFingerprint))
      : this.keys().find(k => k.fingerprint === idOrFingerprint)
  }

  createKey(body: Record<string, unknown>): SshKey {
    const {name, public_key: publicKey} = body
    if (typeof name !== 'string' || !name) throw invalid('Name is required')
    if (typeof publicKey !== 'string') throw invalid('Public key is required')
    let fingerprint: string
    try {
      fingerprint = md5Fingerprint(publicKey)
    } catch {
      throw invalid('Key invalid, key should be of the format `type key [comment]`')
    }
    if (this.keys().some(k => k.fingerprint === fingerprint)) throw invalid('SSH Key is already in use on your account')
    const key: SshKey = {id: ++this.ids.key, fingerprint, public_key: publicKey.trim(), name}
    this.keyMap.set(key.id, key)
    return key
  }

  deleteKey(idOrFingerprint: string): boolean {
    const key = this.key(idOrFingerprint)
    return key !== undefined && this.keyMap.delete(key.id)
  }

  droplets(tag?: string): Droplet[] {
    const all = [...this.entries.values()].map(e => e.droplet)
    return tag ? all.filter(d => d.tags.includes(tag)) : all
  }

  droplet(id: number): Droplet | undefined {
    return this.entries.get(id)?.droplet
  }

  action(id: number): Action | undefined {
    return this.actionMap.get(id)
  }

  createDroplet(body: Record<string, unknown>): {droplet: Droplet; action: Action} {
    const req = this.validateDroplet(body)
    const id = ++this.ids.droplet
    const size = catalog.sizes().find(s => s.slug === req.size)!
    const region = catalog.regions().find(r => r.slug === req.region)!
    const features = (['backups', 'ipv6', 'monitoring'] as const).filter(f => body[f] === true) as string[]
    if (body.private_networking === true) features.push('private_networking')
    const droplet: Droplet = {
      id, name: req.name, memory: size.memory, vcpus: size.vcpus, disk: size.disk, locked: false, status: 'new',
      created_at: new Date().toISOString(), features,
      image: {slug: req.image, name: req.image}, size_slug: size.slug, region: {slug: region.slug, name: region.name},
      networks: {v4: [], v6: []}, tags: req.tags, vpc_uuid: req.vpcUuid,
    }
    const spec: HostSpec = {
      dropletId: id, name: req.name, image: req.image, authorizedKeys: req.keys.map(k => k.public_key),
      userData: req.userData,
    }
    const action = this.newAction(id, 'create', region.slug)
    const entry: Entry = {droplet, spec, ipv6: body.ipv6 === true, activation: Promise.resolve()}
    this.entries.set(id, entry)
    entry.activation = this.activate(entry, action, {...this.faults})
    // The answer shows the droplet as it is now (new), not as it will be when serialized.
    return structuredClone({droplet, action})
  }

  dropletAction(id: number, body: Record<string, unknown>): Action | undefined {
    const entry = this.entries.get(id)
    if (!entry || entry.deletion) return undefined
    const type = body.type as DropletActionType
    if (!POWER_ACTIONS.includes(type)) throw invalid(`Action type '${String(body.type)}' is not supported by this simulator`)
    if (entry.busy || entry.droplet.status === 'new') throw invalid('Droplet already has a pending event.')
    const action = this.newAction(id, type, entry.droplet.region.slug)
    entry.busy = this.backend.power(id, type).then(
      () => {
        entry.droplet.status = type === 'power_on' || type === 'reboot' ? 'active' : 'off'
        finish(action, 'completed')
      },
      error => {
        console.error(`do-sim: ${type} of droplet ${id} failed: ${String(error)}`)
        finish(action, 'errored')
      },
    ).finally(() => {
      entry.busy = undefined
    })
    return action
  }

  /** Deletes a droplet and waits until its machine is gone; false when there was no such droplet. */
  async deleteDroplet(id: number): Promise<boolean> {
    const entry = this.entries.get(id)
    if (!entry) return false
    entry.deletion ??= (async () => {
      await entry.activation
      await entry.busy
      await this.backend.destroy(id)
      this.entries.delete(id)
    })()
    await entry.deletion
    return true
  }

  async destroyAll(): Promise<void> {
    await Promise.all([...this.entries.keys()].map(id => this.deleteDroplet(id)))
  }

  /** Starts the machine, then polls it until it answers: the droplet turns active with its addresses. */
  private async activate(entry: Entry, action: Action, faults: SimState['faults']): Promise<void> {
    const id = entry.droplet.id
    try {
      const addresses = await this.backend.create(entry.spec)
      if (faults.failActivation) return finish(action, 'errored')
      const deadline = Date.now() + this.timing.readyTimeoutMs
      while (!entry.deletion && Date.now() < deadline) {
        await sleep(this.timing.readyPollMs)
        if (!faults.neverActive && !entry.deletion && await this.backend.ready(id)) {
          entry.droplet.networks = networks(addresses, entry.ipv6, id)
          entry.droplet.status = 'active'
          finish(action, 'completed')
          return
        }
      }
    } catch (error) {
      console.error(`do-sim: creating droplet ${id} failed: ${String(error)}`)
    }
    finish(action, 'errored')
  }

  private validateDroplet(body: Record<string, unknown>) {
    const {name, region, size, image} = body
    if (typeof name !== 'string' || !HOSTNAME.test(name)) {
      throw invalid('Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)')
    }
    if (!catalog.regions().some(r => r.slug === region && r.available)) throw invalid('You specified an invalid region for Droplet creation.')
    if (!catalog.sizes().some(s => s.slug === size)) throw invalid('You specified an invalid size for Droplet creation.')
    if (typeof image !== 'string' || !catalog.IMAGES.has(image)) throw invalid('You specified an invalid image for Droplet creation.')
    const keys = ((body.ssh_keys ?? []) as unknown[]).map(k => {
      const key = this.key(String(k))
      if (!key) throw invalid(`You specified an invalid SSH key (${String(k)}) for Droplet creation.`)
      return key
    })
    const tags = (body.tags ?? []) as unknown[]
    if (!tags.every(t => typeof t === 'string' && TAG.test(t))) {
      throw invalid('Tags may contain letters, numbers, colons, dashes, and underscores, up to 255 characters.')
    }
    if (body.vpc_uuid !== undefined && (typeof body.vpc_uuid !== 'string' || !UUID.test(body.vpc_uuid))) {
      throw invalid('vpc_uuid is not a valid UUID.')
    }
    if (body.user_data !== undefined && typeof body.user_data !== 'string') throw invalid('user_data must be a string.')
    if (this.entries.size >= DROPLET_LIMIT) throw invalid('creating this/these droplet(s) will exceed your droplet limit')
    return {
      name, region: region as string, size: size as string, image, keys, tags: tags as string[],
      userData: body.user_data as string | undefined,
      vpcUuid: (body.vpc_uuid as string | undefined) ?? defaultVpc(region as string),
    }
  }

  private newAction(dropletId: number, type: string, region: string): Action {
    const action: Action = {
      id: ++this.ids.action, status: 'in-progress', type, started_at: new Date().toISOString(), completed_at: null,
      resource_id: dropletId, resource_type: 'droplet', region_slug: region,
    }
    this.actionMap.set(action.id, action)
    return action
  }
}

function finish(action: Action, status: 'completed' | 'errored'): void {
  action.status = status
  action.completed_at = new Date().toISOString()
}

function invalid(message: string): SimInputError {
  return new SimInputError(422, 'unprocessable_entity', message)
}

/** Each region's default VPC, stable for a given region like the real one. */
function defaultVpc(region: string): string {
  const hex = Buffer.from(region.padEnd(16, '0')).toString('hex').slice(0, 32)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

function networks(addresses: HostAddresses, ipv6: boolean, id: number): Droplet['networks'] {
  const v4 = (ip: string, type: NetworkV4['type']): NetworkV4 =>
    ({ip_address: ip, netmask: '255.255.255.0', gateway: ip.replace(/\.\d+$/, '.1'), type})
  return {
    v4: [v4(addresses.public, 'public'), ...(addresses.private ? [v4(addresses.private, 'private')] : [])],
    // A documentation-range address (RFC 3849): reported, never routed.
    v6: ipv6 ? [{ip_address: `2001:db8::${id.toString(16)}`, netmask: 64, gateway: '2001:db8::1', type: 'public'}] : [],
  }
}
