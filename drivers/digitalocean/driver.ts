/**
 * The digitalocean driver: a droplet with a key of its own. Create saves after every
 * resource, and tags each droplet with a marker unique to this machine, so `remove` finds
 * even a droplet whose create response never arrived (Ctrl-C, lost connection, a retried
 * POST that had in fact succeeded) and never leaves a paid droplet or an uploaded key behind.
 */
import {copyFileSync, chmodSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type {Addresses, Driver, DriverContext, DriverData, MachineState, SshTarget} from '../sdk/index.js'
import {DriverError, InputError, ensureKeyPair} from '../sdk/index.js'
import {DoApi, DoApiError, type RetryPolicy} from './api.js'
import {md5Fingerprint} from './ssh-key.js'
import type {DoOptions} from './options.js'
import type {Action, Droplet, DropletActionType, SshKey} from './types.js'

export interface DoData extends DriverData {
  apiUrl: string
  sshUser: string
  sshPort: number
  /** Tag carried by every droplet made for this machine. */
  marker: string
  /** Name of the key we upload; absent when an account key is reused. */
  keyName?: string
  keyId?: number
  keyFingerprint?: string
  /** Only a key we uploaded is deleted; a reused key belongs to the user. */
  keyUploaded?: boolean
  /** File name of the private key in the machine folder. */
  sshKeyFile: string
  dropletId?: number
  createActionId?: number
  publicIp?: string
  privateIp?: string
  /** Kept in the local store only (see splitDriverData). */
  secret?: {accessToken?: string}
}

export interface DoTuning {
  pollIntervalMs: number
  /** How long a droplet may take to become active, and an action to complete. */
  waitTimeoutMs: number
  retry?: Partial<RetryPolicy>
}

export const DEFAULT_TUNING: DoTuning = {pollIntervalMs: 3000, waitTimeoutMs: 10 * 60_000}

const STATES: Record<Droplet['status'], MachineState> = {new: 'Starting', active: 'Running', off: 'Stopped', archive: 'Stopped'}

export class DigitalOceanDriver implements Driver {
  readonly name = 'digitalocean'
  private client?: DoApi

  constructor(
    private readonly d: DoData,
    private readonly ctx: DriverContext,
    private readonly tuning: DoTuning,
    /** The create flags; only a driver made by fromFlags can create. */
    private readonly options?: DoOptions,
  ) {}

  data(): DriverData {
    return {...this.d}
  }

  async preCreateCheck(): Promise<void> {
    const o = this.createOptions()
    const api = this.api()
    const {signal} = this.ctx
    const account = await api.getAccount(signal)
    if (account.status === 'locked') {
      throw new DriverError(`the DigitalOcean account ${account.email} is locked`, {hint: 'resolve it in the control panel, then retry'})
    }
    const [regions, sizes] = await Promise.all([api.listRegions(signal), api.listSizes(signal)])
    const open = regions.filter(r => r.available)
    const region = open.find(r => r.slug === o.region)
    if (!region) {
      throw new InputError(`unknown or unavailable DigitalOcean region "${o.region}"`,
        `use one of: ${slugs(open)} (--digitalocean-region / DIGITALOCEAN_REGION)`)
    }
    const inRegion = sizes.filter(s => s.available && region.sizes.includes(s.slug))
    if (!inRegion.some(s => s.slug === o.size)) {
      throw new InputError(`unknown DigitalOcean size "${o.size}" for region ${region.slug}`,
        `use one of: ${slugs(inRegion)} (--digitalocean-size / DIGITALOCEAN_SIZE)`)
    }
    if (o.reuseKey && !(await api.getKey(o.reuseKey.fingerprint, signal))) {
      throw new InputError(`the DigitalOcean account has no SSH key with fingerprint ${o.reuseKey.fingerprint}`,
        'check --digitalocean-ssh-key-fingerprint, or leave it out to upload a new key')
    }
  }

  async create(): Promise<void> {
    const o = this.createOptions()
    const {signal} = this.ctx
    const key = await this.provideKey(o)
    signal.throwIfAborted()

    this.ctx.progress(`Creating droplet ${this.ctx.machineName} (${o.size} in ${o.region}, ${o.image})`)
    const {droplet, actionId} = await this.api().createDroplet({
      name: this.ctx.machineName, region: o.region, size: o.size, image: o.image, ssh_keys: [key.id],
      backups: o.backups, ipv6: o.ipv6, monitoring: o.monitoring, private_networking: o.privateNetworking || undefined,
      vpc_uuid: o.vpcUuid, user_data: o.userData, tags: [...o.tags, this.d.marker],
    }, signal)
    Object.assign(this.d, {dropletId: droplet.id, createActionId: actionId})
    await this.ctx.save(this.data())
    await this.removeStrayDroplets(droplet.id)

    const active = await this.waitUntilActive(droplet.id, actionId)
    this.d.publicIp = active.networks.v4.find(n => n.type === 'public')?.ip_address
    this.d.privateIp = active.networks.v4.find(n => n.type === 'private')?.ip_address
    if (!this.d.publicIp) {
      throw new DriverError(`droplet ${droplet.id} is active but has no public IPv4 address`, {hint: 'check the droplet in the control panel'})
    }
    await this.ctx.save(this.data())
  }

  /** Deletes every droplet of this machine, then the key it uploaded. Anything already gone is success. */
  async remove(): Promise<void> {
    // No marker: create never started (bad flags, failed checks), so nothing can exist.
    if (!this.d.marker) return
    const api = this.api()
    const droplets = new Set((await api.listDroplets(this.d.marker)).map(d => d.id))
    if (this.d.dropletId) droplets.add(this.d.dropletId)
    for (const id of droplets) {
      this.ctx.progress(`Deleting droplet ${id}`)
      await api.deleteDroplet(id)
    }
    for (const key of await this.uploadedKeys()) {
      this.ctx.progress(`Deleting SSH key ${key.name} (${key.fingerprint})`)
      await api.deleteKey(key.id)
    }
  }

  async state(): Promise<MachineState> {
    if (!this.d.dropletId) return 'NotFound'
    const droplet = await this.api().getDroplet(this.d.dropletId)
    return droplet ? STATES[droplet.status] ?? 'Unknown' : 'NotFound'
  }

  start(): Promise<void> { return this.power('power_on', 'Running') }
  stop(): Promise<void> { return this.power('shutdown', 'Stopped') }
  kill(): Promise<void> { return this.power('power_off', 'Stopped') }
  restart(): Promise<void> { return this.power('reboot') }

  async addresses(): Promise<Addresses> {
    if (!this.d.publicIp) {
      const droplet = this.d.dropletId ? await this.api().getDroplet(this.d.dropletId) : undefined
      this.d.publicIp = droplet?.networks.v4.find(n => n.type === 'public')?.ip_address
      this.d.privateIp = droplet?.networks.v4.find(n => n.type === 'private')?.ip_address
    }
    if (!this.d.publicIp) {
      throw new DriverError(`machine ${this.ctx.machineName} has no droplet address yet`, {hint: 'check `cluster ls`; remove it with `cluster rm` if its create failed'})
    }
    return {public: this.d.publicIp, private: this.d.privateIp}
  }

  ssh(): SshTarget {
    return {
      host: this.d.publicIp ?? '',
      port: this.d.sshPort,
      user: this.d.sshUser,
      privateKeyPath: join(this.ctx.machineDir, this.d.sshKeyFile),
    }
  }

  /** The key the droplet trusts: a reused account key, or a fresh one uploaded (and saved) now. */
  private async provideKey(o: DoOptions): Promise<SshKey> {
    const api = this.api()
    const {signal} = this.ctx
    if (o.reuseKey) {
      const dest = join(this.ctx.machineDir, this.d.sshKeyFile)
      copyFileSync(o.reuseKey.privateKeyPath, dest)
      chmodSync(dest, 0o600)
      const key = await api.getKey(o.reuseKey.fingerprint, signal)
      if (!key) throw new InputError(`the DigitalOcean account has no SSH key with fingerprint ${o.reuseKey.fingerprint}`, 'check --digitalocean-ssh-key-fingerprint')
      Object.assign(this.d, {keyId: key.id, keyFingerprint: key.fingerprint, keyUploaded: false})
      await this.ctx.save(this.data())
      return key
    }
    this.ctx.progress('Creating SSH key')
    const pair = await ensureKeyPair(this.ctx.machineDir, `cluster-${this.ctx.machineName}`)
    // Saved before the upload: if we die mid-request, remove() still finds the key by name.
    await this.ctx.save(this.data())
    this.ctx.progress(`Uploading SSH key ${this.d.keyName}`)
    const key = await api.createKey(this.d.keyName!, pair.publicKey, signal).catch(async error => {
      // A retried upload whose first attempt had succeeded: the key is already ours.
      if (!(error instanceof DoApiError && error.status === 422)) throw error
      const existing = await api.getKey(md5Fingerprint(pair.publicKey), signal)
      if (!existing || existing.name !== this.d.keyName) throw error
      return existing
    })
    Object.assign(this.d, {keyId: key.id, keyFingerprint: key.fingerprint, keyUploaded: true})
    await this.ctx.save(this.data())
    return key
  }

  /** Keys of this machine to delete: the recorded one, or (if the upload's answer was lost) those with our name. */
  private async uploadedKeys(): Promise<Pick<SshKey, 'id' | 'name' | 'fingerprint'>[]> {
    if (!this.d.keyName) return []
    if (this.d.keyUploaded && this.d.keyId) {
      return [{id: this.d.keyId, name: this.d.keyName, fingerprint: this.d.keyFingerprint ?? 'fingerprint unknown'}]
    }
    return (await this.api().listKeys()).filter(k => k.name === this.d.keyName)
  }

  /** Droplets of a retried create POST whose first attempt had succeeded: nobody will ever use them. */
  private async removeStrayDroplets(keep: number): Promise<void> {
    for (const stray of await this.api().listDroplets(this.d.marker, this.ctx.signal)) {
      if (stray.id === keep) continue
      this.ctx.progress(`Deleting duplicate droplet ${stray.id}`)
      await this.api().deleteDroplet(stray.id)
    }
  }

  /** Polls the droplet until active; its create action tells early when DigitalOcean gave up. */
  private async waitUntilActive(id: number, actionId?: number): Promise<Droplet> {
    const started = Date.now()
    for (;;) {
      const droplet = await this.api().getDroplet(id, this.ctx.signal)
      if (!droplet) throw new DriverError(`droplet ${id} disappeared while it was being created`, {hint: 'it was deleted elsewhere; run the create again'})
      if (droplet.status === 'active') return droplet
      if (actionId && (await this.api().getAction(actionId, this.ctx.signal)).status === 'errored') {
        throw new DriverError(`DigitalOcean could not create droplet ${id} (its create action errored)`,
          {hint: 'retry, or pick another region or size'})
      }
      const seconds = Math.round((Date.now() - started) / 1000)
      if (Date.now() - started > this.tuning.waitTimeoutMs) {
        throw new DriverError(`droplet ${id} was not active after ${seconds} s (status ${droplet.status})`,
          {hint: 'DigitalOcean may be slow in this region: retry, or pick another with --digitalocean-region'})
      }
      this.ctx.progress(`Waiting for droplet ${id} to become active (${droplet.status}, ${seconds} s)`)
      await sleep(this.tuning.pollIntervalMs, undefined, {signal: this.ctx.signal})
    }
  }

  private async power(type: DropletActionType, target?: MachineState): Promise<void> {
    const id = this.d.dropletId
    if (!id) throw new DriverError(`machine ${this.ctx.machineName} has no droplet`, {hint: 'its create did not finish; remove it with `cluster rm`'})
    if (target && (await this.state()) === target) return
    this.ctx.progress(`Droplet ${id}: ${type}`)
    await this.waitForAction(await this.api().dropletAction(id, type, this.ctx.signal))
  }

  private async waitForAction(action: Action): Promise<void> {
    const started = Date.now()
    while (action.status === 'in-progress') {
      if (Date.now() - started > this.tuning.waitTimeoutMs) {
        throw new DriverError(`DigitalOcean action ${action.type} (${action.id}) did not complete in ${Math.round(this.tuning.waitTimeoutMs / 1000)} s`,
          {hint: 'check the droplet in the control panel'})
      }
      await sleep(this.tuning.pollIntervalMs, undefined, {signal: this.ctx.signal})
      action = await this.api().getAction(action.id, this.ctx.signal)
    }
    if (action.status === 'errored') {
      throw new DriverError(`DigitalOcean action ${action.type} on droplet ${action.resource_id} failed`, {hint: 'retry, or check the droplet in the control panel'})
    }
  }

  private createOptions(): DoOptions {
    if (!this.options) throw new DriverError('this digitalocean machine was loaded from its record and cannot be created again')
    return this.options
  }

  private api(): DoApi {
    if (this.client) return this.client
    const token = this.d.secret?.accessToken || process.env.DIGITALOCEAN_ACCESS_TOKEN
    if (!token) {
      throw new InputError(`no DigitalOcean access token for machine ${this.ctx.machineName}`,
        'set DIGITALOCEAN_ACCESS_TOKEN (this computer does not hold the token it was created with)')
    }
    this.client = new DoApi({
      token, baseUrl: this.d.apiUrl, retry: this.tuning.retry,
      onRetry: (reason, ms) => this.ctx.progress(`DigitalOcean API: ${reason}; retrying in ${(ms / 1000).toFixed(1)} s`),
    })
    return this.client
  }
}

function slugs(items: {slug: string}[]): string {
  return items.map(i => i.slug).sort().join(', ')
}
